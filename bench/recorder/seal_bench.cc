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
// A third variant, "chained", is sealed with the evidence chain on as a
// session runs it (storage::SessionEvidence: every fragment SHA-256 chained
// from the recorder's live tap, a line event chained every 3 s, Ed25519
// signatures every 10 s and at the end, records to a store and the
// `.chain` sidecar): its CPU and bytes (recording + sidecar) against
// "sealed" give the cost of hashing and signing; the file is verified.
// The last round's files stay in DIR/rec (key ring in DIR/state) for the
// browser's seek bench (bench/web/seal_seek.sh).
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
#include "storage/evidence_verify.h"
#include "storage/key_ring.h"
#include "storage/memory_store.h"
#include "storage/recording_reader.h"
#include "storage/sealed_file.h"
#include "storage/session_evidence.h"
#include "storage/signing_key.h"
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
  std::uint64_t bytes = 0;          // the recording file
  std::uint64_t sidecar_bytes = 0;  // its `.chain` sidecar (chained only)
  std::size_t checkpoints = 0;
  std::string verify;               // chained: `vigil verify`'s verdict on it
  std::uint64_t plain_bytes = 0;
  std::size_t records = 0;
  long long frames = 0;
};

// Records `seconds` of the workload into `path`; returns its figures.
Run record(const std::string& path, int seconds, std::shared_ptr<const storage::KeyRing> keys,
           bool chain) {
  codecs::RecorderOptions o;
  o.seal_keys = keys;
  o.overwrite = true;
  Run run;
  run.mode = chain ? "chained" : o.seal_keys ? "sealed" : "plain";
  std::filesystem::remove(storage::chainSidecarPath(path));
  storage::MemoryStore store;
  const auto signer = storage::SigningKey::fromSeed(std::array<std::uint8_t, 32>{17});
  const auto start = Clock::now();
  const double cpu0 = cpuSeconds();
  auto rec = codecs::Recorder::open(path, o);
  if (!rec) {
    std::fprintf(stderr, "seal_bench: %s\n", rec.message().c_str());
    std::exit(1);
  }
  std::unique_ptr<storage::SessionEvidence> ev;
  std::vector<Event> events;
  if (chain) {
    ev = std::make_unique<storage::SessionEvidence>(
        store, signer, "bench", [start] { return static_cast<Millis>(ms(Clock::now() - start)); },
        storage::chainSidecarPath(path));
    (*rec)->setFragmentListener([e = ev.get()](const codecs::LiveFragment& f) {
      e->onFragment(f.init_segment, f.data, f.size);
    });
  }
  codecs::testing::FakeTerminal a(1280, 800, 1), b(1280, 800, 2);
  a.output(40);
  b.output(40);
  codecs::testing::FakeTerminal* term = &a;
  (*rec)->onFrame(term->frame(), DirtyRegion(term->frame().bounds()), 0);
  for (Millis t = 150; t <= seconds * 1000; t += 150) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(t));
    DirtyRegion d;
    if (t % 10000 == 0) {  // another window's page
      term = term == &a ? &b : &a;
      d = DirtyRegion(term->frame().bounds());
    } else if (t % 3000 == 0) {
      d = term->output(6);
      if (ev) {  // a typed line, as the event writer hands it over
        events.push_back({t, EventKind::Key, "ls -l /var/log/line" + std::to_string(t), {}});
        ev->onEventsStored({events.back()});
      }
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
  if (ev) {  // as SessionImpl ends a session: chain the trailer, sign the end
    auto bytes = storage::openRecordingBytes(path, *keys);
    std::string trailer;
    if (bytes) {
      trailer.resize((*bytes)->size() - ev->fragmentBytes());
      if (!(*bytes)->readAt(ev->fragmentBytes(), trailer.data(), trailer.size()).ok()) trailer.clear();
    }
    if (Status st = ev->finish(trailer); !st.ok()) {
      std::fprintf(stderr, "seal_bench: evidence: %s\n", st.message().c_str());
      std::exit(1);
    }
  }
  run.cpu_s = cpuSeconds() - cpu0;
  run.bytes = std::filesystem::file_size(path);
  run.frames = (*rec)->stats().frames_encoded;
  if (ev) {
    ev.reset();
    run.sidecar_bytes = std::filesystem::file_size(storage::chainSidecarPath(path));
    storage::EvidenceSources in;
    in.session_id = "bench";
    in.store_records = *store.checkpoints("bench");
    in.sidecar_records = storage::readChainSidecar(path);
    run.checkpoints = in.store_records.size();
    auto bytes = storage::openRecordingBytes(path, *keys);
    if (bytes) in.recording = bytes->get();
    in.events = events;
    const auto report = storage::verifyEvidence(in, signer.publicKey());
    run.verify = report.detail;
    if (!report.verified || !report.complete) {
      std::fprintf(stderr, "seal_bench: the chained recording does not verify: %s\n", report.detail.c_str());
      std::exit(1);
    }
  }
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
  const std::string rec_dir = out + "/rec";
  std::filesystem::create_directories(rec_dir);
  // A key ring on disk, as `vigil serve` keeps it, so the web bench's API
  // server can unseal these recordings.
  auto ring = storage::KeyRing::loadOrCreate(out + "/state", rec_dir);
  if (!ring) {
    std::fprintf(stderr, "seal_bench: %s\n", ring.message().c_str());
    return 1;
  }
  const std::shared_ptr<const storage::KeyRing> keys =
      std::make_shared<const storage::KeyRing>(std::move(*ring));
  const char* kFile[3] = {"/plain.mp4", "/sealed.mp4", "/chained.mp4"};

  nlohmann::json runs = nlohmann::json::array();
  std::vector<double> cpu[3], overhead, chain_bytes_ratio;
  std::uint64_t bytes[3] = {0, 0, 0};
  std::uint64_t sealed_bytes_this_round = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int m = 0; m < 3; ++m) {
      const int mode = (m + r) % 3;  // rotate who goes first
      const std::string path = rec_dir + kFile[mode];
      Run run = record(path, seconds, mode ? keys : nullptr, mode == 2);
      auto reader = storage::RecordingReader::open(path, *keys);
      if (reader) {
        run.plain_bytes = (*reader)->size();
        run.records = (*reader)->records();
      }
      cpu[mode].push_back(run.cpu_s);
      if (mode == 1) overhead.push_back(double(run.bytes) / double(run.plain_bytes));
      // Hashing does not change the recording; what it adds on disk is the
      // sidecar (and as many bytes again in Redis), per recording byte.
      if (mode == 2) chain_bytes_ratio.push_back(double(run.bytes + run.sidecar_bytes) / double(run.bytes));
      if (mode == 1) sealed_bytes_this_round = run.bytes;
      bytes[mode] = run.bytes;
      std::printf("round %d %-7s cpu %.3f s  bytes %llu  sidecar %llu  frames %lld  records %zu  checkpoints %zu %s\n",
                  r, run.mode.c_str(), run.cpu_s, static_cast<unsigned long long>(run.bytes),
                  static_cast<unsigned long long>(run.sidecar_bytes), run.frames, run.records,
                  run.checkpoints, run.verify.substr(0, 60).c_str());
      runs.push_back({{"round", r}, {"mode", run.mode}, {"cpu_s", run.cpu_s}, {"bytes", run.bytes},
                      {"sidecar_bytes", run.sidecar_bytes}, {"checkpoints", run.checkpoints},
                      {"plaintext_bytes", run.plain_bytes}, {"records", run.records},
                      {"frames", run.frames}, {"verify", run.verify}});
    }
  }
  (void)sealed_bytes_this_round;

  // Seeks on the last round's two files, interleaved, same random times.
  std::mt19937 rng(7);
  std::uniform_int_distribution<Millis> when(0, seconds * 1000);
  std::vector<double> seek_ms[2], range_ms[2];
  for (int i = 0; i < seeks; ++i) {
    const Millis t = when(rng);
    for (int mode = 0; mode < 2; ++mode) {
      const std::string path = rec_dir + kFile[mode];
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
      const std::string path = rec_dir + kFile[mode];
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
    auto r = storage::RecordingReader::open(rec_dir + "/sealed.mp4", *keys);
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
      {"cpu_s_chained_mean", mean(cpu[2])},
      {"cpu_ratio_chained_over_sealed", mean(cpu[2]) / mean(cpu[1])},
      {"cpu_ratio_chained_over_plain", mean(cpu[2]) / mean(cpu[0])},
      {"bytes_chained_with_sidecar_over_recording_mean", mean(chain_bytes_ratio)},
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
                        {"cpu_s", {{"plain", cpu[0]}, {"sealed", cpu[1]}, {"chained", cpu[2]}}},
                        {"seek_ms", {{"plain", seek_ms[0]}, {"sealed", seek_ms[1]}}},
                        {"range_1mib_ms", {{"plain", range_ms[0]}, {"sealed", range_ms[1]}}},
                        {"seal_only_ms", seal_ms},
                        {"summary", summary}};
  std::ofstream(out + "/seal_bench.json") << doc.dump(2) << "\n";
  std::printf("%s\n", summary.dump(2).c_str());
  return 0;
}
