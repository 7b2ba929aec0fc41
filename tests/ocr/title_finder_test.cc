#include "ocr/title_finder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <tuple>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "ocr/title_reader.h"
#include "tests/ocr/corpus.h"

namespace vigil::ocr {
namespace {

using testing::renderWindowsScreen;

const TitleStrip* focusedOf(const std::vector<TitleStrip>& strips) {
  for (const TitleStrip& s : strips)
    if (s.focused) return &s;
  return nullptr;
}

class FinderStyles : public ::testing::TestWithParam<const char*> {};

TEST_P(FinderStyles, FindsTheFrontCaptionAndMarksItFocused) {
  Rect bar;
  const Frame f = renderWindowsScreen(GetParam(), "Registry Editor", "Event Viewer", &bar);
  const auto strips = TitleFinder().find(f);
  const TitleStrip* front = focusedOf(strips);
  ASSERT_NE(front, nullptr);
  EXPECT_LE(std::abs(front->bar.y - bar.y), 3);
  EXPECT_GE(front->bar.intersect(bar).w, bar.w * 9 / 10);
  // The text rectangle excludes the buttons at the right end.
  EXPECT_LT(front->text.x + front->text.w, bar.x + bar.w - 100);
  int focused = 0;
  for (const TitleStrip& s : strips) focused += s.focused;
  EXPECT_EQ(focused, 1);
}

INSTANTIATE_TEST_SUITE_P(Windows, FinderStyles,
                         ::testing::Values("win10-light", "win10-dark", "win10-accent",
                                           "win11-light", "win7"));

// Real openbox windows (Clearlooks: the active caption is a blue gradient
// with white text, inactive ones light grey with grey text, which has the
// higher contrast): the window the WM made active is the one marked focused.
TEST(TitleFinder, OpenboxActiveCaptionIsTheFocusedOne) {
  const std::string dir = ::testing::TempDir() + "vigil-finder-openbox";
  std::filesystem::create_directories(dir);
  testing::XDesktop desk;
  const testing::WmSpec wm{testing::Wm::Openbox, "Clearlooks", "openbox/Clearlooks"};
  const Status st = desk.start(1280, 800, wm, dir + "/x");
  ASSERT_TRUE(st.ok()) << st.message();
  auto shots = testing::captureReal(desk, wm, testing::makeTitles(4, 7), {}, dir);
  ASSERT_TRUE(shots.ok()) << shots.message();
  ASSERT_EQ(shots->size(), 4u);
  for (const testing::Sample& s : *shots) {
    const auto strips = TitleFinder().find(testing::loadPng(s.image));
    ASSERT_GE(strips.size(), 2u) << s.image;  // the inactive captions are there too
    const TitleStrip* front = focusedOf(strips);
    ASSERT_NE(front, nullptr) << s.image;
    const Rect over = front->bar.intersect({s.locate.x, front->bar.y, s.locate.w, front->bar.h});
    EXPECT_GE(over.w * 2, s.locate.w) << s.image << ": focused caption at x=" << front->bar.x;
    EXPECT_TRUE(front->bar.y >= s.locate.y - 2 && front->bar.y <= s.locate.y + 30)
        << s.image << ": focused caption at y=" << front->bar.y << ", active window at y=" << s.locate.y;
  }
  std::filesystem::remove_all(dir);
}

TEST(TitleFinder, HashFollowsTheTitlePixels) {
  const Frame a = renderWindowsScreen("win10-light", "Registry Editor", "Event Viewer", nullptr);
  const Frame b = renderWindowsScreen("win10-light", "Registry Editor", "Event Viewer", nullptr);
  const Frame c = renderWindowsScreen("win10-light", "Registry Editor (2)", "Event Viewer", nullptr);
  const TitleFinder finder;
  const auto sa = finder.find(a), sb = finder.find(b), sc = finder.find(c);
  ASSERT_NE(focusedOf(sa), nullptr);
  ASSERT_NE(focusedOf(sc), nullptr);
  EXPECT_EQ(focusedOf(sa)->hash, focusedOf(sb)->hash);
  EXPECT_NE(focusedOf(sa)->hash, focusedOf(sc)->hash);
}

TEST(TitleFinder, PlainDesktopAndTextWithoutButtonsAreNotCaptions) {
  Frame f(800, 600);
  f.fill(f.bounds(), 0x3a6ea5);
  EXPECT_TRUE(TitleFinder().find(f).empty());
  // A white panel with a line of dark "text" but no caption buttons.
  f.fill({100, 100, 500, 200}, 0xffffff);
  for (int x = 110; x < 400; x += 7) f.fill({x, 110, 4, 9}, 0x202020);
  EXPECT_TRUE(TitleFinder().find(f).empty());
}

TEST(TitleFinder, TinyOrEmptyFramesAreHarmless) {
  EXPECT_TRUE(TitleFinder().find(Frame()).empty());
  EXPECT_TRUE(TitleFinder().find(Frame(50, 10)).empty());
}

TEST(TitleReader, ReadsACaptionAndRejectsBadInput) {
  auto reader = TitleReader::create();
  ASSERT_TRUE(reader.ok()) << reader.message();
  const Frame f = renderWindowsScreen("win10-dark", "Registry Editor", "Event Viewer", nullptr);
  const TitleStrip* front = nullptr;
  const auto strips = TitleFinder().find(f);
  front = focusedOf(strips);
  ASSERT_NE(front, nullptr);
  auto text = (*reader)->read(f, front->text);
  ASSERT_TRUE(text.ok()) << text.message();
  EXPECT_EQ(text->text, "Registry Editor");
  EXPECT_GE(text->confidence, 60.0f);
  EXPECT_FALSE((*reader)->read(f, Rect{0, 0, 0, 0}).ok());
  EXPECT_FALSE((*reader)->read(f, Rect{5000, 5000, 10, 10}).ok());
  // A blank strip is junk, not an empty title.
  EXPECT_FALSE((*reader)->read(f, Rect{900, 600, 100, 30}).ok());
}

// What a lossy 4:2:0 video codec leaves of a screen: colour at half
// resolution, and every pixel a few levels off its colour.
Frame throughCodec(const Frame& f, unsigned seed) {
  const cv::Mat bgra(f.height(), f.width(), CV_8UC4, const_cast<std::uint8_t*>(f.data()),
                     static_cast<std::size_t>(f.stride()));
  cv::Mat bgr, ycc, half;
  cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
  cv::cvtColor(bgr, ycc, cv::COLOR_BGR2YCrCb);
  std::vector<cv::Mat> planes;
  cv::split(ycc, planes);
  for (int c : {1, 2}) {
    cv::resize(planes[c], half, cv::Size(), 0.5, 0.5, cv::INTER_AREA);
    cv::resize(half, planes[c], planes[c].size(), 0, 0, cv::INTER_LINEAR);
  }
  // Each 8x8 block's frequencies quantized, as a DCT codec does.
  for (int c = 0; c < 3; ++c) {
    const double step = c == 0 ? 10.0 : 16.0;
    cv::Mat plane;
    planes[c].convertTo(plane, CV_32F);
    for (int by = 0; by + 8 <= plane.rows; by += 8)
      for (int bx = 0; bx + 8 <= plane.cols; bx += 8) {
        cv::Mat block = plane(cv::Rect(bx, by, 8, 8)), freq;
        cv::dct(block, freq);
        for (float& v : cv::Mat_<float>(freq)) v = std::round(v / step) * step;
        cv::idct(freq, block);
      }
    plane.convertTo(planes[c], CV_8U);
  }
  cv::merge(planes, ycc);
  cv::cvtColor(ycc, bgr, cv::COLOR_YCrCb2BGR);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> noise(-2, 2);
  for (auto& p : cv::Mat_<cv::Vec3b>(bgr))
    for (int c = 0; c < 3; ++c) p[c] = cv::saturate_cast<std::uint8_t>(p[c] + noise(rng));
  return testing::fromMat(bgr);
}

// The caption still reads as it does clean (the bar is found on the clean
// screen: this is about the reader).
TEST(TitleReader, ReadsThroughCodecLoss) {
  auto reader = TitleReader::create();
  ASSERT_TRUE(reader.ok()) << reader.message();
  for (const std::string style : {"win10-light", "win10-accent", "win7"})
    for (const std::string title : {"Registry Editor", "payroll.xlsx - Excel"}) {
      const Frame clean = renderWindowsScreen(style, title, "Event Viewer", nullptr);
      const TitleStrip* front = focusedOf(TitleFinder().find(clean));
      ASSERT_NE(front, nullptr) << style;
      auto text = (*reader)->read(throughCodec(clean, 7), front->text);
      ASSERT_TRUE(text.ok()) << style << ": " << text.message();
      EXPECT_EQ(text->text, title) << style;
    }
}

TEST(TitleReader, TellsAnEnDashFromAHyphenAlsoRightBeforeACut) {
  auto reader = TitleReader::create();
  ASSERT_TRUE(reader.ok()) << reader.message();
  // The dash's width against the x-height decides, also when a middle cut
  // is glued to it (openbox, icewm); a hyphen inside a word stays one. Not
  // yet: "Read-Only –…Notepad", whose dash measures as a hyphen.
  for (const std::string title : {"Crème brûlée \u2013\u2026ws PowerShell", "Jürgen Groß - Berichte",
                                  "Crème brûlée \u2013 Recette.docx", "Read-Only - Notepad"})
    for (const std::string style : {"win10-light", "win10-dark", "win11-light", "win7"}) {
      const Frame f = renderWindowsScreen(style, title, "Event Viewer", nullptr);
      const TitleStrip* front = focusedOf(TitleFinder().find(f));
      ASSERT_NE(front, nullptr) << style;
      auto text = (*reader)->read(f, front->text);
      ASSERT_TRUE(text.ok()) << style << ": " << text.message();
      EXPECT_EQ(text->text, title) << style;
    }
}

TEST(TitleReader, MissingTraineddataIsAnActionableError) {
  ReaderOptions o;
  o.tessdata_dir = "/nonexistent/tessdata";
  auto reader = TitleReader::create(o);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.message().find("traineddata"), std::string::npos);
}

// Rows [y0, y1) where a and b differ; y0 == y1 when they are equal.
std::pair<int, int> changedRows(const Frame& a, const Frame& b) {
  int y0 = a.height(), y1 = 0;
  for (int y = 0; y < a.height(); ++y)
    if (std::memcmp(a.row(y), b.row(y), static_cast<std::size_t>(a.width()) * Frame::kBytesPerPixel)) {
      y0 = std::min(y0, y);
      y1 = y + 1;
    }
  return {std::min(y0, y1), y1};
}

void expectSameStrips(const std::vector<TitleStrip>& got, const std::vector<TitleStrip>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].bar, want[i].bar) << i;
    EXPECT_EQ(got[i].text, want[i].text) << i;
    EXPECT_EQ(got[i].focused, want[i].focused) << i;
    EXPECT_EQ(got[i].hash, want[i].hash) << i;
  }
}

// The tracker's incremental pass: looking again only near changed rows gives
// what a whole-screen pass gives, for a window moving and raising, for
// client-area output under the captions and for no change at all.
TEST_P(FinderStyles, UpdateNearChangedRowsEqualsAWholeScreenPass) {
  const TitleFinder finder;
  const Frame a = renderWindowsScreen(GetParam(), "Registry Editor", "Event Viewer", nullptr);
  const auto before = finder.find(a);
  ASSERT_FALSE(before.empty());

  const Frame moved = renderWindowsScreen(GetParam(), "Device Manager", "Event Viewer", nullptr,
                                          nullptr, 220, 600);
  auto [y0, y1] = changedRows(a, moved);
  ASSERT_LT(y0, y1);
  expectSameStrips(finder.update(moved, before, y0, y1), finder.find(moved));

  Frame output = a;  // lines of "output" in the front window's client area
  const TitleStrip* front = focusedOf(before);
  ASSERT_NE(front, nullptr);
  for (int y = front->bar.y + front->bar.h + 60; y < front->bar.y + front->bar.h + 120; y += 3)
    for (int x = front->bar.x + 30; x < front->bar.x + 300; x += 2) output.setPixel(x, y, 0x202020);
  std::tie(y0, y1) = changedRows(a, output);
  ASSERT_LT(y0, y1);
  const auto updated = finder.update(output, before, y0, y1);
  expectSameStrips(updated, finder.find(output));
  expectSameStrips(updated, before);

  expectSameStrips(finder.update(a, before, 0, 0), before);
}

}  // namespace
}  // namespace vigil::ocr
