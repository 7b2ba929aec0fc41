// Compatibility with the RDP clients people use, with real parts only: the
// real xfreerdp (and Debian's rdesktop) on their own Xvfb display, through
// `vigil serve`, to freerdp-shadow-cli sharing the fixture's desktop. What is
// checked is what a user sees: the client's window against the target's
// screen (PSNR), and for clients the gateway cannot serve, a message that
// says why and a gateway log line naming the client. docs/compatibility.md
// holds the figures.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <thread>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

constexpr char kLogin[] = "vendor1#desk-rdp";

Result<std::unique_ptr<GatewayFixture>> startFixture() {
  FixtureOptions o;
  o.rdp_target = true;
  return GatewayFixture::start(o);
}

int liveRdpSessions(const GatewayFixture& f) {
  nlohmann::json j = f.vigilJson({"sessions", "--limit", "1000"});
  int n = 0;
  if (!j.is_object()) return 0;
  for (const auto& s : j["sessions"])
    if (s.value("target", "") == GatewayFixture::kRdpTarget && s.value("state", "") == "live") ++n;
  return n;
}

bool searchable(const GatewayFixture& f, const std::string& marker, const std::string& line) {
  nlohmann::json r = f.vigilJson({"search", marker, "--limit", "100"});
  if (!r.is_object()) return false;
  for (const auto& h : r["hits"])
    if (h.value("text", "") == line) return true;
  return false;
}

// xfreerdp at each colour depth a user can pick (mstsc offers 15/16/24/32;
// xfreerdp also 8), and with RemoteFX and GFX asked for: the client's screen
// matches the target's, a line typed in the client runs on the target and
// is searchable. One short connection per row.
TEST(RdpCompat, XfreerdpEveryColourDepthShowsTheTargetScreen) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto client_display = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  const testbed::XDisplay& cd = **client_display;

  struct Row {
    std::string name;
    std::vector<std::string> args;
    std::string gfx_log;  // what the gateway must log about the graphics pipeline ("": nothing)
    // The target's RemoteFX went on to the client as it came (freerdp-shadow
    // sends RemoteFX surface bits; only RemoteFX clients can take them).
    bool passes_remotefx = false;
  };
  const std::vector<Row> rows = {
      {"bpp8", {"/bpp:8"}},   {"bpp15", {"/bpp:15"}},         {"bpp16", {"/bpp:16"}},
      {"bpp24", {"/bpp:24"}}, {"bpp32", {"/bpp:32"}},         {"rfx", {"/bpp:32", "/rfx"}, "", true},
      {"gfx", {"/bpp:32", "/gfx"}},
      // GFX with H.264 asked for: the gateway must answer with AVC420.
      {"gfx-avc420", {"/bpp:32", "/gfx:avc420"}, "codec=avc420"},
      // GFX without H.264: the pipeline opens without AVC, legacy codec.
      {"gfx-rfx", {"/bpp:32", "/gfx:rfx"}, "without AVC420, codec=remotefx", true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const std::size_t log_start = f.gatewayLog().size();  // this row's part of the log follows
    const std::string xlog = f.dir() + "/xfreerdp-" + row.name + ".log";
    std::vector<std::string> argv = {"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                                     std::string("/u:") + kLogin,
                                     std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                                     "/size:1280x800", "-grab-keyboard"};
    argv.insert(argv.end(), row.args.begin(), row.args.end());
    auto xfreerdp = cd.spawn(argv, xlog);
    ASSERT_TRUE(xfreerdp.ok()) << xfreerdp.message();
    ASSERT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 1; }, 30s, 250ms))
        << testbed::readFile(xlog) << "\n" << f.gatewayLog();

    // Type a line in the client, as a person would.
    std::string wid;
    ASSERT_TRUE(testbed::waitFor([&] {
      wid.clear();
      auto rc = cd.run({"xdotool", "search", "--name", "FreeRDP"}, &wid);
      return rc.ok() && *rc == 0 && !wid.empty();
    }, 20s, 200ms)) << testbed::readFile(xlog);
    wid = wid.substr(0, wid.find('\n'));
    f.focusTerminal();
    ASSERT_TRUE(cd.run({"xdotool", "windowfocus", "--sync", wid}).ok());
    ASSERT_TRUE(cd.run({"xdotool", "mousemove", "--window", wid, "300", "200", "click", "1"}).ok());
    std::this_thread::sleep_for(300ms);
    const std::string marker = "compat" + row.name + std::to_string(::getpid() % 100000);
    const std::string proof = f.dir() + "/" + marker + ".txt";
    const std::string line = "echo " + marker + " > " + proof;
    ASSERT_TRUE(cd.run({"xdotool", "type", "--delay", "30", line}).ok());
    ASSERT_TRUE(cd.run({"xdotool", "key", "Return"}).ok());
    const bool ran = testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 10s);
    const bool found = testbed::waitFor([&] { return searchable(f, marker, line); }, 6s, 250ms);
    EXPECT_TRUE(ran) << "the line typed in xfreerdp did not run on the target";
    EXPECT_TRUE(found) << "the line typed in xfreerdp is not searchable";

    std::this_thread::sleep_for(1000ms);
    const Frame client = cd.settledScreenshot();  // xfreerdp fills the display at 0,0
    auto target = f.display().screenshot();
    ASSERT_TRUE(target.ok()) << target.message();
    const double db = testbed::psnr(client, *target);
    std::string codec;
    {
      const std::string log = f.gatewayLog();
      const auto at = log.rfind("client activated");
      if (at != std::string::npos) codec = log.substr(at, log.find('\n', at) - at);
      const auto gfx_at = log.rfind("client graphics pipeline");
      if (gfx_at != std::string::npos && gfx_at > at)
        codec += "; " + log.substr(gfx_at, log.find('\n', gfx_at) - gfx_at);
    }
    if (!row.gfx_log.empty()) {
      EXPECT_NE(codec.find(row.gfx_log), std::string::npos)
          << "the gateway did not log \"" << row.gfx_log << "\" for " << row.name << ": " << codec;
    }
    std::printf("[ metrics ] xfreerdp %s: client screen vs target PSNR %.1f dB, line on target %s, "
                "searchable %s (%s)\n",
                row.name.c_str(), db, ran ? "yes" : "no", found ? "yes" : "no", codec.c_str());
    EXPECT_GE(db, 35.0) << "the client's screen (" << row.name << ") differs from the target's\n"
                        << testbed::readFile(xlog);
    xfreerdp->stop();
    ASSERT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 0; }, 15s, 250ms))
        << f.gatewayLog();
    {
      // The target's own RemoteFX messages reached a RemoteFX client; the
      // screen check above shows the client decoded them as the target meant.
      const std::string log = f.gatewayLog().substr(log_start);
      const std::string key = "passed_through=";
      const auto at = log.rfind(key);
      const long passed = at == std::string::npos ? 0 : std::strtol(log.c_str() + at + key.size(), nullptr, 10);
      if (row.passes_remotefx) {
        std::printf("[ metrics ] xfreerdp %s: %s\n", row.name.c_str(),
                    at == std::string::npos ? "no RemoteFX line" : log.substr(at, log.find('\n', at) - at).c_str());
        EXPECT_GT(passed, 0) << "the target's RemoteFX was re-encoded for " << row.name;
      }
    }
    if (row.gfx_log == "codec=avc420") {
      // The screen really went as H.264: the pipeline counted its frames.
      const std::string log = f.gatewayLog();
      const std::string key = "client graphics pipeline closed avc420_frames=";
      const auto at = log.rfind(key);
      ASSERT_NE(at, std::string::npos) << "no AVC420 frame count in the gateway's log";
      const long frames = std::strtol(log.c_str() + at + key.size(), nullptr, 10);
      std::printf("[ metrics ] xfreerdp %s: %ld AVC420 frames (%s)\n", row.name.c_str(), frames,
                  log.substr(at, log.find('\n', at) - at).c_str());
      EXPECT_GT(frames, 0);
    }
  }
}

}  // namespace
}  // namespace vigil::integration

namespace vigil::integration {
namespace {

// Runs `command` under sh on `d` (at most 20 s); its exit code, output and
// how long it took.
struct Ran {
  int code = -1;
  std::string out;
  std::chrono::milliseconds took{};
};
Ran runClient(const testbed::XDisplay& d, const std::string& command) {
  Ran r;
  const auto t0 = std::chrono::steady_clock::now();
  auto rc = d.run({"sh", "-c", command + " 2>&1; echo \"exit=$?\""}, &r.out);
  r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  const auto at = r.out.rfind("exit=");
  if (rc.ok() && at != std::string::npos) r.code = std::atoi(r.out.c_str() + at + 5);
  return r;
}

// xfreerdp /sec:nla: the gateway does not offer NLA towards clients (it
// would need every password in clear). The client gives up at once with
// FreeRDP's negotiation error; the gateway says why at info, naming the client.
TEST(RdpCompat, XfreerdpRequiringNlaEndsQuicklyAndTheGatewaySaysWhy) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto cd = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(cd.ok()) << cd.message();

  const Ran r = runClient(**cd, "timeout 15 xfreerdp /v:127.0.0.1:" + std::to_string(f.rdpPort()) +
                                    " /u:" + kLogin + " /p:" + GatewayFixture::kVendorPassword +
                                    " /cert:ignore /sec:nla");
  std::printf("[ metrics ] xfreerdp /sec:nla exit %d after %lld ms\n", r.code,
              static_cast<long long>(r.took.count()));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.code, 124) << "xfreerdp /sec:nla ran into the timeout\n" << r.out;
  EXPECT_LT(r.took, 10s) << r.out;
  EXPECT_NE(r.out.find("ERRCONNECT_SECURITY_NEGO_CONNECT_FAILED"), std::string::npos) << r.out;

  std::string log;
  EXPECT_TRUE(testbed::waitFor([&] {
    log = f.gatewayLog();
    return log.find("requires NLA, which the gateway does not offer towards clients") != std::string::npos;
  }, 5s)) << log;
  const auto line_at = log.find("requires NLA");
  const std::string line = log.substr(log.rfind('\n', line_at) + 1, log.find('\n', line_at) - log.rfind('\n', line_at) - 1);
  EXPECT_NE(line.find(" info rdp: connection ended before authentication client=127.0.0.1:"), std::string::npos)
      << line;
  EXPECT_NE(line.find("password"), std::string::npos) << line;
  EXPECT_NE(line.find("/sec:tls"), std::string::npos) << line;
  EXPECT_EQ(f.rdpTargetConnections(), 0);
  EXPECT_EQ(liveRdpSessions(f), 0);
}

// Debian's rdesktop 1.9 sends an MCS Erect Domain Request FreeRDP's server
// refuses (subHeight/subInterval as raw 16-bit numbers, not PER integers).
// The documented behaviour: rdesktop exits at once with gnutls's "non-properly
// terminated" error (not a hang), and the gateway names the client and cause.
TEST(RdpCompat, Rdesktop19IsRefusedWithTheDocumentedMessages) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto cd = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(cd.ok()) << cd.message();

  // A fresh HOME (rdesktop keeps accepted certificates there); "yes" accepts
  // the gateway's self-signed certificate at rdesktop's prompt.
  const Ran r = runClient(**cd, "echo yes | HOME=" + f.dir() + " timeout 15 rdesktop -u '" + kLogin +
                                    "' -p " + GatewayFixture::kVendorPassword + " 127.0.0.1:" +
                                    std::to_string(f.rdpPort()));
  std::printf("[ metrics ] rdesktop exit %d after %lld ms\n", r.code, static_cast<long long>(r.took.count()));
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.code, 124) << "rdesktop hung until the timeout\n" << r.out;
  EXPECT_LT(r.took, 10s) << r.out;
  EXPECT_NE(r.out.find("Connection established using SSL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("The TLS connection was non-properly terminated"), std::string::npos) << r.out;

  std::string log;
  EXPECT_TRUE(testbed::waitFor([&] {
    log = f.gatewayLog();
    return log.find("MCS Erect Domain Request was malformed") != std::string::npos;
  }, 5s)) << log;
  EXPECT_NE(log.find(" info rdp: connection ended before authentication client=127.0.0.1:"), std::string::npos);
  EXPECT_NE(log.find("build 2600"), std::string::npos) << "the line does not name rdesktop's build\n" << log;
  EXPECT_EQ(f.rdpTargetConnections(), 0);
}

// GFX AVC420 encodes on its own thread: sessions ended while the screen
// scrolls (by the gateway's terminate, by the client going away) end at
// once, with frames sent, and the gateway stays up for the next one.
TEST(RdpCompat, GfxSessionsEndWhileScrolling) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto client_display = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  const testbed::XDisplay& cd = **client_display;
  auto scroller = f.display().spawn(
      {"xterm", "-geometry", "170x50+0+0", "-e", "sh", "-c",
       "i=0; while :; do i=$((i+1)); echo \"$i the quick brown fox jumps over the lazy dog $i\"; sleep 0.01; done"});
  ASSERT_TRUE(scroller.ok()) << scroller.message();

  for (int round = 0; round < 3; ++round) {
    const std::string xlog = f.dir() + "/gfx-end-" + std::to_string(round) + ".log";
    auto xfreerdp = cd.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()), std::string("/u:") + kLogin,
                              std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                              "/size:1280x800", "/bpp:32", "/gfx:avc420"},
                             xlog);
    ASSERT_TRUE(xfreerdp.ok()) << xfreerdp.message();
    ASSERT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 1; }, 30s, 250ms))
        << testbed::readFile(xlog) << "\n" << f.gatewayLog();
    std::string id;
    const nlohmann::json sessions = f.vigilJson({"sessions", "--live"});
    if (sessions.is_object())
      for (const auto& s : sessions["sessions"]) id = s.value("id", "");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(testbed::waitFor([&] {
      return f.gatewayLog().find("session=" + id + " version=") != std::string::npos;
    }, 15s, 250ms)) << "no graphics pipeline for " << id << "\n" << f.gatewayLog();
    std::this_thread::sleep_for(1500ms);  // AVC420 frames in flight, the client acknowledging

    const auto t0 = std::chrono::steady_clock::now();
    if (round % 2 == 0) {
      const VigilRun r = f.vigil({"terminate", id});
      EXPECT_EQ(r.exit_code, 0) << r.out;
    } else {
      xfreerdp->stop();
    }
    EXPECT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 0; }, 10s, 100ms))
        << "round " << round << ": the session did not end\n" << f.gatewayLog();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[ metrics ] round %d (%s): session ended %.2f s after the request\n", round,
                round % 2 == 0 ? "terminate" : "client gone", secs);
    xfreerdp->stop();
    EXPECT_EQ(::kill(f.gatewayPid(), 0), 0) << "the gateway is gone";
  }
  // Every session sent AVC420 frames from its GFX thread and closed it.
  const std::string log = f.gatewayLog();
  int closed = 0;
  for (std::size_t at = log.find("graphics pipeline closed avc420_frames="); at != std::string::npos;
       at = log.find("graphics pipeline closed avc420_frames=", at + 1)) {
    const long frames = std::strtol(log.c_str() + at + 39, nullptr, 10);
    EXPECT_GT(frames, 0) << log.substr(at, 120);
    ++closed;
  }
  EXPECT_EQ(closed, 3) << log;
}

}  // namespace
}  // namespace vigil::integration
