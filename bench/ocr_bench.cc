// OCR benchmark, one run, two comparisons:
//  1. latency per title strip: vigil's TitleReader (one long-lived Tesseract)
//     against the `tesseract` CLI on the same crops (p50/p99, wall and CPU),
//     with both results checked against the known titles;
//  2. CPU per active session-minute of a TitleTracker on a scripted stream
//     (windows opening, typing, scrolling) fed in real time.
//
// usage: ocr_bench [--strips N] [--stream-seconds S] [--corpus DIR]
//   --corpus DIR adds screens from a kept corpus (VIGIL_OCR_CORPUS_DIR of
//   ocr_corpus_test): real openbox/xfwm4/icewm captions.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "ocr/title_finder.h"
#include "ocr/title_reader.h"
#include "ocr/title_tracker.h"
#include "tests/ocr/corpus.h"

using namespace vigil;
using namespace vigil::ocr;
using Ms = std::chrono::duration<double, std::milli>;

namespace {

double processCpuS() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double childCpuS() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * v.size()));
  return v[i];
}

struct Crop {
  Frame screen;
  TitleStrip strip;
  std::string truth;
};

void savePng(const Frame& f, Rect r, const std::string& path) {
  cv::Mat m(r.h, r.w, CV_8UC3);
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x) {
      const std::uint32_t p = f.pixel(r.x + x, r.y + y);
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(p & 0xff, (p >> 8) & 0xff, (p >> 16) & 0xff);
    }
  cv::imwrite(path, m);
}

class NullSink : public EventSink {
 public:
  void onEvent(const Event& e) override {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::mutex mu;
  std::vector<Event> events;
};

}  // namespace

int main(int argc, char** argv) {
  int n_strips = 60;
  double stream_s = 30;
  std::string corpus;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--strips") n_strips = std::atoi(argv[i + 1]);
    else if (a == "--stream-seconds") stream_s = std::atof(argv[i + 1]);
    else if (a == "--corpus") corpus = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: ocr_bench [--strips N] [--stream-seconds S] [--corpus DIR]\n");
      return 2;
    }
  }

  // ---- 1. latency per strip ------------------------------------------------
  std::vector<Crop> crops;
  const TitleFinder finder;
  const auto titles = testing::makeTitles(n_strips, 777);
  const char* styles[] = {"win10-light", "win10-dark", "win10-accent", "win11-light", "win7"};
  for (int i = 0; i < static_cast<int>(titles.size()); ++i) {
    std::string shown;
    Frame f = testing::renderWindowsScreen(styles[i % 5], titles[i], "Event Viewer", nullptr, &shown);
    for (const TitleStrip& s : finder.find(f))
      if (s.focused) crops.push_back({f, s, shown});
  }
  if (!corpus.empty()) {
    std::ifstream man(corpus + "/manifest.tsv");
    int taken = 0;
    for (std::string line; std::getline(man, line) && taken < n_strips;) {
      std::istringstream is(line);
      std::string img, style, rect, trunc, expected;
      std::getline(is, img, '\t');
      std::getline(is, style, '\t');
      std::getline(is, rect, '\t');
      std::getline(is, trunc, '\t');
      std::getline(is, expected);
      if (style.rfind("win", 0) == 0 || trunc == "1") continue;
      Frame f = testing::loadPng(img);
      for (const TitleStrip& s : finder.find(f))
        if (s.focused) { crops.push_back({f, s, expected}); ++taken; }
    }
  }
  auto reader = TitleReader::create();
  if (!reader) {
    std::fprintf(stderr, "%s\n", reader.message().c_str());
    return 1;
  }
  std::vector<double> ours_wall, ours_cpu, cli_wall, find_ms;
  int ours_ok = 0, cli_ok = 0;
  const std::string tmp = "/tmp/vigil-ocr-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(tmp);
  for (std::size_t i = 0; i < crops.size(); ++i) {
    const Crop& c = crops[i];
    {
      const auto t0 = std::chrono::steady_clock::now();
      (void)finder.find(c.screen);
      find_ms.push_back(Ms(std::chrono::steady_clock::now() - t0).count());
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = testing::threadCpuMs();
    auto r = (*reader)->read(c.screen, c.strip.text);
    ours_cpu.push_back(testing::threadCpuMs() - c0);
    ours_wall.push_back(Ms(std::chrono::steady_clock::now() - t0).count());
    ours_ok += r.ok() && r->text == c.truth;

    // The CLI on the very same crop (raw pixels, as a user would feed it).
    const std::string png = tmp + "/crop" + std::to_string(i) + ".png";
    savePng(c.screen, c.strip.text, png);
    const std::string cmd = "tesseract " + png + " " + tmp + "/out --psm 7 -l " +
                            (*reader)->language() + " >/dev/null 2>&1";
    const auto t1 = std::chrono::steady_clock::now();
    const int rc = std::system(cmd.c_str());
    cli_wall.push_back(Ms(std::chrono::steady_clock::now() - t1).count());
    std::ifstream out(tmp + "/out.txt");
    std::string text;
    std::getline(out, text);
    cli_ok += rc == 0 && text == c.truth;
  }
  const double cli_cpu_s = childCpuS();
  std::filesystem::remove_all(tmp);
  std::printf("strips: %zu (lang %s)\n", crops.size(), (*reader)->language().c_str());
  std::printf("%-22s %9s %9s %9s %9s %8s\n", "", "p50 ms", "p99 ms", "cpu p50", "cpu p99", "exact");
  std::printf("%-22s %9.1f %9.1f %9.1f %9.1f %7.1f%%\n", "vigil TitleReader", pct(ours_wall, 50),
              pct(ours_wall, 99), pct(ours_cpu, 50), pct(ours_cpu, 99),
              100.0 * ours_ok / std::max<std::size_t>(1, crops.size()));
  std::printf("%-22s %9.1f %9.1f %9.1f %9s %7.1f%%\n", "tesseract CLI", pct(cli_wall, 50),
              pct(cli_wall, 99), 1000.0 * cli_cpu_s / std::max<std::size_t>(1, crops.size()),
              "(mean)", 100.0 * cli_ok / std::max<std::size_t>(1, crops.size()));
  std::printf("%-22s %9.1f %9.1f\n", "finder, whole screen", pct(find_ms, 50), pct(find_ms, 99));

  // ---- 2. tracker CPU per session-minute ------------------------------------
  // Script: every 5 s a new window comes to front (whole-screen damage);
  // in between, typing (a cursor-sized damage every 100 ms) and scrolling
  // output (the client area damaged once a second). 10 updates per second.
  std::vector<Frame> screens;
  std::vector<std::string> screen_titles;
  const auto stream_titles = testing::makeTitles(12, 4242);
  for (std::size_t i = 0; i < stream_titles.size(); ++i) {
    std::string shown;
    screens.push_back(testing::renderWindowsScreen(styles[i % 5], stream_titles[i], "Event Viewer",
                                                   nullptr, &shown));
    screen_titles.push_back(shown);
  }
  OcrPool pool(1);
  if (!pool.waitReady().ok()) return 1;
  NullSink sink;
  TitleTracker tracker(pool, sink, nullptr);
  const double cpu0 = processCpuS();
  const auto start = std::chrono::steady_clock::now();
  int ticks = static_cast<int>(stream_s * 10);
  double feed_cpu_ms = 0;
  for (int k = 0; k < ticks; ++k) {
    const Millis t = k * 100;
    const std::size_t which = static_cast<std::size_t>(t / 5000) % screens.size();
    const Frame& f = screens[which];
    DirtyRegion d;
    if (t % 5000 == 0) d.add(f.bounds());
    else if (t % 1000 == 0) d.add(Rect{130, 320, 680, 180});
    else d.add(Rect{140 + static_cast<int>(k % 60) * 8, 330, 8, 16});
    const double c0 = testing::threadCpuMs();
    tracker.onFrame(f, d, t);
    feed_cpu_ms += testing::threadCpuMs() - c0;
    std::this_thread::sleep_until(start + std::chrono::milliseconds(t + 100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the last pass finish
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = processCpuS() - cpu0;
  tracker.close();
  const auto st = tracker.stats();
  int hits = 0;
  {
    std::lock_guard lock(sink.mu);
    for (const Event& e : sink.events)
      hits += std::find(screen_titles.begin(), screen_titles.end(), e.text) != screen_titles.end();
  }
  std::printf("\ntracker stream: %.0f s, %lld frames, %lld passes, %lld OCR reads, %lld title events "
              "(%d match the script's %zu window switches)\n",
              wall, st.frames, st.passes, st.reads, st.events, hits,
              static_cast<std::size_t>(stream_s / 5) + 1);
  std::printf("tracker CPU: %.2f %% of a core (%.1f CPU-s per session-minute; onFrame on the "
              "relay thread: %.3f ms per frame)\n",
              100.0 * cpu / wall, 60.0 * cpu / wall, feed_cpu_ms / std::max(1, ticks));
  return 0;
}
