// Bytes to the client: GFX AVC420 against RemoteFX, in one run. The real
// `vigil serve` relays freerdp-shadow-cli (Xvfb 1280x800, an xterm scrolling
// ~50 lines a second: rdp_bench's workload) to a real xfreerdp on its own
// Xvfb, once with `/gfx:avc420` and once with `/rfx`, alternating in rounds.
// Per round: the bytes the gateway's socket to the client had acknowledged
// (ss's tcp_info bytes_acked) over S seconds of scrolling; then the scroll
// pauses and the client's screen is compared with the target's (PSNR), so
// both codecs are judged at the legibility they reach. Also vigil serve's
// resident memory with the one session, over what it had before it.
// GFX_BENCH_SHOTS=DIR saves each codec's last client and target screens (PPM).
//
// Usage: gfx_bench [--seconds S] [--rounds R] [--out FILE.json]
//        (defaults 15 3; raw samples to FILE when given)
// Needs what the integration tests need, xfreerdp and ss (iproute2).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Args {
  int seconds = 15;
  int rounds = 3;
  std::string out;
};

struct Sample {
  std::string codec;
  int round = 0;
  double secs = 0;
  std::uint64_t bytes = 0;        // while scrolling
  std::uint64_t settle_bytes = 0; // after the scroll paused, until the client's screen is still
  double psnr_db = 0;
  double rss_mib = 0;  // vigil serve's resident memory while this one session scrolls, less before it
  std::string gateway_said;  // the gateway's codec log line
  // AVC420 only, from the gateway's "client graphics pipeline closed" line:
  // frames/s between the first and last frame, encode+send ms mean and max.
  double avc_fps = 0, avc_mean_ms = 0, avc_max_ms = 0;
  std::string error;
};

// Bytes acknowledged by the client on the gateway's connection(s) from
// local port `port` (one client at a time here); -1 when ss fails.
long long bytesAcked(std::uint16_t port) {
  std::string out;
  auto rc = testbed::run({"ss", "-tinH", "state", "established", "( sport = :" + std::to_string(port) + " )"},
                         {}, &out, 5s);
  if (!rc.ok() || *rc != 0) return -1;
  static const std::regex kAcked("bytes_acked:([0-9]+)");
  long long total = 0;
  for (std::sregex_iterator it(out.begin(), out.end(), kAcked), end; it != end; ++it)
    total += std::stoll((*it)[1]);
  return total;
}

std::string lastLine(const std::string& log, const std::string& what) {
  const auto at = log.rfind(what);
  return at == std::string::npos ? "" : log.substr(at, log.find('\n', at) - at);
}

// The number after "key=" in `line`, 0 when absent.
double field(const std::string& line, const std::string& key) {
  const auto at = line.find(" " + key + "=");
  return at == std::string::npos ? 0 : std::atof(line.c_str() + at + key.size() + 2);
}

Sample measure(GatewayFixture& f, const testbed::XDisplay& cd, const std::string& flag,
               const std::string& codec, const std::vector<std::string>& args, int round, int secs) {
  Sample s;
  s.codec = codec;
  s.round = round;
  std::vector<std::string> argv = {"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                                   "/u:vendor1#desk-rdp",
                                   std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                                   "/size:1280x800", "/bpp:32"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string xlog = f.dir() + "/gfx-bench-" + codec + std::to_string(round) + ".log";
  std::ofstream(flag).put('1');  // scroll
  const double rss0 = f.gatewayRssMiB();
  auto client = cd.spawn(argv, xlog);
  if (!client.ok()) {
    s.error = client.message();
    return s;
  }
  if (!testbed::waitFor([&] { return f.liveSessionCount() == 1; }, 30s, 250ms)) {
    s.error = "no live session";
    return s;
  }
  std::this_thread::sleep_for(3s);  // first full screen, pipeline set-up
  const long long b0 = bytesAcked(f.rdpPort());
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(secs));
  const long long b1 = bytesAcked(f.rdpPort());
  s.rss_mib = f.gatewayRssMiB() - rss0;
  s.secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (b0 < 0 || b1 < b0) s.error = "ss gave no byte counts";
  else s.bytes = static_cast<std::uint64_t>(b1 - b0);

  std::remove(flag.c_str());  // pause the scroll: judge the still screen
  std::this_thread::sleep_for(1500ms);
  const Frame shown = cd.settledScreenshot();
  auto target = f.display().screenshot();
  if (target.ok()) s.psnr_db = testbed::psnr(shown, *target);
  if (const char* dbg = std::getenv("GFX_BENCH_SHOTS"); dbg && target.ok()) {
    std::ofstream(std::string(dbg) + "/" + codec + "-client.ppm") << testbed::ppmBytes(shown);
    std::ofstream(std::string(dbg) + "/" + codec + "-target.ppm") << testbed::ppmBytes(*target);
  }
  const long long b2 = bytesAcked(f.rdpPort());
  if (b2 >= b1 && b1 >= 0) s.settle_bytes = static_cast<std::uint64_t>(b2 - b1);
  const std::string log = f.gatewayLog();
  s.gateway_said = lastLine(log, "client activated");
  const bool is_gfx = !args.empty() && args[0].rfind("/gfx", 0) == 0;
  const std::string gfx = is_gfx ? lastLine(log, "client graphics pipeline") : "";
  if (is_gfx) s.gateway_said += "; " + gfx;
  client->stop();
  testbed::waitFor([&] { return f.liveSessionCount() == 0; }, 20s, 250ms);
  // How long the client's input could wait behind the screen path.
  const std::string after = f.gatewayLog();
  s.gateway_said += "; " + lastLine(after, "client input loop");
  if (!gfx.empty()) {
    const std::string closed = lastLine(after, "client graphics pipeline closed");
    s.gateway_said += "; " + closed;
    s.avc_fps = field(closed, "avc420_fps");
    s.avc_mean_ms = field(closed, "mean_avc420_ms");
    s.avc_max_ms = field(closed, "max_avc420_ms");
  }
  return s;
}

int runBench(const Args& a) {
  std::printf("starting redis, Xvfb 1280x800 + openbox, freerdp-shadow-cli, vigil serve, client Xvfb ...\n");
  FixtureOptions fo;
  fo.rdp_target = true;
  auto fx = GatewayFixture::start(fo);
  if (!fx.ok()) {
    std::fprintf(stderr, "gfx_bench: %s\n", fx.message().c_str());
    return 1;
  }
  GatewayFixture& f = **fx;
  auto cd = testbed::XDisplay::start(1280, 800, false);
  if (!cd.ok()) {
    std::fprintf(stderr, "gfx_bench: %s\n", cd.message().c_str());
    return 1;
  }
  // rdp_bench's workload, scrolling only while the flag file exists.
  const std::string flag = f.dir() + "/scroll.flag";
  auto scroller = f.display().spawn(
      {"xterm", "-T", "vigil-bench-scroll", "-geometry", "170x50+0+0", "-fa", "Monospace", "-fs", "10", "-e",
       "sh", "-c",
       "i=0; while :; do if [ -e " + flag + " ]; then i=$((i+1)); echo \"$i the quick brown fox jumps over "
       "the lazy dog $i 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ $i\"; fi; sleep 0.02; done"});
  if (!scroller.ok()) {
    std::fprintf(stderr, "gfx_bench: %s\n", scroller.message().c_str());
    return 1;
  }
  std::this_thread::sleep_for(2s);

  std::vector<Sample> samples;
  for (int r = 1; r <= a.rounds; ++r) {
    std::printf("round %d/%d: GFX AVC420, RemoteFX, %d s each ...\n", r, a.rounds, a.seconds);
    std::fflush(stdout);
    samples.push_back(measure(f, **cd, flag, "avc420", {"/gfx:avc420"}, r, a.seconds));
    samples.push_back(measure(f, **cd, flag, "remotefx", {"/rfx"}, r, a.seconds));
  }
  scroller->stop();

  struct Total {
    double secs = 0, bytes = 0, settle = 0, psnr_min = 1e9, psnr_sum = 0, fps_sum = 0, ms_sum = 0, ms_max = 0;
    int n = 0;
  } avc, rfx;
  bool errors = false;
  std::printf("\n%-9s %5s %8s %12s %10s %10s %9s %8s  %s\n", "codec", "round", "seconds", "bytes", "kB/s",
              "settle B", "PSNR dB", "+RSS MiB", "gateway said");
  for (const Sample& s : samples) {
    Total& t = s.codec == "avc420" ? avc : rfx;
    t.secs += s.secs;
    t.bytes += static_cast<double>(s.bytes);
    t.settle += static_cast<double>(s.settle_bytes);
    t.psnr_min = std::min(t.psnr_min, s.psnr_db);
    t.psnr_sum += s.psnr_db;
    t.fps_sum += s.avc_fps;
    t.ms_sum += s.avc_mean_ms;
    t.ms_max = std::max(t.ms_max, s.avc_max_ms);
    ++t.n;
    errors = errors || !s.error.empty();
    std::printf("%-9s %5d %8.1f %12llu %10.1f %10llu %9.1f %8.1f  %s%s%s\n", s.codec.c_str(), s.round, s.secs,
                static_cast<unsigned long long>(s.bytes), s.secs > 0 ? s.bytes / s.secs / 1000 : 0,
                static_cast<unsigned long long>(s.settle_bytes), s.psnr_db, s.rss_mib, s.gateway_said.c_str(), s.error.empty() ? "" : "  error: ", s.error.c_str());
  }
  const double avc_rate = avc.secs > 0 ? avc.bytes / avc.secs : 0;
  const double rfx_rate = rfx.secs > 0 ? rfx.bytes / rfx.secs : 0;
  const double ratio = rfx_rate > 0 ? avc_rate / rfx_rate : 0;
  // Everything sent, scroll and settle: what a link carries for the workload.
  const double total_ratio = rfx.bytes + rfx.settle > 0 ? (avc.bytes + avc.settle) / (rfx.bytes + rfx.settle) : 0;
  std::printf("\nGFX AVC420: %.1f kB/s, PSNR min %.1f dB mean %.1f dB\n", avc_rate / 1000, avc.psnr_min,
              avc.n ? avc.psnr_sum / avc.n : 0);
  std::printf("GFX AVC420: %.1f frames/s mean, encode+send %.1f ms mean, %.1f ms max\n",
              avc.n ? avc.fps_sum / avc.n : 0, avc.n ? avc.ms_sum / avc.n : 0, avc.ms_max);
  std::printf("RemoteFX:   %.1f kB/s, PSNR min %.1f dB mean %.1f dB\n", rfx_rate / 1000, rfx.psnr_min,
              rfx.n ? rfx.psnr_sum / rfx.n : 0);
  std::printf("bytes to the client while scrolling, AVC420 / RemoteFX: %.3f  (target <= 0.50)\n", ratio);
  std::printf("bytes including the settle to a still screen, AVC420 / RemoteFX: %.3f\n", total_ratio);

  if (!a.out.empty()) {
    nlohmann::json j;
    j["bench"] = "gfx_bench";
    j["workload"] = "xterm 170x50 scrolling ~50 lines/s on freerdp-shadow-cli 1280x800, through vigil serve";
    j["seconds_per_sample"] = a.seconds;
    j["ratio_avc420_over_remotefx"] = ratio;
    j["ratio_with_settle"] = total_ratio;
    for (const Sample& s : samples) {
      j["samples"].push_back({{"codec", s.codec}, {"round", s.round}, {"seconds", s.secs},
                              {"bytes_acked", s.bytes}, {"settle_bytes_acked", s.settle_bytes}, {"client_vs_target_psnr_db", s.psnr_db},
                              {"rss_growth_mib", s.rss_mib}, {"avc420_fps", s.avc_fps},
                              {"avc420_mean_ms", s.avc_mean_ms}, {"avc420_max_ms", s.avc_max_ms},
                              {"gateway_log", s.gateway_said}, {"error", s.error}});
    }
    std::ofstream(a.out) << j.dump(2) << "\n";
    std::printf("raw samples: %s\n", a.out.c_str());
  }
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace vigil::integration

int main(int argc, char** argv) {
  constexpr const char* kUsage = "usage: gfx_bench [--seconds S] [--rounds R] [--out FILE.json]\n";
  vigil::integration::Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (k == "--out") {
      a.out = argv[i + 1];
      continue;
    }
    const int v = std::atoi(argv[i + 1]);
    if (v <= 0) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (k == "--seconds") a.seconds = v;
    else if (k == "--rounds") a.rounds = v;
    else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  return vigil::integration::runBench(a);
}
