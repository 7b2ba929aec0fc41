// AVC420 encoding cost per frame: Vigil's H.264 encoder (codecs::H264Encoder,
// libx264 superfast and veryfast, zero latency, QP 22) against FreeRDP 2's
// avc420_compress (what the gateway used before: libx264 preset medium
// through FreeRDP's libavcodec path, same QP), on the same frames in one run.
// Frames: a 1280x800 screen with a 170x50 terminal printing one numbered
// sentence per line (glyph-like cells) that scrolls 3 lines a frame (gfx_bench's xterm at ~50 lines/s, ~17 frames/s),
// each encoded whole, as the gateway does. Per frame: wall time, process CPU
// time (all encoder threads), bytes, and PSNR of what a client shows
// (libavcodec's decoder, then MS-RDPEGFX's BT.709 full-range YUV->RGB).
// Rounds alternate the encoders, so a busy machine slows each alike.
//
// Usage: avc420_encode_bench [--frames N] [--rounds R] [--out FILE.json]
//        (defaults 100 3)
#include <freerdp/codec/color.h>
#include <freerdp/codec/h264.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "codecs/ffmpeg_owners.h"
#include "codecs/h264_encoder.h"
#include "core/frame.h"

namespace {

using vigil::Frame;
constexpr int kW = 1280, kH = 800, kCellW = 7, kCellH = 16, kCols = 170, kRows = 50, kLinesPerFrame = 3;
constexpr int kQp = 22;

// The screen after `lines` lines have scrolled: gfx_bench's xterm (black
// on white, 170x50 cells of 7x16 px) printing the same numbered sentence on
// each line; each character a fixed glyph-like pattern of strokes.
std::string textLine(int n) {
  const std::string i = std::to_string(n);
  return i + " the quick brown fox jumps over the lazy dog " + i + " 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ " + i;
}

Frame screen(int lines) {
  Frame f(kW, kH);
  for (int y = 0; y < kH; ++y) {
    std::uint8_t* p = f.row(y);
    const int row = y / kCellH, in_line = y % kCellH;
    const std::string text = textLine(row + lines);
    for (int x = 0; x < kW; ++x, p += 4) {
      const int cell = x / kCellW, in_cell = x % kCellW;
      const bool in_term = cell < kCols && row < kRows;
      const char ch = static_cast<std::size_t>(cell) < text.size() ? text[static_cast<std::size_t>(cell)] : ' ';
      const unsigned h = static_cast<unsigned>(static_cast<unsigned char>(ch)) * 2654435761u;
      const bool ink = in_term && ch != ' ' && in_line >= 3 && in_line <= 12 && in_cell >= 1 && in_cell <= 5 &&
                       (((h >> (in_cell * 3 + in_line % 4)) & 3u) == 0 ||
                        in_cell == 1 + static_cast<int>((h >> 8) % 5));
      std::uint8_t b = ink ? 20 : 255, g = ink ? 20 : 255, r = ink ? 20 : 255;
      if (!in_term) b = 90, g = 70, r = 60;
      p[0] = b;
      p[1] = g;
      p[2] = r;
      p[3] = 0;
    }
  }
  return f;
}

std::uint8_t clip(int v) { return static_cast<std::uint8_t>(std::clamp(v, 0, 255)); }

class ClientDecoder {
 public:
  ClientDecoder() {
    const AVCodec* c = avcodec_find_decoder(AV_CODEC_ID_H264);
    ctx_.reset(avcodec_alloc_context3(c));
    ctx_->thread_count = 1;
    if (avcodec_open2(ctx_.get(), c, nullptr) < 0) std::abort();
    frame_.reset(av_frame_alloc());
    pkt_.reset(av_packet_alloc());
  }
  // PSNR of the decoded picture against `ref`; -1 when no picture came out.
  double psnr(const std::uint8_t* data, int size, const Frame& ref) {
    pkt_->data = const_cast<std::uint8_t*>(data);
    pkt_->size = size;
    if (avcodec_send_packet(ctx_.get(), pkt_.get()) < 0) return -1;
    if (avcodec_receive_frame(ctx_.get(), frame_.get()) < 0) return -1;
    const AVFrame* y = frame_.get();
    double se = 0;
    for (int row = 0; row < kH; ++row) {
      const std::uint8_t* p = ref.row(row);
      for (int x = 0; x < kW; ++x, p += 4) {
        const int Y = y->data[0][row * y->linesize[0] + x];
        const int U = y->data[1][(row / 2) * y->linesize[1] + x / 2] - 128;
        const int V = y->data[2][(row / 2) * y->linesize[2] + x / 2] - 128;
        const int rgb[3] = {clip((256 * Y + 475 * U) >> 8), clip((256 * Y - 48 * U - 120 * V) >> 8),
                            clip((256 * Y + 403 * V) >> 8)};
        for (int c = 0; c < 3; ++c) se += double(rgb[c] - p[c]) * double(rgb[c] - p[c]);
      }
    }
    av_frame_unref(frame_.get());
    const double mse = se / (double(kW) * kH * 3);
    return mse == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / mse);
  }

 private:
  vigil::codecs::AvCodecCtxPtr ctx_;
  vigil::codecs::AvFramePtr frame_;
  vigil::codecs::AvPacketPtr pkt_;
};

double cpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

struct Run {
  std::string encoder;
  int round = 0;
  std::vector<double> wall_ms, cpu_ms, psnr_db;
  std::vector<std::size_t> bytes;
};

// One encoder: encodes `frame` and returns its bytes (nullptr on failure).
using Encode = std::function<const std::uint8_t*(const Frame& frame, std::size_t* size)>;

Run measure(const std::string& name, int round, int frames, const std::vector<Frame>& screens, Encode encode) {
  Run r;
  r.encoder = name;
  r.round = round;
  ClientDecoder dec;
  for (int i = 0; i < frames; ++i) {
    const Frame& f = screens[static_cast<std::size_t>(i) % screens.size()];
    std::size_t size = 0;
    const double c0 = cpuMs();
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint8_t* out = encode(f, &size);
    r.wall_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    r.cpu_ms.push_back(cpuMs() - c0);
    if (!out) {
      std::fprintf(stderr, "%s: encoding failed at frame %d\n", name.c_str(), i);
      std::exit(1);
    }
    r.bytes.push_back(size);
    r.psnr_db.push_back(dec.psnr(out, static_cast<int>(size), f));
  }
  return r;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / double(v.size());
}
double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * double(v.size())))];
}

struct FreeRdpFree {
  void operator()(H264_CONTEXT* c) const { h264_context_free(c); }
};

}  // namespace

int main(int argc, char** argv) {
  int frames = 100, rounds = 3;
  std::string out;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--frames") frames = std::atoi(argv[i + 1]);
    else if (k == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (k == "--out") out = argv[i + 1];
    else {
      std::fputs("usage: avc420_encode_bench [--frames N] [--rounds R] [--out FILE.json]\n", stderr);
      return 2;
    }
  }
  if (frames <= 0 || rounds <= 0) return 2;
  av_log_set_level(AV_LOG_ERROR);
  std::vector<Frame> screens;
  for (int i = 0; i < 60; ++i) screens.push_back(screen(i * kLinesPerFrame));

  std::vector<Run> runs;
  for (int r = 1; r <= rounds; ++r) {
    for (const char* preset : {"superfast", "veryfast"}) {
      vigil::codecs::H264Encoder::Options o;
      o.preset = preset;
      o.qp = kQp;
      auto enc = vigil::codecs::H264Encoder::open(kW, kH, o);
      if (!enc.ok()) {
        std::fprintf(stderr, "%s\n", enc.message().c_str());
        return 1;
      }
      runs.push_back(measure(std::string("vigil-") + preset, r, frames, screens,
                             [&](const Frame& f, std::size_t* size) -> const std::uint8_t* {
                               auto au = (*enc)->encode(f, false);
                               if (!au.ok()) return nullptr;
                               *size = (*au)->size();
                               return (*au)->data();
                             }));
    }
    // The gateway's former encoder, set up as it was (CQP at the same QP).
    std::unique_ptr<H264_CONTEXT, FreeRdpFree> h264(h264_context_new(TRUE));
    if (!h264 || !h264_context_reset(h264.get(), kW, kH)) {
      std::fprintf(stderr, "FreeRDP has no H.264 encoder\n");
      return 1;
    }
    h264->RateControlMode = H264_RATECONTROL_CQP;
    h264->QP = kQp;
    h264->FrameRate = 30;
    runs.push_back(measure("freerdp-avc420_compress", r, frames, screens,
                           [&](const Frame& f, std::size_t* size) -> const std::uint8_t* {
                             BYTE* data = nullptr;
                             UINT32 len = 0;
                             if (avc420_compress(h264.get(), f.data(), PIXEL_FORMAT_BGRX32,
                                                 static_cast<UINT32>(f.stride()), kW, kH, &data, &len) < 0)
                               return nullptr;
                             *size = len;
                             return data;
                           }));
  }

  std::printf("%-24s %5s %9s %9s %9s %9s %10s %8s\n", "encoder", "round", "wall ms", "wall p95", "CPU ms",
              "CPU p95", "bytes/fr", "PSNR dB");
  nlohmann::json j;
  j["bench"] = "avc420_encode_bench";
  j["workload"] = "1280x800, 170x50 terminal of numbered sentences scrolling 3 lines per frame, whole frame encoded, QP 22";
  j["frames_per_run"] = frames;
  for (const Run& r : runs) {
    std::vector<double> b(r.bytes.begin(), r.bytes.end());
    std::printf("%-24s %5d %9.1f %9.1f %9.1f %9.1f %10.0f %8.2f\n", r.encoder.c_str(), r.round, mean(r.wall_ms),
                pct(r.wall_ms, 0.95), mean(r.cpu_ms), pct(r.cpu_ms, 0.95), mean(b), mean(r.psnr_db));
    j["runs"].push_back({{"encoder", r.encoder}, {"round", r.round}, {"wall_ms", r.wall_ms}, {"cpu_ms", r.cpu_ms},
                         {"bytes", r.bytes}, {"psnr_db", r.psnr_db}});
  }
  // Over all rounds, against FreeRDP's encoder.
  std::printf("\n");
  for (const char* name : {"vigil-superfast", "vigil-veryfast", "freerdp-avc420_compress"}) {
    std::vector<double> wall, cpu, bytes, psnr;
    for (const Run& r : runs)
      if (r.encoder == name) {
        wall.insert(wall.end(), r.wall_ms.begin(), r.wall_ms.end());
        cpu.insert(cpu.end(), r.cpu_ms.begin(), r.cpu_ms.end());
        bytes.insert(bytes.end(), r.bytes.begin(), r.bytes.end());
        psnr.insert(psnr.end(), r.psnr_db.begin(), r.psnr_db.end());
      }
    std::printf("%-24s wall %.1f ms (p95 %.1f), CPU %.1f ms, %.0f bytes/frame, %.2f dB, "
                "at most %.0f frames/s on one core\n",
                name, mean(wall), pct(wall, 0.95), mean(cpu), mean(bytes), mean(psnr),
                mean(cpu) > 0 ? 1000.0 / mean(cpu) : 0);
    j["summary"][name] = {{"wall_ms_mean", mean(wall)}, {"wall_ms_p95", pct(wall, 0.95)}, {"cpu_ms_mean", mean(cpu)},
                          {"bytes_per_frame_mean", mean(bytes)}, {"psnr_db_mean", mean(psnr)}};
  }
  if (!out.empty()) {
    std::ofstream(out) << j.dump(1) << "\n";
    std::printf("raw samples: %s\n", out.c_str());
  }
  return 0;
}
