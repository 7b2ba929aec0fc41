#include "gateway/rdp/rfx_stream.h"

#include <freerdp/codec/color.h>
#include <freerdp/codec/rfx.h>
#include <winpr/stream.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <vector>

namespace vigil::gateway::rdp {
namespace {

// Two messages from FreeRDP's own encoder for a w x h screen.
std::vector<std::vector<std::uint8_t>> encodeTwice(int w, int h) {
  std::unique_ptr<RFX_CONTEXT, decltype(&rfx_context_free)> rfx(rfx_context_new(TRUE),
                                                               rfx_context_free);
  rfx_context_set_pixel_format(rfx.get(), PIXEL_FORMAT_BGRX32);
  EXPECT_TRUE(rfx_context_reset(rfx.get(), static_cast<UINT32>(w), static_cast<UINT32>(h)));
  std::vector<BYTE> pixels(static_cast<std::size_t>(w) * h * 4, 0x80);
  RFX_RECT rect{0, 0, static_cast<UINT16>(w), static_cast<UINT16>(h)};
  std::vector<std::vector<std::uint8_t>> out;
  for (int i = 0; i < 2; ++i) {
    RFX_MESSAGE* m = rfx_encode_message(rfx.get(), &rect, 1, pixels.data(), w, h, w * 4);
    wStream* s = Stream_New(nullptr, 1024);
    EXPECT_TRUE(rfx_write_message(rfx.get(), s, m));
    out.emplace_back(Stream_Buffer(s), Stream_Buffer(s) + Stream_GetPosition(s));
    Stream_Free(s, TRUE);
    rfx_message_free(rfx.get(), m);
  }
  return out;
}

TEST(RfxStream, ReadsTheHeaderFreeRdpsEncoderSendsFirst) {
  const auto msgs = encodeTwice(256, 128);
  const auto h = readRfxHeader(msgs[0]);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->width, 256);
  EXPECT_EQ(h->height, 128);
  EXPECT_NE(h->properties, 0);
  EXPECT_FALSE(readRfxHeader(msgs[1])) << "later messages carry frame data only";
  // The same encoder settings announce the same header at any size but their own.
  const auto other = readRfxHeader(encodeTwice(128, 64)[0]);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->properties, h->properties);
  EXPECT_NE(*other, *h);
}

TEST(RfxStream, CutOrCorruptHeadersReadAsNone) {
  const auto msg = encodeTwice(128, 64)[0];
  // The four header blocks take the first 47 bytes; any cut inside them loses one.
  for (std::size_t n = 0; n < 47; ++n) {
    EXPECT_FALSE(readRfxHeader(std::span(msg).first(n))) << n;
  }
  auto bad = msg;
  bad[2] = 0xFF;  // the first block's length points past the message
  bad[3] = 0xFF;
  EXPECT_FALSE(readRfxHeader(bad));
  bad = msg;
  bad[2] = 2;  // shorter than a block header
  bad[3] = bad[4] = bad[5] = 0;
  EXPECT_FALSE(readRfxHeader(bad));
  const std::vector<std::uint8_t> noise(64, 0xCC);
  EXPECT_FALSE(readRfxHeader(noise));
}

}  // namespace
}  // namespace vigil::gateway::rdp
