#include "codecs/fresh_content.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/codecs/fake_terminal.h"

namespace vigil::codecs {
namespace {

using testing::FakeTerminal;

// One byte per pixel (green), as the recorder's luma plane.
struct Plane8 {
  explicit Plane8(const Frame& f) : width(f.width()), height(f.height()), bytes(static_cast<std::size_t>(width) * height) {
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) bytes[static_cast<std::size_t>(y) * width + x] = f.row(y)[x * 4 + 1];
  }
  FreshContent::Plane plane() const { return {bytes.data(), width, width, height}; }
  int width, height;
  std::vector<std::uint8_t> bytes;
};

double shareOfChange(const Frame& before, const Frame& after, int y0 = 0, int y1 = -1) {
  FreshContent fc;
  fc.remember(Plane8(before).plane(), y0, y1 < 0 ? before.height() : y1);
  return fc.share(Plane8(after).plane());
}

TEST(FreshContent, APageOfNewTextIsNew) {
  FakeTerminal a(1280, 720, 1), b(1280, 720, 2);
  a.output(40);
  b.output(40);
  EXPECT_GT(shareOfChange(a.frame(), b.frame()), 0.9);
}

TEST(FreshContent, ScrolledTextIsNotNewOnlyItsNewLines) {
  FakeTerminal t(1280, 720, 1);
  t.output(40);
  const Frame before = t.frame();
  t.output(3);  // scrolls the page by four lines
  const double s = shareOfChange(before, t.frame());
  EXPECT_GT(s, 0.02);
  EXPECT_LT(s, 0.2);
}

TEST(FreshContent, ATypedCharacterIsAlmostNothing) {
  FakeTerminal t(1280, 720, 1);
  t.output(40);
  const Frame before = t.frame();
  t.type('x');
  EXPECT_LT(shareOfChange(before, t.frame()), 0.01);
}

// `clear`: the P-frame and a keyframe both cost next to nothing; flat
// rows are not content.
TEST(FreshContent, AClearedScreenBringsNothingNew) {
  FakeTerminal t(1280, 720, 1);
  t.output(40);
  Frame after = t.frame();
  after.fill({0, FakeTerminal::kBarH, 1280, 720 - FakeTerminal::kBarH}, FakeTerminal::kBg);
  EXPECT_EQ(shareOfChange(t.frame(), after), 0);
}

TEST(FreshContent, OnlyTheRememberedRowsCanBeNew) {
  FakeTerminal a(1280, 720, 1), b(1280, 720, 2);
  a.output(40);
  b.output(40);
  // The whole page changed, but only a quarter of its rows was remembered.
  const double s = shareOfChange(a.frame(), b.frame(), 0, 180);
  EXPECT_GT(s, 0.15);
  EXPECT_LT(s, 0.3);
  EXPECT_EQ(FreshContent{}.share(Plane8(a.frame()).plane()), 0);  // nothing remembered
}

}  // namespace
}  // namespace vigil::codecs
