// Owners for FFmpeg handles and the one helper that turns AVERROR codes into
// text. Internal to codecs/: FFmpeg types stay out of the public headers.
#pragma once

#include <memory>
#include <string>

#include "codecs/ffmpeg_compat.h"
#include "core/status.h"

extern "C" {
#include <libswscale/swscale.h>
}

namespace vigil::codecs {

// For FFmpeg's free functions that take T** and null the pointer.
template <auto Fn>
struct FreeByAddress {
  template <class T>
  void operator()(T* p) const { Fn(&p); }
};
template <auto Fn>
struct FreeByValue {
  template <class T>
  void operator()(T* p) const { Fn(p); }
};

using AvFramePtr = std::unique_ptr<AVFrame, FreeByAddress<av_frame_free>>;
using AvPacketPtr = std::unique_ptr<AVPacket, FreeByAddress<av_packet_free>>;
using AvCodecCtxPtr = std::unique_ptr<AVCodecContext, FreeByAddress<avcodec_free_context>>;
using SwsContextPtr = std::unique_ptr<SwsContext, FreeByValue<sws_freeContext>>;
// A demuxer context opened with avformat_open_input.
using AvInputCtxPtr = std::unique_ptr<AVFormatContext, FreeByAddress<avformat_close_input>>;
// A muxer context before/without a header: just memory. Once a header is
// written, a class that knows to write the trailer owns it (Fmp4Muxer, exporter).
using AvOutputCtxPtr = std::unique_ptr<AVFormatContext, FreeByValue<avformat_free_context>>;

// "Invalid data found when processing input (AVERROR -1094995529)".
std::string avErrorText(int err);
// Status::Error("<what>: <avErrorText(err)>").
Status avError(const std::string& what, int err);

}  // namespace vigil::codecs
