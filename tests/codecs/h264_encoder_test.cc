// The GFX encoder's H.264: what an RDP client decodes from it (libavcodec's
// H.264 decoder, then the BT.709 full-range YUV->RGB of MS-RDPEGFX clients
// such as FreeRDP) must match the frames sent, each frame must give exactly
// one access unit the decoder turns into a picture at once, and the stream
// must start (and restart on request) with an IDR carrying SPS/PPS.
#include "codecs/h264_encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "codecs/ffmpeg_owners.h"

namespace vigil::codecs {
namespace {

constexpr int kW = 320, kH = 192;

// A terminal-like screen: dark background, light "glyph" strokes that
// scroll up by one 12-px line per frame, and a coloured bar.
Frame screen(int scroll) {
  Frame f(kW, kH);
  for (int y = 0; y < kH; ++y) {
    std::uint8_t* p = f.row(y);
    const int line = (y / 12) + scroll, in_line = y % 12;
    for (int x = 0; x < kW; ++x, p += 4) {
      const int cell = x / 7, in_cell = x % 7;
      const bool ink = in_line >= 2 && in_line <= 9 && in_cell >= 1 && in_cell <= 5 &&
                       ((cell * 31 + line * 17 + in_cell * 3 + in_line) % 5 < 2);
      std::uint8_t b = ink ? 230 : 30, g = ink ? 230 : 30, r = ink ? 220 : 36;
      if (y >= kH - 16) {  // a status bar in colour
        b = static_cast<std::uint8_t>(40 + x % 64);
        g = 120;
        r = 200;
      }
      p[0] = b;
      p[1] = g;
      p[2] = r;
      p[3] = 0;
    }
  }
  return f;
}

std::uint8_t clip(int v) { return static_cast<std::uint8_t>(std::clamp(v, 0, 255)); }

// YUV420P -> BGRX as MS-RDPEGFX clients convert (FreeRDP's YUV2R/G/B).
Frame toBgrx(const AVFrame* y) {
  Frame f(y->width, y->height);
  for (int row = 0; row < y->height; ++row) {
    std::uint8_t* p = f.row(row);
    for (int x = 0; x < y->width; ++x, p += 4) {
      const int Y = y->data[0][row * y->linesize[0] + x];
      const int U = y->data[1][(row / 2) * y->linesize[1] + x / 2] - 128;
      const int V = y->data[2][(row / 2) * y->linesize[2] + x / 2] - 128;
      p[2] = clip((256 * Y + 403 * V) >> 8);
      p[1] = clip((256 * Y - 48 * U - 120 * V) >> 8);
      p[0] = clip((256 * Y + 475 * U) >> 8);
      p[3] = 0;
    }
  }
  return f;
}

double psnr(const Frame& a, const Frame& b) {
  double se = 0;
  long n = 0;
  for (int y = 0; y < a.height(); ++y)
    for (int x = 0; x < a.width() * 4; ++x) {
      if (x % 4 == 3) continue;
      const double d = double(a.row(y)[x]) - double(b.row(y)[x]);
      se += d * d;
      ++n;
    }
  return se == 0 ? 99 : 10 * std::log10(255.0 * 255.0 / (se / n));
}

// NAL unit types in an Annex-B access unit.
std::vector<int> nalTypes(const std::vector<std::uint8_t>& au) {
  std::vector<int> types;
  for (std::size_t i = 0; i + 3 < au.size(); ++i)
    if (au[i] == 0 && au[i + 1] == 0 && au[i + 2] == 1) {
      types.push_back(au[i + 3] & 0x1f);
      i += 3;
    }
  return types;
}

// On screen(): 39.5 dB is the best a 4:2:0 round trip through the client's
// fixed-point formulas reaches (computed apart, no encoder); x264 at QP 22
// gives ~36; BT.601 limited range where the client expects BT.709 full
// range reads ~26.
constexpr double kMinPsnr = 34.0;

bool has(const std::vector<int>& v, int t) { return std::find(v.begin(), v.end(), t) != v.end(); }

class Decoder {
 public:
  Decoder() {
    const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    ctx_.reset(avcodec_alloc_context3(codec));
    ctx_->thread_count = 1;  // no frame threads: a picture per packet, at once
    EXPECT_EQ(avcodec_open2(ctx_.get(), codec, nullptr), 0);
    frame_.reset(av_frame_alloc());
    pkt_.reset(av_packet_alloc());
  }
  // Pictures the decoder gives for one access unit (one expected).
  std::vector<Frame> decode(const std::vector<std::uint8_t>& au) {
    std::vector<Frame> out;
    pkt_->data = const_cast<std::uint8_t*>(au.data());
    pkt_->size = static_cast<int>(au.size());
    EXPECT_EQ(avcodec_send_packet(ctx_.get(), pkt_.get()), 0);
    while (avcodec_receive_frame(ctx_.get(), frame_.get()) == 0) {
      out.push_back(toBgrx(frame_.get()));
      av_frame_unref(frame_.get());
    }
    return out;
  }

 private:
  AvCodecCtxPtr ctx_;
  AvFramePtr frame_;
  AvPacketPtr pkt_;
};

TEST(H264Encoder, EachFrameIsOneAccessUnitTheClientDecodesAtOnce) {
  ASSERT_TRUE(H264Encoder::available());
  auto enc = H264Encoder::open(kW, kH, {});
  ASSERT_TRUE(enc.ok()) << enc.message();
  Decoder dec;
  for (int i = 0; i < 8; ++i) {
    const Frame in = screen(i);
    auto au = (*enc)->encode(in, false);
    ASSERT_TRUE(au.ok()) << au.message();
    const std::vector<std::uint8_t>& bytes = **au;
    ASSERT_GE(bytes.size(), 4u);
    // Annex-B: a start code first, no length prefixes.
    EXPECT_TRUE(bytes[0] == 0 && bytes[1] == 0 && (bytes[2] == 1 || (bytes[2] == 0 && bytes[3] == 1)));
    const auto types = nalTypes(bytes);
    if (i == 0) {
      EXPECT_TRUE((*enc)->lastWasIdr());
      EXPECT_TRUE(has(types, 7) && has(types, 8) && has(types, 5)) << "SPS, PPS and an IDR slice in-band";
    } else {
      EXPECT_FALSE((*enc)->lastWasIdr()) << "frame " << i << ": no periodic or scene-cut IDR";
      EXPECT_FALSE(has(types, 5));
    }
    const auto pictures = dec.decode(bytes);
    ASSERT_EQ(pictures.size(), 1u) << "frame " << i << " must be shown as soon as it arrives";
    EXPECT_GT(psnr(pictures[0], in), kMinPsnr) << "frame " << i;
  }
}

TEST(H264Encoder, IdrOnRequestRestartsTheStreamForANewDecoder) {
  auto enc = H264Encoder::open(kW, kH, {});
  ASSERT_TRUE(enc.ok()) << enc.message();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*enc)->encode(screen(i), false).ok());
  // A re-created surface: a client's fresh decoder starts from this frame.
  auto au = (*enc)->encode(screen(3), true);
  ASSERT_TRUE(au.ok()) << au.message();
  EXPECT_TRUE((*enc)->lastWasIdr());
  const auto types = nalTypes(**au);
  EXPECT_TRUE(has(types, 7) && has(types, 8) && has(types, 5));
  Decoder fresh;
  const auto pictures = fresh.decode(**au);
  ASSERT_EQ(pictures.size(), 1u);
  EXPECT_GT(psnr(pictures[0], screen(3)), kMinPsnr);
}

TEST(H264Encoder, RefusesSizesItCannotEncode) {
  EXPECT_FALSE(H264Encoder::open(321, 192, {}).ok());
  EXPECT_FALSE(H264Encoder::open(0, 0, {}).ok());
  EXPECT_FALSE(H264Encoder::open(9000, 200, {}).ok());
  auto enc = H264Encoder::open(kW, kH, {});
  ASSERT_TRUE(enc.ok());
  EXPECT_FALSE((*enc)->encode(Frame(kW + 2, kH), false).ok());
}

}  // namespace
}  // namespace vigil::codecs
