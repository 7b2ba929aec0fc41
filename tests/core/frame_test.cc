#include "core/frame.h"

#include <gtest/gtest.h>

namespace vigil {
namespace {

TEST(Rect, IntersectAndUnite) {
  const Rect a{0, 0, 10, 10}, b{5, 5, 10, 10}, far{100, 100, 1, 1};
  EXPECT_EQ(a.intersect(b), (Rect{5, 5, 5, 5}));
  EXPECT_TRUE(a.intersect(far).empty());
  EXPECT_EQ(a.unite(b), (Rect{0, 0, 15, 15}));
  EXPECT_EQ(Rect{}.unite(b), b);
  EXPECT_EQ(a.unite(Rect{}), a);
  EXPECT_EQ((Rect{0, 0, 3, 4}).area(), 12);
  EXPECT_EQ((Rect{0, 0, -3, 4}).area(), 0);
}

TEST(DirtyRegion, IgnoresEmptyAndCoveredRects) {
  DirtyRegion d;
  EXPECT_TRUE(d.empty());
  d.add(Rect{0, 0, 0, 5});
  EXPECT_TRUE(d.empty());
  d.add(Rect{0, 0, 10, 10});
  d.add(Rect{2, 2, 3, 3});  // inside: no new rect
  EXPECT_EQ(d.rects().size(), 1u);
  d.add(Rect{-5, -5, 30, 30});  // covers the old one: replaces it
  ASSERT_EQ(d.rects().size(), 1u);
  EXPECT_EQ(d.rects()[0], (Rect{-5, -5, 30, 30}));
}

TEST(DirtyRegion, KeepsSeparateRectsAndFoldsPastTheLimit) {
  DirtyRegion d;
  for (int i = 0; i < static_cast<int>(DirtyRegion::kMaxRects); ++i) d.add(Rect{i * 10, 0, 5, 5});
  EXPECT_EQ(d.rects().size(), DirtyRegion::kMaxRects);
  EXPECT_EQ(d.area(), 25LL * DirtyRegion::kMaxRects);
  d.add(Rect{0, 100, 5, 5});
  ASSERT_EQ(d.rects().size(), 1u);
  const Rect all{0, 0, static_cast<int>(DirtyRegion::kMaxRects - 1) * 10 + 5, 105};
  EXPECT_EQ(d.rects()[0], all);
  EXPECT_EQ(d.bounds(), all);
}

TEST(DirtyRegion, ClipMergeAndClear) {
  DirtyRegion d(Rect{-10, -10, 20, 20});
  d.add(Rect{90, 90, 20, 20});
  d.add(Rect{200, 200, 5, 5});
  d.clipTo(100, 100);
  ASSERT_EQ(d.rects().size(), 2u);
  EXPECT_EQ(d.rects()[0], (Rect{0, 0, 10, 10}));
  EXPECT_EQ(d.rects()[1], (Rect{90, 90, 10, 10}));
  EXPECT_EQ(d.bounds(), (Rect{0, 0, 100, 100}));
  DirtyRegion other(Rect{50, 50, 1, 1});
  other.add(d);
  EXPECT_EQ(other.rects().size(), 3u);
  EXPECT_EQ(other.area(), 201);
  other.clear();
  EXPECT_TRUE(other.empty());
  EXPECT_TRUE(other.bounds().empty());
}

TEST(Frame, PixelsAreBgrx) {
  Frame f(4, 2);
  EXPECT_EQ(f.stride(), 16);
  EXPECT_EQ(f.byteSize(), 32u);
  EXPECT_EQ(f.pixel(3, 1), 0u);  // new frames are black
  f.setPixel(1, 1, 0x112233);
  EXPECT_EQ(f.pixel(1, 1), 0x112233u);
  const std::uint8_t* p = f.row(1) + 4;
  EXPECT_EQ(p[0], 0x33);  // B
  EXPECT_EQ(p[1], 0x22);  // G
  EXPECT_EQ(p[2], 0x11);  // R
  EXPECT_EQ(p[3], 0x00);  // X
}

TEST(Frame, FillCopyAndResize) {
  Frame a(8, 8), b(8, 8);
  a.fill(Rect{-2, -2, 4, 4}, 0xff0000);  // clipped to the frame
  EXPECT_EQ(a.pixel(1, 1), 0xff0000u);
  EXPECT_EQ(a.pixel(2, 2), 0u);
  a.fill(Rect{4, 4, 10, 10}, 0x00ff00);
  b.copyRect(a, Rect{0, 0, 8, 4});
  EXPECT_EQ(b.pixel(0, 0), 0xff0000u);
  EXPECT_EQ(b.pixel(5, 5), 0u);  // outside the copied rect
  b.copyRect(a, Rect{4, 4, 100, 100});
  EXPECT_EQ(b.pixel(7, 7), 0x00ff00u);
  b.resize(8, 8);  // same size keeps pixels
  EXPECT_EQ(b.pixel(7, 7), 0x00ff00u);
  b.resize(2, 3);
  EXPECT_EQ(b.width(), 2);
  EXPECT_EQ(b.height(), 3);
  EXPECT_EQ(b.pixel(1, 1), 0u);
  EXPECT_FALSE(b.empty());
  EXPECT_TRUE(Frame().empty());
}

}  // namespace
}  // namespace vigil
