// Measures the recorder on a synthetic admin workload (typing in a terminal at
// 1920x1080 with command output, scrolling and a status-bar clock): file size
// per hour, CPU, legibility (PSNR). Not a test: the numbers in docs/recording.md
// come from it.
//   recorder_measure [--seconds S] [--qp N] [--preset P] [--keyint-ms K] [--key-ratio R]
//                    [--keyint-max-ms M] [--key-fresh SHARE] [--key-wait-ratio R]
//                    [--x264 "k=v:..."] [--width W --height H] [--out FILE]
//                    [--max-lines N]   (command output: 0..N lines after each command)
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "codecs/recorder.h"
#include "codecs/video_reader.h"
#include "tests/codecs/fake_terminal.h"

using namespace vigil;
using namespace vigil::codecs;

namespace {
double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
}  // namespace

int main(int argc, char** argv) {
  RecorderOptions o;
  o.overwrite = true;
  int seconds = 180, width = 1920, height = 1080, max_lines = 8;
  std::string out = "/tmp/vigil-recorder-measure.mp4";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--seconds") seconds = std::stoi(v);
    else if (k == "--qp" || k == "--crf") o.qp = std::stoi(v);  // --crf: its name before the constant QP
    else if (k == "--preset") o.preset = v;
    else if (k == "--keyint-ms") o.keyframe_interval_ms = std::stoll(v);
    else if (k == "--key-ratio") o.keyframe_bytes_ratio = std::stod(v);
    else if (k == "--keyint-max-ms") o.keyframe_max_interval_ms = std::stoll(v);
    else if (k == "--key-fresh") o.keyframe_fresh_share = std::stod(v);
    else if (k == "--key-wait-ratio") o.keyframe_wait_bytes_ratio = std::stod(v);
    else if (k == "--x264") o.x264_params = v;
    else if (k == "--width") width = std::stoi(v);
    else if (k == "--height") height = std::stoi(v);
    else if (k == "--out") out = v;
    else if (k == "--max-lines") max_lines = std::stoi(v);
    else { std::fprintf(stderr, "unknown option %s\n", k.c_str()); return 2; }
  }
  auto rec = Recorder::open(out, o);
  if (!rec) { std::fprintf(stderr, "%s\n", rec.message().c_str()); return 1; }
  testing::FakeTerminal term(width, height, 7);
  std::mt19937& rng = term.rng();
  auto uni = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };

  struct Sample { Millis t; Frame f; };
  std::vector<Sample> samples;
  long long publishes = 0;
  const double cpu0 = cpuSeconds();
  auto publish = [&](const DirtyRegion& d, Millis t) {
    const long long before = (*rec)->stats().publishesHandled();
    (*rec)->onFrame(term.frame(), d, t);
    ++publishes;
    while ((*rec)->stats().publishesHandled() <= before) std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  Millis t = 0;
  long long clock_s = -1;
  DirtyRegion d = term.prompt();
  d.add(term.clock(0));
  publish(DirtyRegion(term.frame().bounds()), 0);
  const Millis end = seconds * 1000LL;
  while (t < end) {
    // A command: typed at 120..400 ms a key, then its output, then a pause.
    const int len = uni(4, 40);
    for (int i = 0; i < len && t < end; ++i) {
      t += uni(120, 400);
      DirtyRegion dd = term.type(term.randomChar());
      if (t / 1000 != clock_s) { clock_s = t / 1000; dd.add(term.clock(clock_s)); }
      publish(dd, t);
    }
    t += uni(100, 300);
    DirtyRegion outd = term.output(uni(0, max_lines));
    outd.add(term.prompt());
    publish(outd, t);
    if (samples.size() < 4 && t > static_cast<Millis>(samples.size() + 1) * end / 5)
      samples.push_back({t, term.frame()});
    const Millis pause = uni(1000, 8000);
    for (Millis p = 1000 - t % 1000; p < pause && t + p < end; p += 1000) {
      clock_s = (t + p) / 1000;
      publish(term.clock(clock_s), t + p);  // the clock ticks while the admin reads
    }
    t += pause;
  }
  (*rec)->close();
  const double cpu = cpuSeconds() - cpu0;
  const RecorderStats s = (*rec)->stats();
  double min_psnr = 1e9;
  for (const Sample& smp : samples) {
    auto f = decodeFrameAt(out, smp.t);
    if (f) min_psnr = std::min(min_psnr, psnr(*f, smp.f));
  }
  auto last = decodeLastFrame(out);
  const double last_psnr = last ? psnr(*last, term.frame()) : 0;
  const double hours = seconds / 3600.0;
  std::printf("qp=%d preset=%s keyint_ms=%lld ratio=%.2f fresh=%.2f wait_ratio=%.2f max_ms=%lld x264=\"%s\" %dx%d session=%ds publishes=%lld frames=%lld "
              "keyframes=%lld fragments=%lld bytes=%llu MB/h=%.2f cpu=%.2fs (%.2f%% of a core) "
              "ms/frame=%.2f psnr_last=%.2f psnr_min_samples=%.2f\n",
              o.qp, o.preset.c_str(), static_cast<long long>(o.keyframe_interval_ms),
              o.keyframe_bytes_ratio, o.keyframe_fresh_share, o.keyframe_wait_bytes_ratio,
              static_cast<long long>(o.keyframe_max_interval_ms), o.x264_params.c_str(),
              width, height, seconds, publishes, s.frames_encoded, s.keyframes, s.fragments,
              static_cast<unsigned long long>(s.bytes_written), s.bytes_written / 1e6 / hours, cpu,
              100.0 * cpu / seconds, s.encode_ms_total / s.frames_encoded, last_psnr, min_psnr);
  return 0;
}
