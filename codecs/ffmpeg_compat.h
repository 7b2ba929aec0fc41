// FFmpeg version differences, in one place (Debian 12 ships FFmpeg 5.1;
// newer releases changed a few signatures and frame flags). Internal: only
// codecs/*.cc include this.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
}

namespace vigil::codecs::compat {

// avio_alloc_context's write callback takes a const buffer since lavf 61 (FFmpeg 7).
#if LIBAVFORMAT_VERSION_MAJOR >= 61
using AvioWriteBuffer = const uint8_t*;
#else
using AvioWriteBuffer = uint8_t*;
#endif

// AVFrame.key_frame was replaced by AV_FRAME_FLAG_KEY in lavu 58.
inline bool frameIsKey(const AVFrame* f) {
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
  return (f->flags & AV_FRAME_FLAG_KEY) != 0;
#else
  return f->key_frame != 0;
#endif
}

// Asks the encoder for an IDR frame (libx264 honours pict_type I with forced-idr).
inline void requestKeyframe(AVFrame* f, bool key) {
  f->pict_type = key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(58, 7, 100)
  if (key) f->flags |= AV_FRAME_FLAG_KEY; else f->flags &= ~AV_FRAME_FLAG_KEY;
#else
  f->key_frame = key ? 1 : 0;
#endif
}

// Packet duration is int64_t everywhere we support; AVStream codec timing moved
// around between releases, so durations are always taken from packets.
inline int64_t packetDuration(const AVPacket* p) { return p->duration; }

}  // namespace vigil::codecs::compat
