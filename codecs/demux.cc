#include "codecs/demux.h"

#include <spdlog/spdlog.h>

namespace vigil::codecs {

Result<InputVideo> openInputVideo(const std::string& path) {
  AVFormatContext* raw = nullptr;
  if (int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); err < 0)
    return avError("cannot open recording " + path, err);
  InputVideo in;
  in.ctx.reset(raw);
  in.stream = av_find_best_stream(in.ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (in.stream < 0) return Status::Error("recording " + path + " holds no video stream");
  return in;
}

int readVideoPacket(InputVideo& in, AVPacket* pkt) {
  while (true) {
    const int r = av_read_frame(in.ctx.get(), pkt);
    if (r == AVERROR_EOF) return r;
    if (r < 0) {
      spdlog::debug("event=recording_read_stopped error=\"{}\"", avErrorText(r));
      return AVERROR_EOF;
    }
    if (pkt->stream_index != in.stream) {
      av_packet_unref(pkt);
      continue;
    }
    if (pkt->flags & AV_PKT_FLAG_CORRUPT) {
      av_packet_unref(pkt);
      return AVERROR_EOF;
    }
    return 0;
  }
}

}  // namespace vigil::codecs
