// A real icewm desktop: in a narrow window the theme's menu icon and buttons
// sit as close to a cut title as its letters do; the wider captions on the
// same screen show them for what they are (TitleFinder::find).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "ocr/title_finder.h"
#include "ocr/title_reader.h"
#include "tests/ocr/corpus.h"

namespace vigil::ocr::testing {
namespace {

namespace fs = std::filesystem;

TEST(NarrowCaption, IcewmIconAndButtonsAreLeftOutOfTheTitle) {
  const std::string dir = (fs::temp_directory_path() / ("vigil-narrow-" + std::to_string(getpid()))).string();
  fs::create_directories(dir);
  const WmSpec icewm{Wm::Icewm, "default", "icewm/default"};
  XDesktop desk;
  const Status st = desk.start(1280, 800, icewm, dir + "/x");
  ASSERT_TRUE(st.ok()) << st.message();
  // captureReal opens the long titles in narrow windows, the others wide.
  const std::vector<std::string> long_titles = {
      "deploy@mail: /home/admin/scripts/releases/2026-11-22/config/production",
      "\\\\fs01\\share\\HR\\Reports\\Quarterly\\passwords old.kdbx - Visual Studio Code"};
  auto samples = captureReal(desk, icewm, {"Registry Editor", "payroll.xlsx - Excel", "Event Viewer"},
                             long_titles, dir);
  ASSERT_TRUE(samples.ok()) << samples.message();
  auto reader = TitleReader::create();
  ASSERT_TRUE(reader.ok()) << reader.message();

  int narrow = 0;
  for (const Sample& s : *samples) {
    if (std::find(long_titles.begin(), long_titles.end(), s.expected) == long_titles.end()) continue;
    ++narrow;
    const Frame f = loadPng(s.image);
    const auto strips = TitleFinder().find(f);
    const auto front = std::find_if(strips.begin(), strips.end(), [](const TitleStrip& t) { return t.focused; });
    ASSERT_NE(front, strips.end()) << s.image;
    auto read = (*reader)->read(f, front->text);
    ASSERT_TRUE(read.ok()) << s.image << ": " << read.message();
    std::string truth;
    EXPECT_EQ(titleDistance(s, read->text, &truth), 0) << s.image << " read '" << read->text << "'";
  }
  EXPECT_EQ(narrow, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::ocr::testing
