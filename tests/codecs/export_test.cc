#include "codecs/exporter.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <sstream>
#include <thread>

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
  ASSERT_EQ(info->frame_pts.size(), src->frame_pts.size());
  // On the next free 40 ms slot: the next one, or the one after for the
  // end marker 1 ms after the last change.
  for (std::size_t i = 0; i < info->frame_pts.size(); ++i) {
    EXPECT_GE(info->frame_pts[i], src->frame_pts[i]) << i;
    EXPECT_LT(info->frame_pts[i], src->frame_pts[i] + (i + 1 < info->frame_pts.size() ? 40 : 80)) << i;
  }
  const double dur = ffprobeDuration(out);
  EXPECT_NEAR(dur * 1000, static_cast<double>(src->duration_ms), 80);
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

// The value of `key=` in ffmpeg's -progress output (the last one).
long long progressValue(const std::string& out, const std::string& key) {
  long long v = -1;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + "=", 0) == 0) v = std::atoll(line.c_str() + key.size() + 1);
  return v;
}

long long countFrames(const std::string& path) {
  int rc = 0;
  const std::string out = testing::run("ffprobe -v error -count_frames -select_streams v:0 "
                                       "-show_entries stream=nb_read_frames -of csv=p=0 '" + path + "'", &rc);
  EXPECT_EQ(rc, 0) << out;
  return std::atoll(out.c_str());
}

// What a user's tools make of an export: a session with a resize and two
// idle pauses (the encoder parks and resumes), recorded in real time.
TEST(Export, EveryToolReadsItAndReencodingKeepsEveryFrame) {
  TempDir dir;
  const std::string in = dir.file("rec.mp4"), out = dir.file("export.mp4"), re = dir.file("re.mp4");
  RecorderOptions o;
  o.flush_interval_ms = 200;
  o.park_encoder_after_ms = 300;
  auto rec = Recorder::open(in, o);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal small(960, 540), big(1280, 800);
  FakeTerminal* term = &small;
  // A desktop clock ticking every second (a few ms late, as real ticks are)
  // and, later, a few keys typed ~120 ms apart: the pattern that had ffmpeg
  // guess 1 fps from the start and drop the typed frames. Session times are
  // given; real pauses only let the encoder park, to resume at the next change.
  publishAndWait(**rec, term->frame(), DirtyRegion(term->frame().bounds()), 0);
  Millis t = 0;
  for (int second = 1; second <= 8; ++second) {
    t = second * 1000 + (second * 7) % 5;
    if (second == 2 || second == 5) std::this_thread::sleep_for(std::chrono::milliseconds(450));
    if (second == 4) {
      (*rec)->onResize(1280, 800, t);
      term = &big;
      publishAndWait(**rec, term->frame(), DirtyRegion(term->frame().bounds()), t);
      continue;
    }
    publishAndWait(**rec, term->frame(), term->clock(second), t);
  }
  for (int k = 0; k < 6; ++k) {
    t += 110 + 10 * (k % 3);
    publishAndWait(**rec, term->frame(), term->type(term->randomChar()), t);
  }
  publishAndWait(**rec, term->frame(), term->clock(9), 9002);
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  EXPECT_GE((*rec)->stats().parks, 2);

  auto src = probe(in);
  ASSERT_TRUE(src.ok()) << src.message();
  for (std::size_t i = 1; i < src->frame_pts.size(); ++i)
    EXPECT_LT(src->frame_pts[i - 1], src->frame_pts[i]) << "recording frame " << i;
  ASSERT_TRUE(exportMp4(in, out, nullptr).ok());

  int rc = 0;
  const std::string rates = testing::run("ffprobe -v error -select_streams v:0 -show_entries "
                                         "stream=r_frame_rate,avg_frame_rate -of csv=p=0 '" + out + "'", &rc);
  ASSERT_EQ(rc, 0) << rates;
  std::smatch m;
  ASSERT_TRUE(std::regex_match(rates, m, std::regex(R"((\d+)/(\d+),(\d+)/(\d+))"))) << rates;
  EXPECT_EQ(m[1].str() + "/" + m[2].str(), "25/1") << rates;
  const double avg = std::stod(m[3]) / std::stod(m[4]);
  EXPECT_GT(avg, 1.0) << rates;  // ~20 frames in ~4 s
  EXPECT_LE(avg, 25.0) << rates;

  // Every frame of the recording, each at its own time, on the 40 ms grid.
  auto exported = probe(out);
  ASSERT_TRUE(exported.ok()) << exported.message();
  ASSERT_EQ(exported->frame_count, src->frame_count);
  for (std::size_t i = 0; i < exported->frame_pts.size(); ++i) {
    const Millis t = exported->frame_pts[i];
    EXPECT_EQ(t % 40, 0) << i;
    if (i > 0) {
      EXPECT_LT(exported->frame_pts[i - 1], t) << i;
    }
    EXPECT_GE(t, src->frame_pts[i]) << i;
    EXPECT_LT(t, src->frame_pts[i] + 120) << i << ": the grid moves a frame by a slot or so";
  }

  // A plain decode, with ffmpeg's own timing, says nothing.
  const std::string errors = testing::run("ffmpeg -v error -i '" + out + "' -f null - 2>&1", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(errors, "");

  // Re-encoding with ffmpeg's defaults (constant rate for mp4) drops nothing:
  // every exported frame is there, gaps filled with copies.
  const std::string progress =
      testing::run("ffmpeg -nostdin -y -v error -nostats -progress pipe:1 -i '" + out + "' '" + re + "'", &rc);
  ASSERT_EQ(rc, 0) << progress;
  EXPECT_EQ(progressValue(progress, "drop_frames"), 0) << progress;
  const long long dups = progressValue(progress, "dup_frames");
  const long long exported_frames = countFrames(out), re_frames = countFrames(re);
  EXPECT_EQ(exported_frames, src->frame_count);
  EXPECT_EQ(re_frames, exported_frames + dups) << "dups " << dups;
  std::printf("recording %lld frames over %lld ms; export r_frame_rate,avg_frame_rate %s; re-encode "
              "%lld frames (%lld copies, %lld dropped)\n",
              src->frame_count, static_cast<long long>(src->duration_ms), rates.c_str(), re_frames, dups,
              progressValue(progress, "drop_frames"));
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
