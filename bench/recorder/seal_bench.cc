// Encryption at rest, its cost in one run: the same synthetic terminal
// session (tests/codecs/fake_terminal.h: typing, output bursts, new pages,
// 1280x800, paced in real time so fragments are flushed as in a real
// session) recorded plain and sealed, alternating, then
//   - recorder CPU: the process's CPU seconds over the recording (the
//     publishing is the same in both; the difference is the sealing),
//   - bytes on disk,
//   - seek latency: open + seek + decode of the picture at a random time
//     (codecs::decodeFrameAt, the path export, thumbnails and tools take;
//     the browser's seek is Range reads: measured as open + a 1 MiB readAt
//     at a random offset through storage::RecordingReader).
// Usage: seal_bench --out DIR [--seconds 30] [--rounds 2] [--seeks 40]
// Writes DIR/seal_bench.json (every raw sample) and prints ratios.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "codecs/recorder.h"
#include "codecs/video_reader.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"
#include "storage/sealed_file.h"
#include "tests/codecs/fake_terminal.h"

namespace vigil::bench {
namespace {

using Clock = std::chrono::steady_clock;

double cpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

struct Run {
  std::string mode;
  double cpu_s = 0;
  std::uint64_t bytes = 0;
  std::uint64_t plain_bytes = 0;
  std::size_t records = 0;
  long long frames = 0;
};

// Records `seconds` of the workload into `path`; returns its figures.
Run record(const std::string& path, int seconds, std::shared_ptr<const storage::KeyRing> keys) {
  codecs::RecorderOptions o;
  o.seal_keys = std::move(keys);
  o.overwrite = true;
  Run run;
  run.mode = o.seal_keys ? "sealed" : "plain";
  const double cpu0 = cpuSeconds();
  auto rec = codecs::Recorder::open(path, o);
  if (!rec) {
    std::fprintf(stderr, "seal_bench: %s\n", rec.message().c_str());
    std::exit(1);
  }
  codecs::testing::FakeTerminal a(1280, 800, 1), b(1280, 800, 2);
  a.output(40);
  b.output(40);
  codecs::testing::FakeTerminal* term = &a;
  const auto start = Clock::now();
  (*rec)->onFrame(term->frame(), DirtyRegion(term->frame().bounds()), 0);
  for (Millis t = 150; t <= seconds * 1000; t += 150) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(t));
    DirtyRegion d;
    if (t % 10000 == 0) {  // another window's page
      term = term == &a ? &b : &a;
      d = DirtyRegion(term->frame().bounds());
    } else if (t % 3000 == 0) {
      d = term->output(6);
    } else {
      d = term->type(term->randomChar());
    }
    (*rec)->onFrame(term->frame(), d, t);
  }
  (*rec)->close();
  if (!(*rec)->healthy()) {
    std::fprintf(stderr, "seal_bench: %s\n", (*rec)->lastError().c_str());
    std::exit(1);
  }
  run.cpu_s = cpuSeconds() - cpu0;
  run.bytes = std::filesystem::file_size(path);
  run.frames = (*rec)->stats().frames_encoded;
  return run;
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  using namespace vigil;
  using namespace vigil::bench;
  std::string out;
  int seconds = 30, rounds = 2, seeks = 40;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--out") out = v;
    else if (k == "--seconds") seconds = std::stoi(v);
    else if (k == "--rounds") rounds = std::stoi(v);
    else if (k == "--seeks") seeks = std::stoi(v);
  }
  if (out.empty()) {
    std::fprintf(stderr, "usage: seal_bench --out DIR [--seconds 30] [--rounds 2] [--seeks 40]\n");
    return 2;
  }
  std::filesystem::create_directories(out);
  auto ring = std::make_shared<storage::KeyRing>();
  storage::RecordingKey k;
  k.id = 1;
  k.bytes.fill(0x42);
  ring->add(k);
  const std::shared_ptr<const storage::KeyRing> keys = ring;

  nlohmann::json runs = nlohmann::json::array();
  std::vector<double> cpu[2], overhead;
  std::uint64_t bytes[2] = {0, 0};
  for (int r = 0; r < rounds; ++r) {
    for (int m = 0; m < 2; ++m) {
      const int mode = (r % 2 == 0) ? m : 1 - m;  // alternate who goes first
      const std::string path = out + (mode ? "/sealed.mp4" : "/plain.mp4");
      Run run = record(path, seconds, mode ? keys : nullptr);
      auto reader = storage::RecordingReader::open(path, *keys);
      if (reader) {
        run.plain_bytes = (*reader)->size();
        run.records = (*reader)->records();
      }
      cpu[mode].push_back(run.cpu_s);
      if (mode) overhead.push_back(double(run.bytes) / double(run.plain_bytes));
      bytes[mode] = run.bytes;
      std::printf("round %d %-6s cpu %.2f s  bytes %llu  frames %lld  records %zu\n", r,
                  run.mode.c_str(), run.cpu_s, static_cast<unsigned long long>(run.bytes), run.frames,
                  run.records);
      runs.push_back({{"round", r}, {"mode", run.mode}, {"cpu_s", run.cpu_s}, {"bytes", run.bytes},
                      {"plaintext_bytes", run.plain_bytes}, {"records", run.records},
                      {"frames", run.frames}});
    }
  }

  // Seeks on the last round's two files, interleaved, same random times.
  std::mt19937 rng(7);
  std::uniform_int_distribution<Millis> when(0, seconds * 1000);
  std::vector<double> seek_ms[2], range_ms[2];
  for (int i = 0; i < seeks; ++i) {
    const Millis t = when(rng);
    for (int mode = 0; mode < 2; ++mode) {
      const std::string path = out + (mode ? "/sealed.mp4" : "/plain.mp4");
      const auto t0 = Clock::now();
      auto f = codecs::decodeFrameAt(path, t, *keys);
      seek_ms[mode].push_back(ms(Clock::now() - t0));
      if (!f) {
        std::fprintf(stderr, "seal_bench: seek: %s\n", f.message().c_str());
        return 1;
      }
    }
  }
  std::vector<char> buf(1 << 20);
  for (int i = 0; i < std::max(seeks, 100); ++i) {
    for (int mode = 0; mode < 2; ++mode) {
      const std::string path = out + (mode ? "/sealed.mp4" : "/plain.mp4");
      const auto t0 = Clock::now();
      auto r = storage::RecordingReader::open(path, *keys);
      if (!r) return 1;
      std::uniform_int_distribution<std::uint64_t> off(0, (*r)->size() - 1);
      auto n = (*r)->readAt(off(rng), buf.data(), buf.size());
      range_ms[mode].push_back(ms(Clock::now() - t0));
      if (!n) return 1;
    }
  }

  // The sealing alone, timed apart from the encoder's noise: the last sealed
  // file's plaintext cut into as many units as it has records, sealed 20 times.
  std::vector<double> seal_ms;
  std::size_t seal_units = 0, seal_plain = 0;
  {
    auto r = storage::RecordingReader::open(out + "/sealed.mp4", *keys);
    if (!r) return 1;
    std::string plain((*r)->size(), '\0');
    if (!(*r)->readAt(0, plain.data(), plain.size())) return 1;
    seal_units = std::max<std::size_t>(1, (*r)->records());
    seal_plain = plain.size();
    for (int i = 0; i < 20; ++i) {
      const auto t0 = Clock::now();
      auto w = storage::SealedWriter::create(*keys->current());
      if (!w) return 1;
      std::string sealed = (*w)->header();
      const std::size_t step = plain.size() / seal_units + 1;
      for (std::size_t at = 0; at < plain.size(); at += step) {
        const std::size_t n = std::min(step, plain.size() - at);
        (*w)->seal(reinterpret_cast<const std::uint8_t*>(plain.data() + at), n, false, sealed);
      }
      seal_ms.push_back(ms(Clock::now() - t0));
    }
  }
  std::vector<double> seek_diff;
  for (std::size_t i = 0; i < seek_ms[0].size(); ++i) seek_diff.push_back(seek_ms[1][i] - seek_ms[0][i]);

  auto mean = [](const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
  };
  nlohmann::json summary = {
      {"cpu_s_plain_mean", mean(cpu[0])},
      {"cpu_s_sealed_mean", mean(cpu[1])},
      {"cpu_ratio", mean(cpu[1]) / mean(cpu[0])},
      {"bytes_plain", bytes[0]},
      {"bytes_sealed", bytes[1]},
      {"bytes_ratio_last_files", double(bytes[1]) / double(bytes[0])},
      {"bytes_on_disk_over_plaintext_mean", mean(overhead)},
      {"seal_only_ms_p50", percentile(seal_ms, 0.5)},
      {"seal_only_units", seal_units},
      {"seal_only_plaintext_bytes", seal_plain},
      {"seal_only_share_of_plain_recorder_cpu", percentile(seal_ms, 0.5) / 1000.0 / mean(cpu[0])},
      {"seek_paired_diff_p50_ms", percentile(seek_diff, 0.5)},
      {"seek_p50_ms_plain", percentile(seek_ms[0], 0.5)},
      {"seek_p95_ms_plain", percentile(seek_ms[0], 0.95)},
      {"seek_p50_ms_sealed", percentile(seek_ms[1], 0.5)},
      {"seek_p95_ms_sealed", percentile(seek_ms[1], 0.95)},
      {"seek_p95_ratio", percentile(seek_ms[1], 0.95) / percentile(seek_ms[0], 0.95)},
      {"range_1mib_p50_ms_plain", percentile(range_ms[0], 0.5)},
      {"range_1mib_p95_ms_plain", percentile(range_ms[0], 0.95)},
      {"range_1mib_p50_ms_sealed", percentile(range_ms[1], 0.5)},
      {"range_1mib_p95_ms_sealed", percentile(range_ms[1], 0.95)},
  };
  nlohmann::json doc = {{"command", "seal_bench --out " + out + " --seconds " + std::to_string(seconds) +
                                         " --rounds " + std::to_string(rounds) + " --seeks " +
                                         std::to_string(seeks)},
                        {"session_s", seconds},
                        {"runs", runs},
                        {"seek_ms", {{"plain", seek_ms[0]}, {"sealed", seek_ms[1]}}},
                        {"range_1mib_ms", {{"plain", range_ms[0]}, {"sealed", range_ms[1]}}},
                        {"seal_only_ms", seal_ms},
                        {"summary", summary}};
  std::ofstream(out + "/seal_bench.json") << doc.dump(2) << "\n";
  std::printf("%s\n", summary.dump(2).c_str());
  return 0;
}
