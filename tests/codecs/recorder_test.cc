#include "codecs/recorder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "codecs/video_reader.h"
#include "core/clock.h"
#include "tests/codecs/fake_terminal.h"
#include "tests/codecs/test_util.h"

namespace vigil::codecs {
namespace {

using testing::FakeTerminal;
using testing::TempDir;
using testing::publishAndWait;
using testing::waitFor;

// A frame of the same size showing only `r` of `src`'s damage: for comparing
// a decoded frame cropped to the source size.
Frame crop(const Frame& f, int w, int h) {
  Frame out(w, h);
  for (int y = 0; y < h; ++y) std::copy(f.row(y), f.row(y) + w * 4, out.row(y));
  return out;
}

// The video packets as ffprobe (an independent reader) sees them; pts in the
// stream's millisecond time base.
struct Packet {
  Millis pts;
  long size;
  bool key;
};

std::vector<Packet> packets(const std::string& path) {
  std::istringstream lines(testing::run("ffprobe -v error -select_streams v -show_entries "
                                        "packet=pts,size,flags -of csv=p=0 '" + path + "'"));
  std::vector<Packet> out;
  for (std::string line; std::getline(lines, line);) {
    Packet p{};
    char flags[8] = {};
    long long pts = 0;
    if (std::sscanf(line.c_str(), "%lld,%ld,%7s", &pts, &p.size, flags) == 3) {
      p.pts = pts;
      p.key = flags[0] == 'K';
      out.push_back(p);
    }
  }
  return out;
}

std::vector<Millis> keyframeTimes(const std::vector<Packet>& ps) {
  std::vector<Millis> out;
  for (const Packet& p : ps)
    if (p.key) out.push_back(p.pts);
  return out;
}

TEST(Recorder, OpenFailsWhenTheFileCannotBeCreated) {
  auto r = Recorder::open("/nonexistent-dir/for/sure/rec.mp4");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("cannot create recording"), std::string::npos) << r.message();
}

TEST(Recorder, OpenCreatesTheFileAtOnceAndNeverClobbers) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  {
    auto r = Recorder::open(path);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(std::filesystem::exists(path));
    auto again = Recorder::open(path);
    EXPECT_FALSE(again.ok());
    (*r)->close();
    (*r)->close();  // idempotent
    EXPECT_TRUE((*r)->healthy()) << (*r)->lastError();
  }
  RecorderOptions o;
  o.overwrite = true;
  EXPECT_TRUE(Recorder::open(path, o).ok());
}

// A screen put together from the last few screens (a window closed over a
// terminal, a pager left at once) is coded from them, not anew, also where
// the seam runs through a macroblock row (here 8 rows into one: 0.5 KB
// against 44 KB for the page of new text; 0.9 KB without mixed-refs,
// where the 8x8 blocks of a macroblock share one reference frame).
TEST(Recorder, AScreenPiecedFromEarlierScreensCostsLittle) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal a(1280, 720, 1), b(1280, 720, 2);
  a.output(40);
  b.output(40);
  Frame pieced = a.frame();
  constexpr int kSeam = 360;  // 22.5 macroblock rows
  for (int y = kSeam; y < pieced.height(); ++y)
    std::copy(b.frame().row(y), b.frame().row(y) + pieced.stride(), pieced.row(y));
  publishAndWait(**rec, a.frame(), DirtyRegion(a.frame().bounds()), 0);
  publishAndWait(**rec, b.frame(), DirtyRegion(b.frame().bounds()), 200);
  publishAndWait(**rec, pieced, DirtyRegion(pieced.bounds()), 400);
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();

  std::vector<long> bytes;
  for (const Packet& p : packets(path)) bytes.push_back(p.size);
  ASSERT_GE(bytes.size(), 3u);
  std::printf("[ measure  ] page %ld bytes, another page %ld, pieced from both %ld\n", bytes[0], bytes[1],
              bytes[2]);
  EXPECT_LT(bytes[2] * 20, bytes[1]);  // under 5 % of a page of new text
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, pieced), 35.0);
}

TEST(Recorder, RoundTripKeepsTextLegibleAndTimesExact) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  // The times below run on their own clock, as fast as frames encode; an
  // encode starved for a whole flush interval (a loaded 2-core machine)
  // would flush the held frame "until now" on the wall clock and shift the
  // next frames' times (by design: crash safety first). Not tested here.
  RecorderOptions o;
  o.flush_interval_ms = 60000;
  auto rec = Recorder::open(path, o);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(1280, 720);
  std::vector<Millis> times;
  Frame middle;
  Millis middle_t = 0;
  Millis t = 700;  // the first frame shows the screen from 0, whatever its time
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), t);
  times.push_back(t);
  for (int i = 0; i < 60; ++i) {
    t += 37 + (i % 5) * 20;
    DirtyRegion d = (i % 15 == 14) ? term.output(6) : term.type(term.randomChar());
    if (i % 10 == 0) d.add(term.clock(t / 1000));
    publishAndWait(**rec, term.frame(), d, t);
    times.push_back(t);
    if (i == 30) {
      middle = term.frame();
      middle_t = t;
    }
  }
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  const RecorderStats s = (*rec)->stats();
  EXPECT_EQ(s.frames_encoded - s.repeats, 61);
  EXPECT_EQ(s.repeats, 1);  // the 1 ms end marker
  EXPECT_EQ(s.bytes_written, std::filesystem::file_size(path));

  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(info->codec, "h264");
  EXPECT_EQ(info->width, 1280);
  EXPECT_EQ(info->height, 720);
  ASSERT_EQ(info->frame_pts.size(), times.size() + 1);  // + the end marker
  EXPECT_EQ(info->frame_pts[0], 0);
  for (std::size_t i = 1; i < times.size(); ++i) EXPECT_EQ(info->frame_pts[i], times[i]) << i;
  EXPECT_GE(info->duration_ms, t);

  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  const double p_last = psnr(*last, term.frame());
  auto mid = decodeFrameAt(path, middle_t + 5);  // within that frame's display time
  ASSERT_TRUE(mid.ok()) << mid.message();
  const double p_mid = psnr(*mid, middle);
  std::printf("[ measure  ] round trip 1280x720 (default qp): PSNR last=%.2f dB middle=%.2f dB\n", p_last, p_mid);
  EXPECT_GE(p_last, 35.0);
  EXPECT_GE(p_mid, 35.0);
  // The frame before the middle one differs from it: decodeFrameAt really picks by time.
  auto before = decodeFrameAt(path, middle_t - 1);
  ASSERT_TRUE(before.ok());
  EXPECT_LT(psnr(*before, middle), p_mid);
}

TEST(Recorder, UnchangedScreenCostsNothing) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(800, 600);
  term.typeString("idle screen");
  // 10 s of identical publishes with full damage (as some servers send).
  for (Millis t = 0; t <= 10000; t += 100)
    publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), t);
  (*rec)->close();
  const RecorderStats s = (*rec)->stats();
  // The first frame and the end marker (plus a repeat if an idle flush came between).
  EXPECT_LE(s.frames_encoded, 3);
  EXPECT_GE(s.frames_unchanged, 95);
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_LE(info->frame_count, 3);
  EXPECT_GE(info->duration_ms, 10000);  // the video still lasts the session
}

TEST(Recorder, SlowWorkerMergesDamageAndEndsOnTheFinalState) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(1920, 1080);
  // Publish far faster than 1080p encodes: the relay never waits.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 300; ++i) {
    DirtyRegion d = (i % 40 == 39) ? term.output(3) : term.type(term.randomChar());
    (*rec)->onFrame(term.frame(), d, i * 5);
  }
  const double publish_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  const RecorderStats s = (*rec)->stats();
  std::printf("[ measure  ] 300 publishes in %.1f ms: %lld frames encoded, %lld merged\n", publish_ms,
              s.frames_encoded, s.frames_merged);
  EXPECT_GT(s.frames_merged, 0);
  EXPECT_LT(s.frames_encoded, 300);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  const double db = psnr(*last, term.frame());
  std::printf("[ measure  ] final frame PSNR %.1f dB\n", db);
  EXPECT_GE(db, 35.0);
}


TEST(Recorder, FrameIntervalMergesABurstButKeepsItsLastScreen) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  RecorderOptions o;
  o.min_frame_interval_ms = 200;
  auto rec = Recorder::open(path, o);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(640, 360);
  // A 1 s burst, a change every 10 ms: about one frame per 200 ms.
  const auto start = std::chrono::steady_clock::now();
  Millis t = 0;
  for (int i = 0; i < 100; ++i) {
    t = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    (*rec)->onFrame(term.frame(), term.type(term.randomChar()), t);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The burst's last change reaches the file within one interval, not at close.
  ASSERT_TRUE(waitFor([&] { return (*rec)->stats().publishesHandled() == 100; }, std::chrono::seconds(2)));
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  const RecorderStats s = (*rec)->stats();
  const long long pictures = s.frames_encoded - s.repeats;
  std::printf("[ measure  ] 100 changes in %lld ms at a 200 ms interval: %lld frames\n",
              static_cast<long long>(t), pictures);
  EXPECT_GE(pictures, 4);
  EXPECT_LE(pictures, 1 + t / 200 + 1);
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  // Frames carry the time of their newest change: apart by about the
  // interval, but for the burst's end, taken one interval after the frame
  // before while stamped when it happened. Then the end marker.
  ASSERT_EQ(info->frame_pts.size(), static_cast<std::size_t>(s.frames_encoded));
  for (std::size_t i = 1; i + 2 < info->frame_pts.size(); ++i)
    EXPECT_GE(info->frame_pts[i] - info->frame_pts[i - 1], 150) << i;
  EXPECT_EQ(info->frame_pts[info->frame_pts.size() - 2], t);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, term.frame()), 35.0);
}
TEST(Recorder, CrashLosesAtMostTheLastTwoSeconds) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  const std::string copy = dir.file("crash-copy.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(1024, 768);
  SteadyClock clock;
  Millis last_t = 0;
  // Real time: typing every 100 ms for 3.5 s.
  while (clock.now() < 3500) {
    last_t = clock.now();
    (*rec)->onFrame(term.frame(), term.type(term.randomChar()), last_t);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // kill -9 here: only what is in the file now survives.
  std::filesystem::copy_file(path, copy);
  const Millis copied_at = clock.now();
  auto info = probe(copy);
  ASSERT_TRUE(info.ok()) << info.message();
  ASSERT_GT(info->frame_count, 0);
  std::printf("[ measure  ] crash copy at t=%lld ms holds frames up to %lld ms (last publish %lld)\n",
              static_cast<long long>(copied_at), static_cast<long long>(info->frame_pts.back()),
              static_cast<long long>(last_t));
  EXPECT_GE(info->frame_pts.back(), last_t - 2000);
  auto last = decodeLastFrame(copy);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_EQ(last->width(), 1024);
  int rc = 0;
  const std::string out = testing::run("ffprobe -v error -count_frames -select_streams v:0 "
                                       "-show_entries stream=nb_read_frames -of csv=p=0 '" + copy + "'", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_GT(std::atoll(out.c_str()), 0) << out;
  (*rec)->close();
  EXPECT_TRUE((*rec)->healthy()) << (*rec)->lastError();
}

TEST(Recorder, IdleFlushKeepsLaterFramesAtTheirTimes) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  RecorderOptions o;
  o.flush_interval_ms = 200;
  auto rec = Recorder::open(path, o);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(640, 480);
  SteadyClock clock;
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), clock.now());
  // The held first frame goes to disk after the flush interval while idle.
  ASSERT_TRUE(waitFor([&] { return (*rec)->stats().fragments >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const Millis t2 = clock.now();
  publishAndWait(**rec, term.frame(), term.typeString("ls -l"), t2);
  (*rec)->close();
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  ASSERT_GE(info->frame_pts.size(), 2u);
  // The typed frame is at its real time (a repeat of the first fills the gap).
  EXPECT_NE(std::find(info->frame_pts.begin(), info->frame_pts.end(), t2), info->frame_pts.end());
  EXPECT_GE((*rec)->stats().repeats, 1);
  EXPECT_GE(info->frame_pts.size(), 3u);
}

TEST(Recorder, AfterAnIdlePauseASmallChangeStillShowsTheWholeScreen) {
  // An idle recorder drops its working copy of the screen; the next frame,
  // damaged in one line only, must still be recorded over the whole screen.
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(800, 600);
  term.output(20);
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  publishAndWait(**rec, term.frame(), term.typeString("whoami"), 3500);
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, term.frame()), 35.0);
}

// Flushes and parks within a test's patience.
RecorderOptions parkingSoon() {
  RecorderOptions o;
  o.flush_interval_ms = 200;
  o.park_encoder_after_ms = 300;
  return o;
}

// A due keyframe lands where the screen's text is replaced (its P-frame
// would code a whole page anyway), not on the typed character that happens
// to come first, as it did before keyframe_fresh_share.
TEST(Recorder, ADueKeyframeLandsOnANewPageNotOnATypedCharacter) {
  for (const double fresh : {0.5, 0.0}) {
    TempDir dir;
    const std::string path = dir.file("rec.mp4");
    RecorderOptions o;
    o.keyframe_interval_ms = 1000;
    o.keyframe_bytes_ratio = 0;  // due by time alone
    o.keyframe_fresh_share = fresh;
    o.keyframe_wait_bytes_ratio = 100;
    o.flush_interval_ms = 60000;  // exact times (see RoundTripKeepsTextLegibleAndTimesExact)
    auto rec = Recorder::open(path, o);
    ASSERT_TRUE(rec.ok()) << rec.message();
    FakeTerminal a(1280, 720, 1), b(1280, 720, 2);
    a.output(40);
    b.output(40);
    publishAndWait(**rec, a.frame(), DirtyRegion(a.frame().bounds()), 0);
    Millis t = 0;
    for (int i = 0; i < 10; ++i) publishAndWait(**rec, a.frame(), a.type(a.randomChar()), t += 250);
    a.output(3);  // output scrolls the page: moved text is not new
    publishAndWait(**rec, a.frame(), DirtyRegion(a.frame().bounds()), t += 250);
    const Millis page_t = t += 250;
    publishAndWait(**rec, b.frame(), DirtyRegion(b.frame().bounds()), page_t);
    for (int i = 0; i < 4; ++i) publishAndWait(**rec, b.frame(), b.type(b.randomChar()), t += 250);
    (*rec)->close();
    ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
    const std::vector<Millis> keys = keyframeTimes(packets(path));
    if (fresh > 0)
      EXPECT_EQ(keys, (std::vector<Millis>{0, page_t}));
    else  // the rule before: whatever frame comes first once due
      EXPECT_EQ(keys, (std::vector<Millis>{0, 1000, 2000, 3000, 4000}));
  }
}

// While a keyframe waits for a new page, seeking stays bounded: it is forced
// once the frames since the last keyframe weigh keyframe_wait_bytes_ratio
// times its size, and at keyframe_max_interval_ms.
TEST(Recorder, AWaitingKeyframeIsForcedByTheSeekBound) {
  for (const bool by_bytes : {true, false}) {
    TempDir dir;
    const std::string path = dir.file("rec.mp4");
    RecorderOptions o;
    o.keyframe_interval_ms = 1000;
    o.keyframe_bytes_ratio = 0;
    o.keyframe_floor_bytes_per_pixel = 0;  // the bound is the first keyframe's size
    o.keyframe_wait_bytes_ratio = by_bytes ? 0.25 : 1000;
    o.keyframe_max_interval_ms = by_bytes ? 300000 : 4000;
    o.flush_interval_ms = 60000;
    auto rec = Recorder::open(path, o);
    ASSERT_TRUE(rec.ok()) << rec.message();
    FakeTerminal term(1280, 720, 3);
    term.output(40);
    publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
    // Commands with a few lines of output: scrolled pages, never a new one.
    Millis t = 0;
    for (int i = 0; i < 40; ++i) {
      DirtyRegion d = term.type(term.randomChar());
      if (i % 2 == 1) d.add(term.output(4));
      publishAndWait(**rec, term.frame(), d, t += 250);
    }
    (*rec)->close();
    ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
    const std::vector<Packet> ps = packets(path);
    ASSERT_GE(ps.size(), 3u);
    ASSERT_TRUE(ps[0].key);
    std::size_t forced = 0;
    long before = 0;  // P-frame bytes before the forced keyframe
    for (std::size_t i = 1; i < ps.size() && !forced; ++i) {
      if (ps[i].key) forced = i;
      else before += ps[i].size;
    }
    ASSERT_GT(forced, 0u) << "no keyframe was forced";
    if (by_bytes) {
      const long bound = ps[0].size / 4;
      std::printf("[ measure  ] keyframe %ld bytes; forced after %ld bytes of P-frames (bound %ld), at %lld ms\n",
                  ps[0].size, before, bound, static_cast<long long>(ps[forced].pts));
      EXPECT_GE(before, bound);
      EXPECT_LT(before - ps[forced - 1].size, bound);  // at the first frame past the bound
    } else {
      EXPECT_EQ(ps[forced].pts, 4000);
    }
  }
}

TEST(Recorder, AStillScreenFreesItsEncoderAndResumesWithAKeyframe) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path, parkingSoon());
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(800, 600);
  term.output(20);
  const Frame before = term.frame();
  publishAndWait(**rec, before, DirtyRegion(before.bounds()), 0);
  ASSERT_TRUE(waitFor([&] { return (*rec)->stats().parks == 1; }));
  publishAndWait(**rec, term.frame(), term.output(12), 1500);
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  // The first frame, and one keyframe per resume. A slow machine may park
  // again after the last change (300 ms still): the end marker written at
  // close then resumes once more.
  EXPECT_GE((*rec)->stats().parks, 1);
  EXPECT_EQ((*rec)->stats().keyframes, 1 + (*rec)->stats().parks);

  // One stream that decodes cleanly across the reopened encoder, showing
  // the old screen during the pause and the new one after it.
  int rc = 0;
  EXPECT_EQ(testing::decodeErrors(path, &rc), "");
  EXPECT_EQ(rc, 0);
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_NE(std::find(info->frame_pts.begin(), info->frame_pts.end(), 1500), info->frame_pts.end());
  auto mid = decodeFrameAt(path, 1000);
  ASSERT_TRUE(mid.ok()) << mid.message();
  EXPECT_GE(psnr(*mid, before), 35.0);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, term.frame()), 35.0);
  EXPECT_LT(psnr(*last, before), 35.0);
}

TEST(Recorder, ClosingWhileParkedEndsTheVideoAtTheSessionEnd) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path, parkingSoon());
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(640, 480);
  SteadyClock clock;
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), clock.now());
  ASSERT_TRUE(waitFor([&] { return (*rec)->stats().parks == 1; }));
  const Millis closed_at = clock.now();
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_GE(info->frame_pts.back(), closed_at - 100);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GE(psnr(*last, term.frame()), 35.0);
}

TEST(Recorder, ResizeKeepsOneFileLetterboxed) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  Frame a(640, 480);
  a.fill(a.bounds(), 0x2040a0);
  publishAndWait(**rec, a, DirtyRegion(a.bounds()), 0);
  // Wider than the canvas: scaled to 640x256, black bars above and below.
  Frame b(1000, 400);
  b.fill(b.bounds(), 0xe0c020);
  (*rec)->onResize(1000, 400, 1000);
  publishAndWait(**rec, b, DirtyRegion(b.bounds()), 1000);
  Frame c(641, 481);  // odd and close: also fitted
  c.fill(c.bounds(), 0x20c040);
  publishAndWait(**rec, c, DirtyRegion(c.bounds()), 2000);
  (*rec)->close();
  ASSERT_TRUE((*rec)->healthy()) << (*rec)->lastError();

  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(info->width, 640);
  EXPECT_EQ(info->height, 480);
  EXPECT_EQ(info->frame_count, 4);  // + the end marker
  auto mid = decodeFrameAt(path, 1500);
  ASSERT_TRUE(mid.ok()) << mid.message();
  auto near = [](std::uint32_t got, std::uint32_t want) {
    for (int sh : {0, 8, 16})
      if (std::abs(static_cast<int>((got >> sh) & 0xff) - static_cast<int>((want >> sh) & 0xff)) > 12)
        return false;
    return true;
  };
  EXPECT_TRUE(near(mid->pixel(320, 240), 0xe0c020)) << std::hex << mid->pixel(320, 240);
  EXPECT_TRUE(near(mid->pixel(320, 20), 0x000000)) << std::hex << mid->pixel(320, 20);
  EXPECT_TRUE(near(mid->pixel(320, 460), 0x000000)) << std::hex << mid->pixel(320, 460);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(near(last->pixel(320, 240), 0x20c040)) << std::hex << last->pixel(320, 240);
  int rc = 0;
  const std::string dims = testing::run(
      "ffprobe -v error -show_entries stream=width,height -of csv=p=0 '" + path + "'", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(dims, "640,480");
}

TEST(Recorder, OddSizeIsPaddedNotScaled) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(801, 601);
  term.typeString("odd sized desktop");
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
  (*rec)->close();
  auto info = probe(path);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(info->width, 802);
  EXPECT_EQ(info->height, 602);
  auto last = decodeLastFrame(path);
  ASSERT_TRUE(last.ok());
  EXPECT_GE(psnr(crop(*last, 801, 601), term.frame()), 35.0);
}

TEST(Recorder, LiveTapSeesTheFileBytes) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  RecorderOptions o;
  o.flush_interval_ms = 100;
  auto rec = Recorder::open(path, o);
  ASSERT_TRUE(rec.ok()) << rec.message();
  std::mutex mu;
  std::string init, stream;
  int keyed = 0;
  (*rec)->setFragmentListener([&](const LiveFragment& f) {
    std::lock_guard lock(mu);
    if (init.empty()) init = f.init_segment;
    if (stream.empty() && !f.starts_with_keyframe) return;
    if (f.starts_with_keyframe) ++keyed;
    stream.append(reinterpret_cast<const char*>(f.data), f.size);
  });
  FakeTerminal term(640, 480);
  SteadyClock clock;
  for (int i = 0; i < 20; ++i) {
    publishAndWait(**rec, term.frame(), term.type(term.randomChar()), clock.now());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(waitFor([&] { std::lock_guard lock(mu); return !stream.empty(); }));
  (*rec)->close();
  std::lock_guard lock(mu);
  const std::string file = testing::readFile(path);
  ASSERT_FALSE(init.empty());
  EXPECT_EQ(testing::topLevelBoxes(init), (std::vector<std::string>{"ftyp", "moov"}));
  EXPECT_EQ(file.compare(0, init.size(), init), 0);
  EXPECT_EQ(file.compare(init.size(), stream.size(), stream), 0);  // fragments follow in order
  EXPECT_EQ(keyed, 1);
  EXPECT_EQ(testing::topLevelBoxes(stream).front(), "moof");
}

// The numbers for docs/recording.md: encode cost of typical text damage at 1080p.
TEST(Recorder, TimingAt1080p) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  auto rec = Recorder::open(path);
  ASSERT_TRUE(rec.ok()) << rec.message();
  FakeTerminal term(1920, 1080);
  term.prompt();
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
  const RecorderStats s0 = (*rec)->stats();
  const std::clock_t cpu0 = std::clock();
  const int n = 100;
  Millis t = 0;
  for (int i = 0; i < n; ++i) {
    t += 200;
    char c = term.randomChar();
    publishAndWait(**rec, term.frame(), term.type(c == ' ' ? 'x' : c), t);
  }
  const double cpu_ms = 1000.0 * (std::clock() - cpu0) / CLOCKS_PER_SEC;
  const RecorderStats s1 = (*rec)->stats();
  const double frames = static_cast<double>(s1.frames_encoded - s0.frames_encoded);
  std::printf("[ measure  ] 1920x1080 one-character damage: %.2f ms/frame worker time, "
              "%.2f ms/frame process CPU, %.0f bytes/frame\n",
              (s1.encode_ms_total - s0.encode_ms_total) / frames, cpu_ms / frames,
              static_cast<double>(s1.bytes_written - s0.bytes_written) / frames);
  (*rec)->close();
  EXPECT_EQ(frames, n);
}

}  // namespace
}  // namespace vigil::codecs
