// The gateway's 24 bpp interleaved RLE encoder, decoded by FreeRDP's own
// decoder (the one xfreerdp uses): every pixel comes back.
#include <gtest/gtest.h>

#include <freerdp/codec/color.h>
#include <freerdp/codec/interleaved.h>

#include <random>
#include <vector>

#include "gateway/rdp/rle24.h"

namespace vigil::gateway::rdp {
namespace {

struct Tile {
  int w, h;
  std::vector<std::uint8_t> bgrx;  // stride w * 4
};

// A terminal-like tile: a flat background, text-ish noise in some rows,
// runs that cross rows.
Tile terminalTile(int w, int h, unsigned seed) {
  std::mt19937 rng(seed);
  Tile t{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 4)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      std::uint8_t* p = &t.bgrx[(static_cast<std::size_t>(y) * w + x) * 4];
      const bool text = (y / 8) % 2 == 0 && rng() % 3 == 0;
      p[0] = text ? static_cast<std::uint8_t>(rng()) : 0x20;
      p[1] = text ? static_cast<std::uint8_t>(rng()) : 0x30;
      p[2] = text ? static_cast<std::uint8_t>(rng()) : 0x40;
      p[3] = 0xFF;
    }
  return t;
}

// Encodes, decodes with FreeRDP, and returns how many pixels differ.
int roundTripErrors(const Tile& t, std::size_t* encoded_size = nullptr) {
  const int padded = (t.w + 3) / 4 * 4;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(padded) * t.h * 3 + 16);
  const std::size_t n =
      encodeRle24(t.bgrx.data(), static_cast<std::size_t>(t.w) * 4, t.w, t.h, padded, out.data(), out.size());
  EXPECT_GT(n, 0u);
  if (encoded_size) *encoded_size = n;
  BITMAP_INTERLEAVED_CONTEXT* ctx = bitmap_interleaved_context_new(FALSE);
  std::vector<std::uint8_t> dec(static_cast<std::size_t>(padded) * t.h * 4, 0);
  const BOOL ok = interleaved_decompress(ctx, out.data(), static_cast<UINT32>(n), static_cast<UINT32>(padded),
                                         static_cast<UINT32>(t.h), 24, dec.data(), PIXEL_FORMAT_BGRX32,
                                         static_cast<UINT32>(padded) * 4, 0, 0, static_cast<UINT32>(padded),
                                         static_cast<UINT32>(t.h), nullptr);
  bitmap_interleaved_context_free(ctx);
  EXPECT_TRUE(ok);
  int errors = 0;
  for (int y = 0; y < t.h; ++y)
    for (int x = 0; x < t.w; ++x)
      for (int c = 0; c < 3; ++c)
        if (dec[(static_cast<std::size_t>(y) * padded + x) * 4 + c] !=
            t.bgrx[(static_cast<std::size_t>(y) * t.w + x) * 4 + c]) {
          ++errors;
          break;
        }
  return errors;
}

TEST(Rle24, FreeRdpDecodesEveryPixelBack) {
  for (unsigned seed = 1; seed <= 20; ++seed) EXPECT_EQ(roundTripErrors(terminalTile(64, 64, seed)), 0) << seed;
}

TEST(Rle24, EdgeTilesOfAnyWidthArePadded) {
  for (int w : {1, 2, 3, 5, 42, 63}) EXPECT_EQ(roundTripErrors(terminalTile(w, 17, 7)), 0) << w;
}

TEST(Rle24, FlatAndNoisyTilesFitAndFlatOnesCompress) {
  std::size_t flat = 0, noisy = 0;
  Tile t = terminalTile(64, 64, 3);
  for (std::size_t i = 0; i < t.bgrx.size(); i += 4) t.bgrx[i] = t.bgrx[i + 1] = t.bgrx[i + 2] = 0x11;
  EXPECT_EQ(roundTripErrors(t, &flat), 0);
  EXPECT_LT(flat, 16u);  // one mega colour run
  std::mt19937 rng(9);
  for (auto& b : t.bgrx) b = static_cast<std::uint8_t>(rng());
  EXPECT_EQ(roundTripErrors(t, &noisy), 0);
  EXPECT_LE(noisy, 64u * 64 * 3 + 16);
}

TEST(Rle24, RefusesWhatDoesNotFit) {
  const Tile t = terminalTile(64, 64, 5);
  std::vector<std::uint8_t> out(100);
  EXPECT_EQ(encodeRle24(t.bgrx.data(), 64 * 4, 64, 64, 64, out.data(), out.size()), 0u);
  EXPECT_EQ(encodeRle24(t.bgrx.data(), 64 * 4, 64, 64, 60, out.data(), out.size()), 0u);  // padded < width
}

}  // namespace
}  // namespace vigil::gateway::rdp
