// RDP relay bench: the real `vigil serve` relaying freerdp-shadow-cli (on an
// Xvfb desktop, 1280x800) to an in-process FreeRDP client, compared in the
// same run with that client connected to freerdp-shadow-cli directly.
//
//   1. screen updates per second delivered to the client (EndPaints with
//      damage) while an xterm scrolls continuously, direct vs through the
//      gateway, alternating in rounds so machine load hits both alike;
//   2. resident memory of `vigil serve` per idle session (N sessions vs 0),
//      5 s into a still screen and again after S2 s (recorders free their
//      encoders after 30 s of stillness);
//   3. resident memory growth over C connect/disconnect cycles.
//
// Usage: rdp_bench [--seconds S] [--idle N] [--still S2] [--cycles C]
//        (defaults 20 10 40 100)
// Needs what the integration tests need (Xvfb, openbox, xterm,
// freerdp-shadow-cli, redis-server) and the `vigil` binary built alongside.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"
#include "tests/integration/rdp_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Args {
  int seconds = 20;
  int idle = 10;
  int still = 40;
  int cycles = 100;
};

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Resident set of a process in MiB (VmRSS), or -1.
double rssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return -1;
}

int liveSessions(const GatewayFixture& f) {
  nlohmann::json j = f.vigilJson({"sessions", "--live", "--limit", "10000"});
  return j.is_object() ? static_cast<int>(j["sessions"].size()) : -1;
}

bool waitNoLiveSessions(const GatewayFixture& f) {
  return testbed::waitFor([&] { return liveSessions(f) == 0; }, 30s, 100ms);
}

struct PathResult {
  double secs = 0;
  std::uint64_t updates = 0, pixels = 0;
  int rounds = 0;
  std::string error;
  double ups() const { return secs > 0 ? updates / secs : 0; }
  double mpxs() const { return secs > 0 ? pixels / secs / 1e6 : 0; }
};

RdpTestClient::Options gatewayLogin(const GatewayFixture& f) {
  RdpTestClient::Options o;
  o.port = f.rdpPort();
  o.username = "vendor1#desk-rdp";
  o.password = GatewayFixture::kVendorPassword;
  return o;
}

RdpTestClient::Options directLogin(const GatewayFixture& f, bool gfx) {
  RdpTestClient::Options o;
  o.port = f.rdpServerPort();
  o.username = "Administrator";  // the shadow server checks these by NLA
  o.password = GatewayFixture::kRdpTargetPassword;
  o.gfx = gfx;
  return o;
}

// One measuring round: connect, let the first full screen and codec warm-up
// pass, count updates for `secs`, disconnect.
void measureRound(const RdpTestClient::Options& o, int secs, PathResult* r) {
  auto c = RdpTestClient::connect(o);
  if (!c.ok()) {
    r->error = c.message();
    return;
  }
  if (!testbed::waitFor([&] { return (*c)->updates() > 0; }, 20s)) {
    r->error = "no screen update within 20 s";
    return;
  }
  std::this_thread::sleep_for(2s);
  const std::uint64_t u0 = (*c)->updates(), p0 = (*c)->updatedPixels();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(secs));
  const std::uint64_t u1 = (*c)->updates(), p1 = (*c)->updatedPixels();
  r->secs += seconds(Clock::now() - t0);
  r->updates += u1 - u0;
  r->pixels += p1 - p0;
  ++r->rounds;
  if ((*c)->disconnected()) r->error = "disconnected during the round";
  (*c)->disconnect();
}

int runBench(const Args& a) {
  std::printf("starting redis, Xvfb 1280x800 + openbox + xterm, freerdp-shadow-cli, vigil serve ...\n");
  FixtureOptions fo;
  fo.rdp_target = true;
  auto fx = GatewayFixture::start(fo);
  if (!fx.ok()) {
    std::fprintf(stderr, "rdp_bench: %s\n", fx.message().c_str());
    return 1;
  }
  GatewayFixture& f = **fx;

  // Moving content: a near-full-screen xterm scrolling ~50 lines a second.
  auto scroller = f.display().spawn(
      {"xterm", "-T", "vigil-bench-scroll", "-geometry", "170x50+0+0", "-fa", "Monospace", "-fs", "10", "-e",
       "sh", "-c",
       "i=0; while :; do i=$((i+1)); echo \"$i the quick brown fox jumps over the lazy dog $i "
       "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ $i\"; sleep 0.02; done"});
  if (!scroller.ok()) {
    std::fprintf(stderr, "rdp_bench: %s\n", scroller.message().c_str());
    return 1;
  }
  std::this_thread::sleep_for(2s);

  // 1. Delivered updates per second, alternating paths in rounds.
  const int rounds = a.seconds >= 20 ? 2 : 1;
  const int per_round = a.seconds / rounds;
  PathResult direct, direct_gfx, via_gateway;
  for (int i = 0; i < rounds; ++i) {
    std::printf("round %d/%d: direct, direct (GFX offered), through vigil serve, %d s each ...\n", i + 1,
                rounds, per_round);
    std::fflush(stdout);
    measureRound(directLogin(f, false), per_round, &direct);
    measureRound(directLogin(f, true), per_round, &direct_gfx);
    measureRound(gatewayLogin(f), per_round, &via_gateway);
    waitNoLiveSessions(f);
  }
  scroller->stop();
  std::this_thread::sleep_for(2s);

  // 2. Memory per idle session (static screen).
  const pid_t pid = f.gatewayPid();
  waitNoLiveSessions(f);
  std::this_thread::sleep_for(2s);
  const double rss0 = rssMiB(pid);
  std::vector<std::unique_ptr<RdpTestClient>> idle;
  std::string idle_error;
  for (int i = 0; i < a.idle; ++i) {
    auto c = RdpTestClient::connect(gatewayLogin(f));
    if (!c.ok()) {
      idle_error = c.message();
      break;
    }
    idle.push_back(std::move(*c));
  }
  testbed::waitFor([&] {
    for (auto& c : idle) if (c->updates() == 0) return false;
    return true;
  }, 30s);
  std::this_thread::sleep_for(5s);  // let encoders and OCR settle on the still screen
  const double rss_n_fresh = rssMiB(pid);
  std::printf("idle sessions: holding %d s of still screen ...\n", a.still);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(std::max(0, a.still - 5)));
  const double rss_n = rssMiB(pid);
  const int n_idle = static_cast<int>(idle.size());
  const int live_n = liveSessions(f);
  for (auto& c : idle) c->disconnect();
  idle.clear();
  waitNoLiveSessions(f);
  std::this_thread::sleep_for(2s);
  const double rss_after_idle = rssMiB(pid);

  // 3. Growth over connect/disconnect cycles (after a warm-up of 10).
  std::string cycle_error;
  const auto cycle = [&]() {
    auto c = RdpTestClient::connect(gatewayLogin(f));
    if (!c.ok()) {
      cycle_error = c.message();
      return false;
    }
    testbed::waitFor([&] { return (*c)->updates() > 0; }, 20s);
    (*c)->disconnect();
    return waitNoLiveSessions(f);
  };
  std::printf("connect/disconnect: 10 warm-up cycles, then %d measured ...\n", a.cycles);
  std::fflush(stdout);
  for (int i = 0; i < 10 && cycle_error.empty(); ++i) cycle();
  std::this_thread::sleep_for(2s);
  const double rss_c0 = rssMiB(pid);
  const auto c_t0 = Clock::now();
  int done = 0;
  for (; done < a.cycles && cycle_error.empty(); ++done)
    if (!cycle()) break;
  const double cycle_secs = seconds(Clock::now() - c_t0);
  std::this_thread::sleep_for(2s);
  const double rss_c1 = rssMiB(pid);

  // Report.
  const double ratio = direct.ups() > 0 ? via_gateway.ups() / direct.ups() : 0;
  const double per_session = n_idle > 0 ? (rss_n - rss0) / n_idle : 0;
  const double per_session_fresh = n_idle > 0 ? (rss_n_fresh - rss0) / n_idle : 0;
  constexpr double kMBperMiB = 1.048576;
  std::printf("\nRDP relay bench (1280x800, xterm scrolling ~50 lines/s, client: FreeRDP library, "
              "RemoteFX, no GFX unless noted)\n\n");
  std::printf("%-34s %8s %9s %11s %9s\n", "path", "seconds", "updates", "updates/s", "Mpx/s");
  const auto row = [](const char* name, const PathResult& r) {
    std::printf("%-34s %8.1f %9llu %11.1f %9.2f%s%s\n", name, r.secs,
                static_cast<unsigned long long>(r.updates), r.ups(), r.mpxs(), r.error.empty() ? "" : "  error: ",
                r.error.c_str());
  };
  row("direct to freerdp-shadow-cli", direct);
  row("direct, GFX offered", direct_gfx);
  row("through vigil serve", via_gateway);
  std::printf("\ndelivered rate, gateway / direct: %.2f  (target >= 0.90)\n", ratio);
  std::printf("\nidle sessions: %d (live per `vigil sessions`: %d)%s%s\n", n_idle, live_n,
              idle_error.empty() ? "" : "  error: ", idle_error.c_str());
  std::printf("  vigil serve RSS with 0 sessions   %8.1f MiB\n", rss0);
  std::printf("  vigil serve RSS with %2d sessions  %8.1f MiB after 5 s still, %.1f MiB after %d s\n",
              n_idle, rss_n_fresh, rss_n, a.still);
  std::printf("  per idle session, 5 s still       %8.1f MiB = %5.1f MB\n", per_session_fresh,
              per_session_fresh * kMBperMiB);
  std::printf("  per idle session, %2d s still      %8.1f MiB = %5.1f MB  (target <= 60 MB)\n",
              a.still, per_session, per_session * kMBperMiB);
  std::printf("  after they all left               %8.1f MiB\n", rss_after_idle);
  std::printf("\nconnect/disconnect cycles: %d in %.0f s%s%s\n", done, cycle_secs,
              cycle_error.empty() ? "" : "  error: ", cycle_error.c_str());
  std::printf("  RSS before  %8.1f MiB\n  RSS after   %8.1f MiB\n  growth      %8.2f MiB  (target < 1)\n",
              rss_c0, rss_c1, rss_c1 - rss_c0);
  const bool errors = !direct.error.empty() || !via_gateway.error.empty() || !idle_error.empty() ||
                      !cycle_error.empty();
  return errors ? 1 : 0;
}

}  // namespace
}  // namespace vigil::integration

int main(int argc, char** argv) {
  constexpr const char* kUsage = "usage: rdp_bench [--seconds S] [--idle N] [--still S2] [--cycles C]\n";
  vigil::integration::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (v <= 0) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    if (k == "--seconds") a.seconds = v;
    else if (k == "--idle") a.idle = v;
    else if (k == "--still") a.still = v;
    else if (k == "--cycles") a.cycles = v;
    else {
      std::fputs(kUsage, stderr);
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  return vigil::integration::runBench(a);
}
