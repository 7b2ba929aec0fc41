#include "codecs/exporter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "codecs/recorder.h"
#include "codecs/video_reader.h"
#include "core/clock.h"
#include "tests/codecs/fake_terminal.h"
#include "tests/codecs/test_util.h"

namespace vigil::codecs {
namespace {

using testing::FakeTerminal;
using testing::TempDir;
using testing::publishAndWait;

// Records ~`seconds` of session time of typing; returns the final screen.
Frame record(const std::string& path, Millis seconds, RecorderOptions o = {}) {
  auto rec = Recorder::open(path, o);
  EXPECT_TRUE(rec.ok()) << rec.message();
  if (!rec.ok()) return {};
  FakeTerminal term(960, 540);
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
  for (Millis t = 150; t <= seconds * 1000; t += 150) {
    DirtyRegion d = (t % 3000 == 0) ? term.output(4) : term.type(term.randomChar());
    publishAndWait(**rec, term.frame(), d, t);
  }
  (*rec)->close();
  EXPECT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  return term.frame();
}

double ffprobeDuration(const std::string& path) {
  int rc = 0;
  const std::string out = testing::run(
      "ffprobe -v error -show_entries format=duration -of csv=p=0 '" + path + "'", &rc);
  EXPECT_EQ(rc, 0) << out;
  return std::atof(out.c_str());
}

TEST(Export, FaststartMp4ThatPlayersOpen) {
  TempDir dir;
  const std::string in = dir.file("rec.mp4"), out = dir.file("export.mp4");
  RecorderOptions o;
  o.keyframe_interval_ms = 2000;
  o.keyframe_bytes_ratio = 0;  // purely by time
  o.keyframe_fresh_share = 0;
  const Frame final_screen = record(in, 8, o);
  auto src = probe(in);
  ASSERT_TRUE(src.ok()) << src.message();
  EXPECT_GE(src->keyframe_count, 4);  // one per 2 s of session time

  std::vector<double> progress;
  Status st = exportMp4(in, out, [&](double f) { progress.push_back(f); });
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_FALSE(progress.empty());
  EXPECT_DOUBLE_EQ(progress.back(), 1.0);
  EXPECT_TRUE(std::is_sorted(progress.begin(), progress.end()));
  EXPECT_FALSE(std::filesystem::exists(out + ".partial"));

  const auto boxes = testing::topLevelBoxes(testing::readFile(out));
  const auto moov = std::find(boxes.begin(), boxes.end(), "moov");
  const auto mdat = std::find(boxes.begin(), boxes.end(), "mdat");
  ASSERT_NE(moov, boxes.end());
  ASSERT_NE(mdat, boxes.end());
  EXPECT_LT(moov - boxes.begin(), mdat - boxes.begin()) << "moov must come before mdat";
  EXPECT_EQ(std::find(boxes.begin(), boxes.end(), "moof"), boxes.end()) << "not fragmented";

  auto info = probe(out);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(info->frame_count, src->frame_count);
  EXPECT_EQ(info->frame_pts, src->frame_pts);
  const double dur = ffprobeDuration(out);
  EXPECT_NEAR(dur * 1000, static_cast<double>(src->duration_ms), 50);
  EXPECT_GE(dur, 7.95);  // the last frame came at 7.95 s; the session ended just after
  EXPECT_LT(dur, 9.5);
  auto last = decodeLastFrame(out);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, final_screen), 35.0);
}

TEST(Export, TruncatedRecordingStillProbesAndExports) {
  TempDir dir;
  const std::string in = dir.file("rec.mp4"), cut = dir.file("cut.mp4"), out = dir.file("export.mp4");
  RecorderOptions o;
  o.keyframe_interval_ms = 2000;  // keyframes start fragments: several fragments
  o.keyframe_bytes_ratio = 0;
  o.keyframe_fresh_share = 0;
  record(in, 8, o);
  auto full = probe(in);
  ASSERT_TRUE(full.ok()) << full.message();
  // Cut in the middle of the file: very likely in a fragment's mdat; also cut
  // inside a moof header by trying a few offsets.
  const auto size = std::filesystem::file_size(in);
  for (double frac : {0.63, 0.81}) {
    std::filesystem::copy_file(in, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, static_cast<std::uintmax_t>(size * frac));
    auto info = probe(cut);
    ASSERT_TRUE(info.ok()) << info.message();
    EXPECT_GT(info->frame_count, 0);
    EXPECT_LT(info->frame_count, full->frame_count);
    auto last = decodeLastFrame(cut);
    ASSERT_TRUE(last.ok()) << last.message();
    std::filesystem::remove(out);
    Status st = exportMp4(cut, out, nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    auto exported = probe(out);
    ASSERT_TRUE(exported.ok());
    EXPECT_EQ(exported->frame_count, info->frame_count);
    const double dur = ffprobeDuration(out);
    EXPECT_NEAR(dur * 1000, static_cast<double>(exported->duration_ms), 50);
    int rc = 0;
    const std::string errors = testing::decodeErrors(out, &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_TRUE(errors.empty()) << errors;
  }
}

TEST(Export, MissingOrEmptyRecordingIsAClearError) {
  TempDir dir;
  Status st = exportMp4(dir.file("nope.mp4"), dir.file("out.mp4"), nullptr);
  EXPECT_FALSE(st.ok());
  {
    auto rec = Recorder::open(dir.file("empty.mp4"));  // no frame ever came
    ASSERT_TRUE(rec.ok());
  }
  st = exportMp4(dir.file("empty.mp4"), dir.file("out.mp4"), nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(st.message().empty());
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.mp4")));
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.mp4.partial")));
}

}  // namespace
}  // namespace vigil::codecs
