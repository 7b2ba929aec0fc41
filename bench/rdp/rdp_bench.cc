// RDP relay bench: the real `vigil serve` relaying freerdp-shadow-cli (on an
// Xvfb desktop, 1280x800) to an in-process FreeRDP client, compared in the
// same run with that client connected to freerdp-shadow-cli directly.
//
//   1. complete pictures per second while an xterm scrolls continuously,
//      direct vs through the gateway, alternating in rounds so machine load
//      hits both alike. Each line the terminal prints carries its number as
//      a 16-cell barcode (four times across the line); after every paint the
//      client reads the barcodes of all rows on its screen, and a picture is
//      complete when every row is whole and the rows are consecutive lines:
//      a whole-screen state of the target, not a torn mix. Reported as
//      distinct complete states per second and as their pixels (states x
//      screen size); updates (EndPaints) and damaged pixels are kept beside;
//   2. resident memory of `vigil serve` per idle session (N sessions vs 0),
//      5 s into a still screen and again after S2 s (recorders free their
//      encoders after 30 s of stillness);
//   3. resident memory growth over C connect/disconnect cycles.
//
// Usage: rdp_bench [--seconds S] [--idle N] [--still S2] [--cycles C] [--json PATH]
//        (defaults 20 10 40 100; --idle 0 / --cycles 0 skip parts 2 / 3;
//        --json writes the raw per-round samples)
// Needs what the integration tests need (Xvfb, openbox, xterm,
// freerdp-shadow-cli, redis-server) and the `vigil` binary built alongside.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
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
  std::string json;
};

// The scrolling terminal: 158x45 cells fit the 1280x800 screen under
// openbox's title bar. Each line: four times "NNNNNN " + 16 cells whose
// background is black for a 1 bit (line number mod 65536, high bit first)
// + 16 cells of text (156 cells: no wrapping).
constexpr int kCols = 158, kRows = 45, kBits = 16, kRepeats = 4, kRepeatCols = 39, kDigitCols = 7;
constexpr const char* kScrollScript = R"(i=0
while :; do
  i=$((i+1)); b=''; k=15
  while [ $k -ge 0 ]; do
    if [ $(( (i >> k) & 1 )) -eq 1 ]; then b="$b\033[40m "; else b="$b\033[107m "; fi
    k=$((k-1))
  done
  b="$b\033[0m"; n=$((i % 1000000))
  printf "%6d $b the quick brown%6d $b fox jumps over %6d $b the lazy dog 01%6d $b 23456789 ABCDEF\n" $n $n $n $n
  sleep 0.02
done
)";

// Where the terminal's cells are on the screen.
struct Grid {
  double x0 = 0, y0 = 0, cw = 0, ch = 0;
  int rows = 0;  // text rows wholly on the screen (the last one, the prompt's, excluded)
};

// The line number on row `r`, if every barcode sample on it agrees.
std::optional<std::uint32_t> readRow(const Frame& f, const Grid& g, int r) {
  std::optional<std::uint32_t> value;
  for (double fy : {0.3, 0.7}) {
    const int y = static_cast<int>(g.y0 + (r + fy) * g.ch);
    if (y < 0 || y >= f.height()) return std::nullopt;
    const std::uint8_t* row = f.row(y);
    for (int k = 0; k < kRepeats; ++k) {
      std::uint32_t v = 0;
      for (int b = 0; b < kBits; ++b) {
        const int x = static_cast<int>(g.x0 + (k * kRepeatCols + kDigitCols + b + 0.5) * g.cw);
        if (x < 0 || x >= f.width()) return std::nullopt;
        const std::uint8_t* px = row + x * Frame::kBytesPerPixel;
        const bool dark = px[0] + px[1] + px[2] < 3 * 128;
        v = (v << 1) | (dark ? 1u : 0u);
      }
      if (value && *value != v) return std::nullopt;
      value = v;
    }
  }
  return value;
}

// The newest line number of a complete picture: every row whole and each
// row the line after the one above it. Nothing for a torn or partial screen.
std::optional<std::uint32_t> readPicture(const Frame& f, const Grid& g) {
  std::optional<std::uint32_t> prev;
  for (int r = 0; r < g.rows; ++r) {
    auto v = readRow(f, g, r);
    if (!v || (prev && *v != ((*prev + 1) & 0xffff))) return std::nullopt;
    prev = v;
  }
  return prev;
}

// Counts the distinct complete pictures a client reaches (its event thread
// writes, the bench reads).
class PictureCounter {
 public:
  explicit PictureCounter(Grid g) : grid_(g) {}
  void onPaint(const Frame& screen) {
    auto v = readPicture(screen, grid_);
    std::lock_guard lock(mutex_);
    if (!v) {
      ++torn_;
      return;
    }
    if (last_ && *last_ == *v) return;
    last_ = v;
    ++pictures_;
  }
  std::uint64_t pictures() const {
    std::lock_guard lock(mutex_);
    return pictures_;
  }
  std::uint64_t torn() const {
    std::lock_guard lock(mutex_);
    return torn_;
  }

 private:
  const Grid grid_;
  mutable std::mutex mutex_;
  std::optional<std::uint32_t> last_;
  std::uint64_t pictures_ = 0, torn_ = 0;
};

// Finds the terminal's window and derives its cell grid (no inner border).
Result<Grid> findGrid(const testbed::XDisplay& d) {
  std::string out;
  auto rc = d.run({"xwininfo", "-name", "vigil-bench-scroll"}, &out);
  if (!rc.ok() || *rc != 0) return Status::Error("xwininfo could not find the terminal window");
  const auto field = [&](const std::string& key) {
    const auto at = out.find(key);
    return at == std::string::npos ? -1 : std::atoi(out.c_str() + at + key.size());
  };
  const int x = field("Absolute upper-left X:"), y = field("Absolute upper-left Y:");
  const int w = field("Width:"), h = field("Height:");
  if (x < 0 || y < 0 || w <= 0 || h <= 0) return Status::Error("xwininfo: no geometry in:\n" + out);
  Grid g{static_cast<double>(x), static_cast<double>(y), w / double(kCols), h / double(kRows), 0};
  g.rows = std::min(kRows - 1, static_cast<int>((d.height() - g.y0) / g.ch));
  if (x + w > d.width() || g.rows < kRows - 1)
    return Status::Error("the terminal does not fit the screen: " + std::to_string(w) + "x" +
                         std::to_string(h) + "+" + std::to_string(x) + "+" + std::to_string(y));
  return g;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool waitNoLiveSessions(const GatewayFixture& f) {
  return testbed::waitFor([&] { return f.liveSessionCount() == 0; }, 30s, 100ms);
}

struct RoundSample {
  double secs = 0;
  std::uint64_t updates = 0, pixels = 0, pictures = 0, torn = 0;
  std::vector<std::uint64_t> pictures_per_second;
};

struct PathResult {
  double secs = 0;
  std::uint64_t updates = 0, pixels = 0, pictures = 0, torn = 0;
  double screen_px = 0;  // pixels of one whole screen
  int rounds = 0;
  std::vector<RoundSample> samples;
  std::string error;
  double ups() const { return secs > 0 ? updates / secs : 0; }
  double mpxs() const { return secs > 0 ? pixels / secs / 1e6 : 0; }
  double pps() const { return secs > 0 ? pictures / secs : 0; }
  double pictureMpxs() const { return pps() * screen_px / 1e6; }
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
// pass, count pictures and updates for `secs`, disconnect.
void measureRound(RdpTestClient::Options o, const Grid& grid, int secs, PathResult* r) {
  auto counter = std::make_shared<PictureCounter>(grid);
  o.on_paint = [counter](const Frame& screen, const DirtyRegion&) { counter->onPaint(screen); };
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
  const std::uint64_t n0 = counter->pictures(), t0n = counter->torn();
  const auto t0 = Clock::now();
  RoundSample sample;
  std::uint64_t last = n0;
  for (int i = 1; i <= secs; ++i) {
    std::this_thread::sleep_until(t0 + std::chrono::seconds(i));
    const std::uint64_t n = counter->pictures();
    sample.pictures_per_second.push_back(n - last);
    last = n;
  }
  const std::uint64_t u1 = (*c)->updates(), p1 = (*c)->updatedPixels();
  sample.secs = seconds(Clock::now() - t0);
  sample.updates = u1 - u0;
  sample.pixels = p1 - p0;
  sample.pictures = last - n0;
  sample.torn = counter->torn() - t0n;
  r->secs += sample.secs;
  r->updates += sample.updates;
  r->pixels += sample.pixels;
  r->pictures += sample.pictures;
  r->torn += sample.torn;
  r->screen_px = static_cast<double>((*c)->width()) * (*c)->height();
  r->samples.push_back(std::move(sample));
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

  // Moving content: a full-screen xterm scrolling ~40 stamped lines a second.
  auto scroller = f.display().spawn({"xterm", "-T", "vigil-bench-scroll", "-b", "0", "-geometry",
                                     std::to_string(kCols) + "x" + std::to_string(kRows) + "+0+0", "-fa",
                                     "Monospace", "-fs", "10", "-e", "sh", "-c", kScrollScript});
  if (!scroller.ok()) {
    std::fprintf(stderr, "rdp_bench: %s\n", scroller.message().c_str());
    return 1;
  }
  std::this_thread::sleep_for(3s);
  auto grid = findGrid(f.display());
  if (!grid.ok()) {
    std::fprintf(stderr, "rdp_bench: %s\n", grid.message().c_str());
    return 1;
  }
  // The stamps must read on the target's own screen, or nothing would count.
  if (auto shot = f.display().screenshot(); !shot.ok() || !readPicture(*shot, *grid)) {
    std::string rows;
    for (int r = 0; shot.ok() && r < grid->rows; ++r) {
      auto v = readRow(*shot, *grid, r);
      rows += v ? std::to_string(*v) + " " : "? ";
    }
    std::fprintf(stderr,
                 "rdp_bench: the terminal's stamps do not read on the target's screen (%s); cells %.2fx%.2f "
                 "at %.0f,%.0f, rows: %s\n",
                 shot.ok() ? "torn or misplaced" : shot.message().c_str(), grid->cw, grid->ch, grid->x0,
                 grid->y0, rows.c_str());
    return 1;
  }

  // 1. Complete pictures per second, alternating paths in rounds.
  const int rounds = a.seconds >= 20 ? 2 : 1;
  const int per_round = a.seconds / rounds;
  PathResult direct, direct_gfx, via_gateway;
  for (int i = 0; i < rounds; ++i) {
    std::printf("round %d/%d: direct, direct (GFX offered), through vigil serve, %d s each ...\n", i + 1,
                rounds, per_round);
    std::fflush(stdout);
    measureRound(directLogin(f, false), *grid, per_round, &direct);
    measureRound(directLogin(f, true), *grid, per_round, &direct_gfx);
    measureRound(gatewayLogin(f), *grid, per_round, &via_gateway);
    waitNoLiveSessions(f);
  }
  scroller->stop();
  std::this_thread::sleep_for(2s);
  // How the gateway fed its client: the target's RemoteFX as it came, or re-encoded.
  std::string feed;
  {
    std::istringstream log(f.gatewayLog());
    for (std::string line; std::getline(log, line);) {
      if (line.find("passed_through=") != std::string::npos) feed += line.substr(line.find("passed_through=")) + "\n";
    }
  }

  // 2. Memory per idle session (static screen).
  waitNoLiveSessions(f);
  std::this_thread::sleep_for(2s);
  const double rss0 = f.gatewayRssMiB();
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
  if (a.idle > 0) std::this_thread::sleep_for(5s);  // let encoders and OCR settle on the still screen
  const double rss_n_fresh = f.gatewayRssMiB();
  if (a.idle > 0) {
    std::printf("idle sessions: holding %d s of still screen ...\n", a.still);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(std::max(0, a.still - 5)));
  }
  const double rss_n = f.gatewayRssMiB();
  const int n_idle = static_cast<int>(idle.size());
  const int live_n = f.liveSessionCount();
  for (auto& c : idle) c->disconnect();
  idle.clear();
  waitNoLiveSessions(f);
  std::this_thread::sleep_for(2s);
  const double rss_after_idle = f.gatewayRssMiB();

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
  for (int i = 0; i < (a.cycles > 0 ? 10 : 0) && cycle_error.empty(); ++i) cycle();
  std::this_thread::sleep_for(2s);
  const double rss_c0 = f.gatewayRssMiB();
  const auto c_t0 = Clock::now();
  int done = 0;
  for (; done < a.cycles && cycle_error.empty(); ++done)
    if (!cycle()) break;
  const double cycle_secs = seconds(Clock::now() - c_t0);
  std::this_thread::sleep_for(2s);
  const double rss_c1 = f.gatewayRssMiB();

  // Report.
  const double ratio = direct.pps() > 0 ? via_gateway.pps() / direct.pps() : 0;
  const double update_ratio = direct.ups() > 0 ? via_gateway.ups() / direct.ups() : 0;
  const double per_session = n_idle > 0 ? (rss_n - rss0) / n_idle : 0;
  const double per_session_fresh = n_idle > 0 ? (rss_n_fresh - rss0) / n_idle : 0;
  constexpr double kMBperMiB = 1.048576;
  std::printf("\nRDP relay bench (1280x800, xterm scrolling ~40 stamped lines/s, client: FreeRDP library, "
              "RemoteFX, no GFX unless noted)\n\n");
  std::printf("%-30s %7s %9s %10s %11s %9s %9s %11s\n", "path", "seconds", "pictures", "pictures/s",
              "picture Mpx/s", "torn", "updates/s", "damage Mpx/s");
  const auto row = [](const char* name, const PathResult& r) {
    std::printf("%-30s %7.1f %9llu %10.2f %13.2f %9llu %9.1f %11.2f%s%s\n", name, r.secs,
                static_cast<unsigned long long>(r.pictures), r.pps(), r.pictureMpxs(),
                static_cast<unsigned long long>(r.torn), r.ups(), r.mpxs(), r.error.empty() ? "" : "  error: ",
                r.error.c_str());
  };
  row("direct to freerdp-shadow-cli", direct);
  row("direct, GFX offered", direct_gfx);
  row("through vigil serve", via_gateway);
  std::printf("\ncomplete pictures, gateway / direct: %.2f  (target >= 0.90)\n", ratio);
  std::printf("(updates, gateway / direct: %.2f; torn = paints that left a partial picture)\n", update_ratio);
  std::printf("gateway's feed per session: %s", feed.empty() ? "(no RemoteFX line in its log)\n" : feed.c_str());
  if (!a.json.empty()) {
    nlohmann::json j;
    j["bench"] = "rdp_bench";
    j["seconds"] = a.seconds;
    j["gateway_feed"] = feed;
    j["picture_ratio_gateway_over_direct"] = ratio;
    const auto path = [](const PathResult& r) {
      nlohmann::json p;
      p["pictures_per_s"] = r.pps();
      p["picture_mpx_per_s"] = r.pictureMpxs();
      p["updates_per_s"] = r.ups();
      p["damage_mpx_per_s"] = r.mpxs();
      p["error"] = r.error;
      for (const RoundSample& s : r.samples)
        p["rounds"].push_back({{"seconds", s.secs}, {"pictures", s.pictures}, {"torn", s.torn},
                               {"updates", s.updates}, {"damaged_pixels", s.pixels},
                               {"pictures_each_second", s.pictures_per_second}});
      return p;
    };
    j["direct"] = path(direct);
    j["direct_gfx"] = path(direct_gfx);
    j["gateway"] = path(via_gateway);
    std::ofstream(a.json) << j.dump(1) << "\n";
  }
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
  constexpr const char* kUsage =
      "usage: rdp_bench [--seconds S] [--idle N] [--still S2] [--cycles C] [--json PATH]\n";
  vigil::integration::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--json") {
      a.json = argv[i + 1];
      continue;
    }
    const int v = std::atoi(argv[i + 1]);
    if (v < 0 || (v == 0 && k == "--seconds")) {
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
