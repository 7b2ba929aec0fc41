#include "codecs/ffmpeg_owners.h"

namespace vigil::codecs {

std::string avErrorText(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  if (av_strerror(err, buf, sizeof buf) < 0) return "FFmpeg error " + std::to_string(err);
  return std::string(buf) + " (AVERROR " + std::to_string(err) + ")";
}

Status avError(const std::string& what, int err) {
  return Status::Error(what + ": " + avErrorText(err));
}

}  // namespace vigil::codecs
