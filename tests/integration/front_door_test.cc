// The front door seen by an attacker (issue 15): stalled handshakes, the
// per-address cap, floods from one address, shutdown under load, memory per
// abandoned handshake, and too little disk, against the real `vigil serve`.
// The attacker is tests/integration/attacker.py (raw sockets bound to
// 127.0.0.7 / 127.0.0.8, bounded, JSON out); the legitimate users come from
// 127.0.0.1 with real clients (xfreerdp, xtigervncviewer). Every figure is
// printed as "[ metrics ]" so it can be quoted. On a shared 2-core machine
// the whole file takes ~1.5 min when it passes (~3 min when every wait runs
// to its bound), most of it the 10 000-handshake churn.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/integration/gateway_fixture.h"
#include "tests/integration/rdp_test_client.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr char kAttackerAddr[] = "127.0.0.7";
constexpr char kFloodAddr[] = "127.0.0.8";

long long msSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

// One run of attacker.py in the background; its JSON lines go to a log file.
class Attack {
 public:
  static Result<std::unique_ptr<Attack>> start(const GatewayFixture& f, const std::string& name,
                                              std::vector<std::string> args) {
    std::unique_ptr<Attack> a(new Attack());
    a->name_ = name;
    a->log_ = f.dir() + "/attacker-" + name + ".log";
    args.insert(args.begin(), VIGIL_ATTACKER_PY);
    args.insert(args.begin(), "python3");
    auto p = testbed::Process::start(args, {.env = {}, .log_path = a->log_});
    if (!p) return p.status();
    a->proc_ = std::move(*p);
    return a;
  }

  // The JSON lines printed so far.
  std::vector<nlohmann::json> lines() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(testbed::readFile(log_));
    for (std::string line; std::getline(in, line);) {
      if (line.empty() || line[0] != '{') continue;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) out.push_back(std::move(j));
    }
    return out;
  }
  bool saw(const std::string& event) const {
    for (const auto& j : lines())
      if (j.value("event", "") == event) return true;
    return false;
  }
  // The last progress line of this kind (null if none yet).
  nlohmann::json last(const std::string& event) const {
    nlohmann::json found;
    for (const auto& j : lines())
      if (j.value("event", "") == event) found = j;
    return found;
  }
  // Waits for it to end by itself (at most `timeout`, then SIGTERM: it still
  // prints its result); the result line, or null.
  nlohmann::json finish(std::chrono::milliseconds timeout) {
    if (proc_.wait(timeout) == -1 && proc_.pid() > 0) {
      ::kill(proc_.pid(), SIGTERM);
      proc_.wait(10s);
    }
    proc_.stop();
    for (const auto& j : lines())
      if (j.value("done", false)) return j;
    return nlohmann::json();
  }
  // Ends it now (SIGTERM) and returns its result.
  nlohmann::json stop() { return finish(0ms); }
  std::string log() const { return name_ + ":\n" + testbed::readFile(log_); }

 private:
  Attack() = default;
  std::string name_, log_;
  testbed::Process proc_;
};

// A "Field:  N kB" line of /proc/PID/status, in kB (-1 if the process is gone).
long statusKb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}
long vmRssKb(pid_t pid) { return statusKb(pid, "VmRSS"); }

// RssAnon / RssFile now (which part of RSS moved: heap, or code paged in).
std::string rssParts(pid_t pid) {
  return "anon " + std::to_string(statusKb(pid, "RssAnon")) + " kB, file " +
         std::to_string(statusKb(pid, "RssFile")) + " kB";
}

// RSS after the process settled: the least of a few samples, so a transient
// (a thread not yet joined, an arena not yet trimmed) does not count and no
// malloc_trim is needed.
long settledRssKb(pid_t pid, std::string* samples_text) {
  std::this_thread::sleep_for(2s);
  long least = -1;
  for (int i = 0; i < 5; ++i) {
    const long kb = vmRssKb(pid);
    if (samples_text) *samples_text += (i ? " " : "") + std::to_string(kb);
    if (kb >= 0 && (least < 0 || kb < least)) least = kb;
    std::this_thread::sleep_for(300ms);
  }
  return least;
}

// Resident kB per mapping ("start-end name") from /proc/PID/smaps.
std::map<std::string, long> residentByMapping(pid_t pid) {
  std::map<std::string, long> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps");
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(' ') != std::string::npos &&
        line.find(':') > line.find(' ')) {
      std::istringstream f(line);
      std::string range, perms, offset, dev, inode, name;
      f >> range >> perms >> offset >> dev >> inode;
      std::getline(f, name);
      name.erase(0, name.find_first_not_of(' '));
      current = range + " " + perms + " " + (name.empty() ? "[anon]" : name);
    } else if (line.rfind("Rss:", 0) == 0 && !current.empty()) {
      out[current] = std::stol(line.substr(4));
    }
  }
  return out;
}

// The mappings whose resident size changed most between two readings, so a
// failure says where the memory went (heap, a thread's arena, stacks, code).
std::string largestGrowth(const std::map<std::string, long>& before, const std::map<std::string, long>& after) {
  std::vector<std::pair<long, std::string>> d;
  for (const auto& [k, kb] : after) {
    auto it = before.find(k);
    const long delta = kb - (it == before.end() ? 0 : it->second);
    if (delta != 0) d.emplace_back(delta, k + (it == before.end() ? " (new)" : ""));
  }
  for (const auto& [k, kb] : before)
    if (!after.count(k) && kb != 0) d.emplace_back(-kb, k + " (gone)");
  std::sort(d.begin(), d.end(), [](const auto& a, const auto& b) { return std::abs(a.first) > std::abs(b.first); });
  std::ostringstream s;
  for (std::size_t i = 0; i < d.size() && i < 12; ++i) s << "  " << std::showpos << d[i].first << std::noshowpos
                                                        << " kB  " << d[i].second << "\n";
  return s.str();
}

// The server's close times, all of them when few, else their range.
std::string closeTimes(const nlohmann::json& r) {
  if (!r.contains("close_s")) return "-";
  const nlohmann::json& c = r["close_s"];
  if (c.size() <= 8) return c.dump();
  double lo = 1e9, hi = -1;
  int open = 0;
  for (const auto& x : c) {
    if (x.is_null()) {
      ++open;
      continue;
    }
    lo = std::min(lo, x.get<double>());
    hi = std::max(hi, x.get<double>());
  }
  std::ostringstream s;
  s << "[" << c.size() - open << " closed";
  if (hi >= 0) s << " after " << lo << ".." << hi << " s";
  s << ", " << open << " never]";
  return s.str();
}

std::string stallSummary(const nlohmann::json& r) {
  if (r.is_null()) return "(no result)";
  std::ostringstream s;
  s << r.value("subcommand", "") << " kind=" << r.value("kind", "") << " src=" << r.value("src", "")
    << " opened=" << r.value("opens", 0) << " closed=" << r.value("closed", 0)
    << " at_once=" << r.value("closed_at_once", 0) << " open_at_end=" << r.value("open_at_end", 0)
    << " close_s=" << closeTimes(r)
    << " elapsed_s=" << r.value("elapsed_s", 0.0);
  return s.str();
}

// Every stalled connection was closed by the server, by its deadline, within
// `limit_s` of the stall beginning.
void expectAllCutWithin(const nlohmann::json& r, double limit_s, const std::string& gateway_log) {
  ASSERT_TRUE(r.is_object()) << "the attacker printed no result";
  ASSERT_EQ(r.value("connect_errors", -1), 0) << "the attacker could not connect: " << r.dump();
  EXPECT_EQ(r.value("open_at_end", -1), 0)
      << r.value("open_at_end", -1) << " of " << r.value("opens", 0)
      << " stalled handshakes were still open when the attacker gave up ("
      << r.value("elapsed_s", 0.0) << " s): " << stallSummary(r) << "\n"
      << gateway_log.substr(gateway_log.size() > 3000 ? gateway_log.size() - 3000 : 0);
  EXPECT_EQ(r.value("closed_at_once", -1), 0)
      << "closed at once (< 0.5 s) though under every cap: " << stallSummary(r);
  for (const auto& c : r["close_s"]) {
    if (c.is_null()) continue;
    EXPECT_LE(c.get<double>(), limit_s) << "a stalled handshake was cut only after " << c.get<double>()
                                        << " s: " << stallSummary(r);
  }
}

// ---------------------------------------------------------------------------

constexpr char kShortTimeout[] = "handshake_timeout = \"3s\"\n";
constexpr double kShortTimeoutLimitS = 3.0 + 1.0;
constexpr int kStallsPerKind = 3;  // per address: under max_unauthenticated_per_address (8)
// How long the attacker watches (past the limit, so a late cut shows its time).
constexpr char kWatchS[] = "12";

// An X.224 Connection Request asking for TLS, then silence; and the same
// followed by a TLS ClientHello, then silence. Each is cut within
// handshake_timeout + 1 s.
TEST(FrontDoor, StalledRdpHandshakesAreCutWithinTimeoutPlusOneSecond) {
  FixtureOptions o;
  o.extra_gateway_toml = kShortTimeout;
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const std::string port = std::to_string(f.rdpPort());
  const auto t0 = Clock::now();
  auto x224 = Attack::start(f, "x224", {"stall-rdp", "--kind", "x224", "--port", port, "--src",
                                        kAttackerAddr, "--count", std::to_string(kStallsPerKind),
                                        "--hold", kWatchS});
  ASSERT_TRUE(x224.ok()) << x224.message();
  auto hello = Attack::start(f, "clienthello", {"stall-rdp", "--kind", "clienthello", "--port", port,
                                                "--src", kFloodAddr, "--count",
                                                std::to_string(kStallsPerKind), "--hold", kWatchS});
  ASSERT_TRUE(hello.ok()) << hello.message();
  const nlohmann::json rx = (*x224)->finish(40s);
  const nlohmann::json rh = (*hello)->finish(40s);
  std::printf("[ metrics ] RDP stall X.224 then silence: %s\n", stallSummary(rx).c_str());
  std::printf("[ metrics ] RDP stall X.224 + ClientHello then silence: %s\n", stallSummary(rh).c_str());
  std::printf("[ metrics ] test took %lld ms\n", msSince(t0));
  {
    SCOPED_TRACE("X.224 then silence");
    expectAllCutWithin(rx, kShortTimeoutLimitS, f.gatewayLog());
  }
  {
    SCOPED_TRACE("X.224 + TLS ClientHello then silence");
    expectAllCutWithin(rh, kShortTimeoutLimitS, f.gatewayLog());
  }
}

// Connect and read the RFB version, send nothing; send the version back,
// then nothing. Each is cut within handshake_timeout + 1 s.
TEST(FrontDoor, StalledVncHandshakesAreCutWithinTimeoutPlusOneSecond) {
  FixtureOptions o;
  o.extra_gateway_toml = kShortTimeout;
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const std::string port = std::to_string(f.vncPort());
  const auto t0 = Clock::now();
  auto silent = Attack::start(f, "silent", {"stall-vnc", "--kind", "silent", "--port", port, "--src",
                                            kAttackerAddr, "--count", std::to_string(kStallsPerKind),
                                            "--hold", kWatchS});
  ASSERT_TRUE(silent.ok()) << silent.message();
  auto version = Attack::start(f, "version", {"stall-vnc", "--kind", "version", "--port", port, "--src",
                                              kFloodAddr, "--count", std::to_string(kStallsPerKind),
                                              "--hold", kWatchS});
  ASSERT_TRUE(version.ok()) << version.message();
  const nlohmann::json rs = (*silent)->finish(40s);
  const nlohmann::json rv = (*version)->finish(40s);
  std::printf("[ metrics ] VNC stall: read version, send nothing: %s\n", stallSummary(rs).c_str());
  std::printf("[ metrics ] VNC stall: version sent, then nothing: %s\n", stallSummary(rv).c_str());
  std::printf("[ metrics ] test took %lld ms\n", msSince(t0));
  {
    SCOPED_TRACE("read the version, send nothing");
    expectAllCutWithin(rs, kShortTimeoutLimitS, f.gatewayLog());
  }
  {
    SCOPED_TRACE("send the version, then nothing");
    expectAllCutWithin(rv, kShortTimeoutLimitS, f.gatewayLog());
  }
  EXPECT_EQ(f.targetConnections(), 0);
}

// Twelve stalled handshakes from one address against one listener (RDP from
// 127.0.0.7, VNC from 127.0.0.8): the first max_unauthenticated_per_address
// (8) are held until the deadline cuts them, the other four are closed at once.
TEST(FrontDoor, PerAddressCapClosesConnectionsPastEightAtOnce) {
  constexpr int kCap = 8, kOpened = 12;
  FixtureOptions o;
  o.extra_gateway_toml = std::string(kShortTimeout) + "max_unauthenticated_per_address = " +
                         std::to_string(kCap) + "\n";
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const auto t0 = Clock::now();
  auto rdp = Attack::start(f, "cap-rdp", {"stall-rdp", "--kind", "x224", "--port", std::to_string(f.rdpPort()),
                                          "--src", kAttackerAddr, "--count", std::to_string(kOpened),
                                          "--hold", kWatchS});
  ASSERT_TRUE(rdp.ok()) << rdp.message();
  auto vnc = Attack::start(f, "cap-vnc", {"stall-vnc", "--kind", "silent", "--port", std::to_string(f.vncPort()),
                                          "--src", kFloodAddr, "--count", std::to_string(kOpened),
                                          "--hold", kWatchS});
  ASSERT_TRUE(vnc.ok()) << vnc.message();
  const nlohmann::json rr = (*rdp)->finish(40s);
  const nlohmann::json vr = (*vnc)->finish(40s);
  std::printf("[ metrics ] %d RDP stalls from one address: %s\n", kOpened, stallSummary(rr).c_str());
  std::printf("[ metrics ] %d VNC stalls from one address: %s\n", kOpened, stallSummary(vr).c_str());
  std::printf("[ metrics ] test took %lld ms\n", msSince(t0));
  for (const nlohmann::json* r : {&rr, &vr}) {
    SCOPED_TRACE(r->value("subcommand", "?"));
    ASSERT_TRUE(r->is_object());
    EXPECT_EQ(r->value("closed_at_once", -1), kOpened - kCap)
        << "connections past the per-address cap were not closed at once: " << stallSummary(*r);
    EXPECT_EQ(r->value("cut", -1), kCap) << "the first " << kCap << " were not held until the deadline: "
                                         << stallSummary(*r);
    EXPECT_EQ(r->value("open_at_end", -1), 0) << stallSummary(*r);
    if (r->contains("max_cut_s") && !(*r)["max_cut_s"].is_null()) {
      EXPECT_LE((*r)["max_cut_s"].get<double>(), kShortTimeoutLimitS) << stallSummary(*r);
    }
  }
}

// ---------------------------------------------------------------------------

// A vendor1 session on `target` seen live by `vigil sessions --live`.
bool liveOn(const GatewayFixture& f, const std::string& target) {
  nlohmann::json j = f.vigilJson({"sessions", "--live", "--user", "vendor1", "--target", target});
  if (!j.is_object()) return false;
  for (const auto& s : j["sessions"])
    if (s.value("target", "") == target && s.value("state", "") == "live") return true;
  return false;
}

// Reads what a growing file gained since the last call.
class FileTail {
 public:
  explicit FileTail(std::string path) : path_(std::move(path)) { (void)next(); }
  std::string next() {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size <= offset_) return "";
    in.seekg(offset_);
    std::string chunk(static_cast<std::size_t>(size - offset_), '\0');
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    offset_ = size;
    return chunk;
  }

 private:
  std::string path_;
  std::streamoff offset_ = 0;
};

// Milliseconds from `t0` until a vendor1 session on `target` is live (-1 if
// not within `timeout`). Watched in the gateway log ("event=started", what
// SessionManager writes when it stores the live record; polled every 20 ms)
// and confirmed by `vigil sessions --live` (the CLI alone takes ~0.3 s a call
// on this machine, too coarse to time by); if the log line changed wording,
// the CLI alone times it, every ~0.5 s.
long long msUntilLive(const GatewayFixture& f, FileTail& log, const std::string& target,
                      Clock::time_point t0, std::chrono::milliseconds timeout) {
  const std::string needle = "event=started user=vendor1 target=" + target + " ";
  std::string seen;
  for (int i = 0; Clock::now() - t0 < timeout; ++i) {
    seen += log.next();
    if (seen.find(needle) != std::string::npos) {
      const long long ms = msSince(t0);
      return testbed::waitFor([&] { return liveOn(f, target); }, 5s, 100ms) ? ms : -1;
    }
    if (i % 25 == 24 && liveOn(f, target)) return msSince(t0);
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

constexpr int kFloodStalls = 120;       // per protocol, from 127.0.0.7, reopened when cut
constexpr long long kAdmitWithinMs = 3000;

struct Admission {
  long long rdp_ms = -1, vnc_ms = -1;  // from starting the client to a live session; -1 = not in 10 s
  std::string rdp_log, vnc_log;
};

// Starts a real xfreerdp, then a real xtigervncviewer (with `code`), on
// `cd`, and times each from its start to its live session; both are closed
// again and their sessions seen ended before this returns.
Admission admitRealClients(const GatewayFixture& f, const testbed::XDisplay& cd, const std::string& code,
                           const std::string& label) {
  Admission a;
  const std::string pwfile = f.dir() + "/vnc-" + label + ".pass";
  auto rc = testbed::run({"sh", "-c", "printf '%s\\n%s\\n' '" + code + "' '" + code + "' | tigervncpasswd -f > '" +
                                         pwfile + "'"});
  EXPECT_TRUE(rc.ok() && *rc == 0) << "tigervncpasswd failed";
  FileTail gateway_log(f.dir() + "/vigil.log");
  const std::string xlog = f.dir() + "/xfreerdp-" + label + ".log";
  const auto t_rdp = Clock::now();
  auto xfreerdp = cd.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                            "/u:vendor1#" + std::string(GatewayFixture::kRdpTarget),
                            std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                            "/size:1024x768"},
                           xlog);
  EXPECT_TRUE(xfreerdp.ok()) << xfreerdp.message();
  if (xfreerdp.ok()) a.rdp_ms = msUntilLive(f, gateway_log, GatewayFixture::kRdpTarget, t_rdp, 10s);

  const std::string vlog = f.dir() + "/vncviewer-" + label + ".log";
  const auto t_vnc = Clock::now();
  auto viewer = cd.spawn({"xtigervncviewer", "-passwd", pwfile, "127.0.0.1::" + std::to_string(f.vncPort())},
                         vlog);
  EXPECT_TRUE(viewer.ok()) << viewer.message();
  if (viewer.ok()) a.vnc_ms = msUntilLive(f, gateway_log, "desk-vnc", t_vnc, 10s);
  if (xfreerdp.ok()) xfreerdp->stop();
  if (viewer.ok()) viewer->stop();
  a.rdp_log = testbed::readFile(xlog);
  a.vnc_log = testbed::readFile(vlog);
  EXPECT_TRUE(testbed::waitFor([&] {
    return !liveOn(f, GatewayFixture::kRdpTarget) && !liveOn(f, "desk-vnc");
  }, 15s, 250ms)) << "sessions still live after the clients (" << label << ") quit";
  return a;
}

// 120 stalled RDP and 120 stalled VNC handshakes from 127.0.0.7 (reopened as
// soon as the server closes one), and wrong VNC answers from 127.0.0.8; a
// real xfreerdp and a real xtigervncviewer from 127.0.0.1 each get a live
// session within 3 s of starting. The same clients are timed first without
// any attack, for comparison.
TEST(FrontDoor, RealClientsAreAdmittedWithin3sDuringStallAndRefusalFloods) {
  FixtureOptions o;
  o.rdp_target = true;
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto client_display = testbed::XDisplay::start(1366, 900, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  const testbed::XDisplay& cd = **client_display;

  const std::string quiet_code = f.grantCode();
  ASSERT_EQ(quiet_code.size(), 8u);
  const Admission quiet = admitRealClients(f, cd, quiet_code, "quiet");
  std::printf("[ metrics ] no attack: xfreerdp live after %lld ms, xtigervncviewer after %lld ms\n",
              quiet.rdp_ms, quiet.vnc_ms);
  ASSERT_GE(quiet.rdp_ms, 0) << "xfreerdp got no session even without an attack\n" << quiet.rdp_log;
  ASSERT_GE(quiet.vnc_ms, 0) << "xtigervncviewer got no session even without an attack\n" << quiet.vnc_log;
  const std::string code = f.grantCode();
  ASSERT_EQ(code.size(), 8u);

  const auto t_attack = Clock::now();
  const std::string hold = "60";  // bound; stopped as soon as the clients are in
  auto rdp_stall = Attack::start(f, "flood-rdp", {"stall-rdp", "--kind", "x224", "--port",
                                                  std::to_string(f.rdpPort()), "--src", kAttackerAddr,
                                                  "--count", std::to_string(kFloodStalls), "--hold", hold,
                                                  "--reopen", "--reopen-rate", "40"});
  ASSERT_TRUE(rdp_stall.ok()) << rdp_stall.message();
  auto vnc_stall = Attack::start(f, "flood-vnc", {"stall-vnc", "--kind", "silent", "--port",
                                                  std::to_string(f.vncPort()), "--src", kAttackerAddr,
                                                  "--count", std::to_string(kFloodStalls), "--hold", hold,
                                                  "--reopen", "--reopen-rate", "40"});
  ASSERT_TRUE(vnc_stall.ok()) << vnc_stall.message();
  auto wrong = Attack::start(f, "wrong-answers", {"vnc-wrong-answers", "--port", std::to_string(f.vncPort()),
                                                  "--src", kFloodAddr, "--count", "1200", "--rate", "20",
                                                  "--parallel", "4", "--max-seconds", hold});
  ASSERT_TRUE(wrong.ok()) << wrong.message();
  ASSERT_TRUE(testbed::waitFor([&] {
    return (*rdp_stall)->saw("opened") && (*vnc_stall)->saw("opened") && (*wrong)->saw("started");
  }, 30s)) << (*rdp_stall)->log() << (*vnc_stall)->log() << (*wrong)->log();
  std::this_thread::sleep_for(2s);  // the flood in full swing
  const nlohmann::json rdp_holding = (*rdp_stall)->last("holding");
  const nlohmann::json vnc_holding = (*vnc_stall)->last("holding");

  const Admission flood = admitRealClients(f, cd, code, "flood");
  const long long flood_ms = msSince(t_attack);
  const nlohmann::json r_rdp = (*rdp_stall)->stop();
  const nlohmann::json r_vnc = (*vnc_stall)->stop();
  const nlohmann::json r_wrong = (*wrong)->stop();
  std::printf("[ metrics ] flood: xfreerdp live after %lld ms, xtigervncviewer after %lld ms (-1 = not within 10 s)\n",
              flood.rdp_ms, flood.vnc_ms);
  std::printf("[ metrics ] attacker %s held (its view) RDP %s, VNC %s, 2 s into the flood\n", kAttackerAddr,
              rdp_holding.dump().c_str(), vnc_holding.dump().c_str());
  std::printf("[ metrics ] flood RDP: %s\n", r_rdp.dump().c_str());
  std::printf("[ metrics ] flood VNC: %s\n", r_vnc.dump().c_str());
  std::printf("[ metrics ] refusals from %s: %s\n", kFloodAddr, r_wrong.dump().c_str());
  std::printf("[ metrics ] flood ran %lld ms\n", flood_ms);

  EXPECT_GE(flood.rdp_ms, 0) << "xfreerdp got no live session within 10 s during the flood\n" << flood.rdp_log;
  EXPECT_LE(flood.rdp_ms, kAdmitWithinMs) << "xfreerdp was admitted only after " << flood.rdp_ms << " ms";
  EXPECT_GE(flood.vnc_ms, 0) << "xtigervncviewer got no live session within 10 s during the flood\n"
                             << flood.vnc_log;
  EXPECT_LE(flood.vnc_ms, kAdmitWithinMs) << "xtigervncviewer was admitted only after " << flood.vnc_ms << " ms";
  // The flood was real: the attacker kept opening, and no wrong answer got in.
  ASSERT_TRUE(r_rdp.is_object() && r_vnc.is_object() && r_wrong.is_object())
      << (*rdp_stall)->log() << (*vnc_stall)->log() << (*wrong)->log();
  EXPECT_GE(r_rdp.value("opens", 0), kFloodStalls);
  EXPECT_GE(r_vnc.value("opens", 0), kFloodStalls);
  EXPECT_GT(r_wrong.value("finished", 0), 0);
  EXPECT_EQ(r_wrong["outcomes"].value("accepted", 0), 0) << "a random VNC answer was accepted";
  // Connections past max_unauthenticated_per_address (8) from one address are
  // closed at once.
  EXPECT_GT(r_rdp.value("closed_at_once", 0) + r_vnc.value("closed_at_once", 0), 0)
      << "no connection from " << kAttackerAddr << " was closed at once (per-address cap)";
}

// ---------------------------------------------------------------------------

// `vigil serve` exits within 10 s of SIGTERM while 60 stalled RDP and 60
// stalled VNC handshakes are held open (caps raised and the deadline long,
// so that all 120 really are inside the handshake when the signal comes).
TEST(FrontDoor, SigtermStopsServeWithin10sWhileHandshakesStall) {
  FixtureOptions o;
  o.extra_gateway_toml =
      "handshake_timeout = \"120s\"\nmax_unauthenticated_per_address = 100\nmax_unauthenticated = 200\n";
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto rdp = Attack::start(f, "term-rdp", {"stall-rdp", "--kind", "x224", "--port", std::to_string(f.rdpPort()),
                                           "--src", kAttackerAddr, "--count", "60", "--hold", "60"});
  ASSERT_TRUE(rdp.ok()) << rdp.message();
  auto vnc = Attack::start(f, "term-vnc", {"stall-vnc", "--kind", "silent", "--port", std::to_string(f.vncPort()),
                                           "--src", kFloodAddr, "--count", "60", "--hold", "60"});
  ASSERT_TRUE(vnc.ok()) << vnc.message();
  ASSERT_TRUE(testbed::waitFor([&] { return (*rdp)->saw("holding") && (*vnc)->saw("holding"); }, 30s))
      << (*rdp)->log() << (*vnc)->log();
  std::this_thread::sleep_for(1s);
  const nlohmann::json rh = (*rdp)->last("holding"), vh = (*vnc)->last("holding");
  std::printf("[ metrics ] held when SIGTERM was sent: RDP %s, VNC %s\n", rh.dump().c_str(),
              vh.dump().c_str());
  EXPECT_EQ(rh.value("held", 0), 60) << "the server did not hold all 60 RDP handshakes open";
  EXPECT_EQ(vh.value("held", 0), 60) << "the server did not hold all 60 VNC handshakes open";

  const auto t0 = Clock::now();
  const int rc = f.terminateGateway(15s);
  const long long stop_ms = msSince(t0);
  const bool exited = f.gatewayPid() == -1;
  const nlohmann::json rr = (*rdp)->stop(), vr = (*vnc)->stop();
  std::printf("[ metrics ] SIGTERM -> exit: %s after %lld ms (exit code %d)\n",
              exited ? "exited" : "STILL RUNNING", stop_ms, rc);
  std::printf("[ metrics ] attacker RDP: %s\n[ metrics ] attacker VNC: %s\n", stallSummary(rr).c_str(),
              stallSummary(vr).c_str());
  EXPECT_TRUE(exited) << "vigil serve still ran " << stop_ms << " ms after SIGTERM with 60 + 60 stalled handshakes";
  EXPECT_LE(stop_ms, 10'000);
  EXPECT_EQ(rc, 0) << "vigil serve did not exit cleanly on SIGTERM";
}

// ---------------------------------------------------------------------------

constexpr int kWarmup = 500;
constexpr int kChurn = 10'000;
constexpr int kBatches = 5;  // RSS is read after each, so a step tells itself from a slope
constexpr long kMaxGrowthKb = 1024;
// The warm-up runs more connections at once than the churn, so that
// whatever the process keeps for its peak concurrency (thread stacks glibc
// caches, malloc arenas) is already there before the first reading.
constexpr int kWarmupParallel = 8, kChurnParallel = 4;

// RSS of `vigil serve` grows by at most 1 MB over 10 000 abandoned TLS
// handshakes (X.224 + ClientHello then close; after the ServerHello; after
// the TLS handshake), four in flight at once from two addresses, after a
// warm-up of 500. Run in five batches, RSS read after each (printed), so a
// failure shows whether memory climbs with the count (a leak) or stepped
// once (an allocator keeping a new arena).
// The resident change per mapping is printed too. This failed on
// 2026-12-07 (+2.7 to +4.1 MB, stepping up in the first batch, then flat):
// the freed handshake memory stayed inside glibc's arenas until the listener
// began handing it back (Listener::sweep, malloc_trim at most every 2 s).
TEST(FrontDoor, RssGrowsAtMost1MbOver10000AbandonedTlsHandshakes) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const pid_t pid = f.gatewayPid();
  ASSERT_GT(pid, 0);
  const std::string port = std::to_string(f.rdpPort());
  const std::string srcs = std::string(kAttackerAddr) + "," + kFloodAddr;
  auto churn = [&](const std::string& name, int count, int parallel, std::chrono::seconds bound) {
    auto a = Attack::start(f, name, {"tls-churn", "--port", port, "--src", srcs, "--count", std::to_string(count),
                                     "--parallel", std::to_string(parallel), "--max-seconds",
                                     std::to_string(bound.count())});
    if (!a.ok()) return nlohmann::json();
    nlohmann::json r = (*a)->finish(bound + 20s);
    if (!r.is_object()) ADD_FAILURE() << (*a)->log();
    return r;
  };

  // Start-up done (OCR models loaded and the like): RSS still for a second.
  long last = -1;
  testbed::waitFor([&] {
    const long now = vmRssKb(pid);
    const bool still = now == last;
    last = now;
    return still;
  }, 15s, 1000ms);
  const nlohmann::json rw = churn("churn-warmup", kWarmup, kWarmupParallel, 60s);
  ASSERT_TRUE(rw.is_object());
  std::string samples;
  const long before = settledRssKb(pid, &samples);
  std::printf("[ metrics ] warm-up: %s\n[ metrics ] VmRSS after %d: %ld kB [%s] (%s)\n", rw.dump().c_str(),
              kWarmup, before, samples.c_str(), rssParts(pid).c_str());

  const std::map<std::string, long> maps_before = residentByMapping(pid);
  std::vector<long> series = {before};
  int finished = 0, abandoned = 0;
  long long churn_ms = 0;
  for (int b = 1; b <= kBatches; ++b) {
    const auto t0 = Clock::now();
    const nlohmann::json r = churn("churn-" + std::to_string(b), kChurn / kBatches, kChurnParallel, 60s);
    churn_ms += msSince(t0);
    ASSERT_TRUE(r.is_object());
    finished += r.value("finished", 0);
    for (const char* mode : {"hello-close", "server-hello", "tls-done"}) abandoned += r["outcomes"].value(mode, 0);
    samples.clear();
    series.push_back(settledRssKb(pid, &samples));
    std::printf("[ metrics ] after %d more: VmRSS %ld kB [%s] (%+ld kB; %s); %s\n", finished, series.back(),
                samples.c_str(), series.back() - before, rssParts(pid).c_str(), r["outcomes"].dump().c_str());
    ASSERT_GT(series.back(), 0) << "vigil serve died during the churn\n" << f.gatewayLog().substr(0, 4000);
  }
  const long growth = series.back() - before;
  std::printf("[ metrics ] resident change by mapping since the warm-up:\n%s",
              largestGrowth(maps_before, residentByMapping(pid)).c_str());
  std::printf("[ metrics ] VmRSS %ld -> %ld kB: growth %ld kB = %.0f bytes per abandoned handshake "
              "(after the first batch: %+ld kB); %d handshakes in %lld ms of churn (%.0f/s)\n",
              before, series.back(), growth, finished > 0 ? growth * 1024.0 / finished : 0.0,
              series.back() - series[1], finished, churn_ms, churn_ms > 0 ? finished * 1000.0 / churn_ms : 0.0);
  EXPECT_EQ(finished, kChurn) << "the churn did not finish in its time bound";
  // Each was a TLS handshake begun and abandoned (not refused before TLS).
  EXPECT_GE(abandoned, kChurn * 99 / 100);
  EXPECT_LE(growth, kMaxGrowthKb) << "vigil serve grew by " << growth << " kB over " << finished
                                  << " abandoned TLS handshakes";
}

// ---------------------------------------------------------------------------

// [recordings] min_free larger than any disk: every session is refused before
// its target is contacted (a session that cannot be recorded does not start),
// for RDP and VNC, and the refusal is on record.
TEST(FrontDoor, TooLittleFreeDiskRefusesBeforeContactingTheTarget) {
  FixtureOptions o;
  o.rdp_target = true;
  o.recordings_dir = testbed::makeTempDir("vigil-fd-rec");
  o.recordings_min_free = "\"999999999GiB\"";
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  testbed::VncTestClient::Options vo;
  vo.port = f.vncPort();
  vo.password = f.grantCode();
  ASSERT_EQ(vo.password.size(), 8u);
  auto vnc = testbed::VncTestClient::connect(vo);
  RdpTestClient::Options ro;
  ro.port = f.rdpPort();
  ro.username = "vendor1#" + std::string(GatewayFixture::kRdpTarget);
  ro.password = GatewayFixture::kVendorPassword;
  ro.connect_timeout_ms = 15000;
  auto rdp = RdpTestClient::connect(ro);
  std::this_thread::sleep_for(1s);  // a late target connect would show in the counts

  // Sessions, and refusals (`--refused`: refused connections are records of
  // their own, not sessions).
  std::string reasons;
  for (const bool refused : {false, true}) {
    std::vector<std::string> args = {"sessions", "--limit", "100"};
    if (refused) args.push_back("--refused");
    nlohmann::json all = f.vigilJson(args);
    if (!all.is_object()) continue;
    for (const auto& s : all["sessions"])
      reasons += s.value("target", "") + ": " + s.value("state", "") + " " + s.value("end_reason", "") + "\n";
  }
  std::printf("[ metrics ] min_free 999999999GiB: VNC client %s, RDP client %s, target connections VNC %d RDP %d\n"
              "[ metrics ] sessions:\n%s",
              vnc.ok() ? "ADMITTED" : ("refused (" + vnc.message() + ")").c_str(),
              rdp.ok() ? "ADMITTED" : "refused", f.targetConnections(), f.rdpTargetConnections(), reasons.c_str());
  EXPECT_FALSE(vnc.ok()) << "a VNC session started with less free disk than [recordings] min_free";
  EXPECT_FALSE(rdp.ok()) << "an RDP session started with less free disk than [recordings] min_free";
  EXPECT_EQ(f.targetConnections(), 0) << "the VNC target was contacted";
  EXPECT_EQ(f.rdpTargetConnections(), 0) << "the RDP target was contacted";
  EXPECT_FALSE(liveOn(f, "desk-vnc"));
  EXPECT_FALSE(liveOn(f, GatewayFixture::kRdpTarget));
  // The operator can tell why: the reason names min_free in the refusal
  // records or, at least, in the gateway log.
  const bool on_record = reasons.find("min_free") != std::string::npos;
  const bool in_log = f.gatewayLog().find("min_free") != std::string::npos;
  std::printf("[ metrics ] the reason (min_free) in the refusal records: %s, in the gateway log: %s\n",
              on_record ? "yes" : "no", in_log ? "yes" : "no");
  EXPECT_TRUE(on_record || in_log) << "no refusal names [recordings] min_free:\n" << reasons;
  (void)testbed::run({"rm", "-rf", *o.recordings_dir});
}

}  // namespace
}  // namespace vigil::integration
