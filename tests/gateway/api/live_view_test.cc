#include "gateway/api/live_view.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

namespace vigil::gateway::api {
namespace {

int u16(const std::string& s, std::size_t o) {
  return static_cast<unsigned char>(s[o]) | (static_cast<unsigned char>(s[o + 1]) << 8);
}

TEST(TileEncoder, FullFrameFirstThenOnlyChangedTiles) {
  TileEncoder enc(70);
  Frame fb(300, 200);
  fb.fill(fb.bounds(), 0x336699);
  std::string first = enc.encode(fb, DirtyRegion(fb.bounds()), 5);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first[1], 1);
  EXPECT_EQ(u16(first, 2), 300);
  EXPECT_EQ(u16(first, 6), 1);

  // Damage that changed nothing sends nothing.
  EXPECT_TRUE(enc.encode(fb, DirtyRegion(Rect{0, 0, 100, 100}), 6).empty());

  // Two pixels in different tiles of one row: one run of tiles each.
  fb.setPixel(70, 10, 0xFFFFFF);
  fb.setPixel(200, 150, 0x000000);
  DirtyRegion d;
  d.add(Rect{70, 10, 1, 1});
  d.add(Rect{200, 150, 1, 1});
  std::string m = enc.encode(fb, d, 7);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[1], 0);
  ASSERT_EQ(u16(m, 6), 2);
  EXPECT_EQ(u16(m, 16), 64);   // x of tile 1
  EXPECT_EQ(u16(m, 18), 0);    // y
  EXPECT_EQ(u16(m, 20), 64);   // w
  // The tile decodes as a JPEG of its size.
  const std::uint32_t len = static_cast<unsigned char>(m[24]) | (static_cast<unsigned char>(m[25]) << 8) |
                            (static_cast<unsigned char>(m[26]) << 16);
  std::vector<unsigned char> jpeg(m.begin() + 28, m.begin() + 28 + len);
  cv::Mat img = cv::imdecode(jpeg, cv::IMREAD_COLOR);
  EXPECT_EQ(img.cols, 64);
  EXPECT_EQ(img.rows, 64);

  // A new size: the whole screen again.
  fb.resize(320, 240);
  std::string again = enc.encode(fb, DirtyRegion(Rect{0, 0, 1, 1}), 8);
  EXPECT_EQ(again[1], 1);
  EXPECT_EQ(u16(again, 2), 320);
}

TEST(TileEncoder, MostlyChangedScreenIsOneJpeg) {
  TileEncoder enc(70);
  Frame fb(256, 256);
  enc.encode(fb, DirtyRegion(fb.bounds()), 0);
  fb.fill(fb.bounds(), 0xFF00FF);
  std::string m = enc.encode(fb, DirtyRegion(fb.bounds()), 1);
  EXPECT_EQ(m[1], 1);
  EXPECT_EQ(u16(m, 6), 1);
}

TEST(Thumbnail, Downscaled) {
  Frame fb(1280, 800);
  fb.fill(fb.bounds(), 0x00FF00);
  std::string j = encodeThumbnail(fb, 320, 60);
  std::vector<unsigned char> v(j.begin(), j.end());
  cv::Mat img = cv::imdecode(v, cv::IMREAD_COLOR);
  EXPECT_EQ(img.cols, 320);
  EXPECT_EQ(img.rows, 200);
}

}  // namespace
}  // namespace vigil::gateway::api
