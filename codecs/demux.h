// Reading the video stream of a recording, tolerant of a crash-cut tail.
// Internal to codecs/ (FFmpeg types).
#pragma once

#include <string>

#include "codecs/ffmpeg_owners.h"
#include "core/status.h"

namespace vigil::codecs {

struct InputVideo {
  AvInputCtxPtr ctx;
  int stream = -1;
  AVStream* st() const { return ctx->streams[stream]; }
};

Result<InputVideo> openInputVideo(const std::string& path);

// Next complete packet of the video stream. Returns 0, or AVERROR_EOF at the
// end, including where a crash cut the file (a short or unreadable sample
// ends the stream: what follows it is the partial last fragment).
int readVideoPacket(InputVideo& in, AVPacket* pkt);

}  // namespace vigil::codecs
