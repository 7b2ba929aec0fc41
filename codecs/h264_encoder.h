// A low-latency H.264 encoder for live screens (the RDP graphics pipeline's
// AVC420 towards the client): libx264 through libavcodec at a fast preset,
// zero latency (each frame in gives its access unit out at once), one
// constant QP, Annex-B output with SPS/PPS in-band before every IDR.
// Colours are converted as MS-RDPEGFX's clients convert them back (BT.709
// full range, the formulas of FreeRDP's YUV primitives).
// Thread-compatible: one thread at a time (the connection's GFX sender).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/frame.h"
#include "core/status.h"

namespace vigil::codecs {

class H264Encoder {
 public:
  struct Options {
    std::string preset = "superfast";  // x264 preset; docs/BENCHMARKS.md has the measured choice
    int qp = 22;                       // constant quantiser for every frame
    int threads = 1;                   // x264 slice threads (one picture, N slices)
  };

  // Whether this FFmpeg build has libx264 (no encoder: no AVC420 to offer).
  static bool available();
  // An encoder for `width` x `height` frames (both even, at most 8192:
  // x264's 4:2:0 needs even sizes, and RDP surfaces are 16-bit).
  static Result<std::unique_ptr<H264Encoder>> open(int width, int height, const Options& opts);
  ~H264Encoder();
  H264Encoder(const H264Encoder&) = delete;
  H264Encoder& operator=(const H264Encoder&) = delete;

  // Encodes `fb` (the opened size, BGRX) as exactly one access unit, an
  // IDR with SPS/PPS for the first frame and whenever `idr` is set. The
  // returned bytes stay valid until the next call.
  Result<const std::vector<std::uint8_t>*> encode(const Frame& fb, bool idr);
  // Whether the last encode() gave an IDR.
  bool lastWasIdr() const { return last_idr_; }
  int width() const;
  int height() const;

 private:
  struct Impl;
  explicit H264Encoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::uint8_t> out_;
  bool last_idr_ = false;
};

}  // namespace vigil::codecs
