// The viewer's own window size through `vigil serve`, with real parts only
// (issue 19, Display Control). VNC: TigerVNC's viewer with RemoteResize
// asks for its window's size (SetDesktopSize); TigerVNC's Xvnc resizes, and
// x11vnc (which cannot) keeps its size while the session carries on. RDP:
// xfreerdp /dynamic-resolution sends its window's size over Display Control;
// xrdp resizes its Xvnc session. In each case the target's own X screen is
// what is checked, and the session stays recorded and searchable.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <regex>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

// "WxH" of the X screen `env` reaches, from xdpyinfo ("" if unreadable).
std::string screenSize(const testbed::Env& env) {
  std::string out;
  auto rc = testbed::run({"xdpyinfo"}, env, &out);
  if (!rc.ok() || *rc != 0) return "";
  std::smatch m;
  static const std::regex dims(R"(dimensions:\s+(\d+x\d+) pixels)");
  return std::regex_search(out, m, dims) ? m[1].str() : "";
}

// The first visible window named like `name` on display `d` ("" if none yet).
std::string findWindow(const testbed::XDisplay& d, const std::string& name) {
  std::string out;
  auto rc = d.run({"xdotool", "search", "--onlyvisible", "--name", name}, &out);
  return rc.ok() && *rc == 0 ? firstLine(out) : "";
}

std::string liveSession(const GatewayFixture& f, const std::string& target) {
  nlohmann::json s = f.vigilJson({"sessions", "--live"});
  if (!s.is_object()) return "";
  for (const auto& x : s["sessions"])
    if (x.value("target", "") == target) return x.value("id", "");
  return "";
}

// Types `echo MARKER > FILE` into the viewer window; true once it ran on the
// target and is searchable in session `id`.
::testing::AssertionResult typedLineRunsAndIsSearchable(const GatewayFixture& f, const testbed::XDisplay& cd,
                                                         const std::string& win, const std::string& dir,
                                                         const std::string& id) {
  std::random_device rd;
  const std::string marker = "rz" + std::to_string(rd() % 900000 + 100000);
  const std::string proof = dir + "/" + marker + ".txt";
  (void)cd.run({"xdotool", "windowfocus", "--sync", win});
  (void)cd.run({"xdotool", "mousemove", "--window", win, "300", "200", "click", "1"});
  std::this_thread::sleep_for(300ms);
  (void)cd.run({"xdotool", "type", "--delay", "30", "echo " + marker + " > " + proof});
  (void)cd.run({"xdotool", "key", "Return"});
  if (!testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 15s))
    return ::testing::AssertionFailure() << "the typed line did not run on the target";
  const bool found = testbed::waitFor([&] {
    nlohmann::json r = f.vigilJson({"search", marker});
    return r.is_object() && !r["hits"].empty() && r["hits"][0].value("session_id", "") == id;
  }, 5s, 250ms);
  if (!found) return ::testing::AssertionFailure() << "the line is not searchable in session " << id;
  return ::testing::AssertionSuccess();
}

// The gateway's log lines about sizes, printed with the test's result.
void printResizeLines(const GatewayFixture& f) {
  std::istringstream log(f.gatewayLog());
  for (std::string line; std::getline(log, line);)
    if (line.find("resize") != std::string::npos || line.find("layout") != std::string::npos ||
        line.find("Display Control") != std::string::npos || line.find("display control") != std::string::npos)
      std::printf("[ gateway ] %s\n", line.c_str());
}

class DisplayControl : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil-resize-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // An xrdp session's shell runs as its own user and writes proof files here.
    std::filesystem::permissions(dir_, std::filesystem::perms::all | std::filesystem::perms::sticky_bit);
  }
  void TearDown() override { (void)testbed::run({"rm", "-rf", dir_}); }

  // xtigervncviewer on its own desktop (no window manager), with a one-time
  // code for `target` as its password, connected to `port`.
  void startViewer(GatewayFixture& f, const std::string& target, std::uint16_t port) {
    auto desk = testbed::XDisplay::start(1440, 960, false);
    ASSERT_TRUE(desk.ok()) << desk.message();
    client_ = std::move(*desk);
    ASSERT_TRUE(testbed::writeVncPasswordFile(f.grantCode(target), dir_ + "/code.pw").ok());
    auto viewer = client_->spawn({"xtigervncviewer", "-passwd", dir_ + "/code.pw", "-RemoteResize=1",
                                  "-SendClipboard=0", "-AcceptClipboard=0", "127.0.0.1::" + std::to_string(port)},
                                 dir_ + "/viewer.log");
    ASSERT_TRUE(viewer.ok()) << viewer.message();
    viewer_ = std::move(*viewer);
    ASSERT_TRUE(testbed::waitFor([&] { return !(id_ = liveSession(f, target)).empty(); }, 20s))
        << viewerLog() << f.gatewayLog();
    ASSERT_TRUE(testbed::waitFor([&] { return !(win_ = findWindow(*client_, "TigerVNC")).empty(); }, 10s))
        << viewerLog();
    std::this_thread::sleep_for(1s);  // the viewer's first full update
  }
  std::string viewerLog() const { return "viewer log:\n" + testbed::readFile(dir_ + "/viewer.log"); }

  std::string dir_;
  std::unique_ptr<testbed::XDisplay> client_;
  testbed::Process viewer_;
  std::string win_, id_;
};

TEST_F(DisplayControl, VncViewerResizeReachesXvnc) {
  constexpr const char* kTarget = "desk-xvnc";
  constexpr const char* kPassword = "xvncrsz1";
  const std::uint16_t rfb = testbed::freeTcpPort(), listen = testbed::freeTcpPort();
  ASSERT_TRUE(testbed::writeVncPasswordFile(kPassword, dir_ + "/target.pw").ok());
  auto target = testbed::XDisplay::startXvnc(rfb, dir_ + "/target.pw", 1024, 768, false);
  ASSERT_TRUE(target.ok()) << target.message();
  auto term = (*target)->startXterm(GatewayFixture::kTerminalTitle, "80x20+0+0");
  ASSERT_TRUE(term.ok()) << term.message();
  ASSERT_TRUE(testbed::waitForPort(rfb, 10s));

  FixtureOptions o;
  o.extra_gateway_toml = "max_desktop = \"1600x1000\"\n";
  o.extra_toml = std::string("[[targets]]\nname = \"") + kTarget + "\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\n" +
                 "port = " + std::to_string(rfb) + "\npassword = \"" + kPassword + "\"\nvnc_listen = \"127.0.0.1:" +
                 std::to_string(listen) + "\"\n[[grants]]\nuser = \"vendor1\"\ntarget = \"" + kTarget + "\"\n";
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  ASSERT_TRUE(testbed::waitForPort(listen, 5s)) << f.gatewayLog();
  startViewer(f, kTarget, listen);
  if (HasFatalFailure()) return;
  ASSERT_EQ(screenSize((*target)->env()), "1024x768");

  // The person drags the viewer's window to 1200x700: Xvnc's screen follows.
  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1200", "700"}).ok());
  std::string size;
  EXPECT_TRUE(testbed::waitFor([&] { return (size = screenSize((*target)->env())) == "1200x700"; }, 15s, 250ms))
      << "the target's screen is " << size << "\n" << viewerLog() << f.gatewayLog();
  // The gateway logs the grant once it has read the target's answer, which
  // may come just after the target's screen changed.
  EXPECT_TRUE(testbed::waitFor([&] {
    return f.gatewayLog().find("event=resize_granted size=1200x700") != std::string::npos;
  }, 5s, 100ms)) << f.gatewayLog();

  // Beyond max_desktop, or too small: refused by the gateway, the target
  // keeps its size.
  // The viewer sizes its window to each screen size the server announces; on
  // a busy machine that can land just after the drag and undo it (no request
  // is sent then), so a person would drag again: up to 3 drags, 4 s apart.
  const auto dragUntilLogged = [&](const char* w, const char* h, const std::string& line) {
    for (int drag = 0; drag < 3; ++drag) {
      if (!client_->run({"xdotool", "windowsize", win_, w, h}).ok()) return false;
      if (testbed::waitFor([&] { return f.gatewayLog().find(line) != std::string::npos; }, 4s, 250ms))
        return true;
    }
    return false;
  };
  EXPECT_TRUE(dragUntilLogged("1700", "900", "event=resize_refused size=1700x900: beyond max_desktop"))
      << f.gatewayLog();
  EXPECT_TRUE(dragUntilLogged("50", "40", "event=resize_refused size=50x40: invalid layout")) << f.gatewayLog();
  EXPECT_EQ(screenSize((*target)->env()), "1200x700");
  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1200", "700"}).ok());

  // The session carries on at the new size: typing, search, the recording.
  EXPECT_TRUE(typedLineRunsAndIsSearchable(f, *client_, win_, dir_, id_)) << viewerLog() << f.gatewayLog();
  viewer_.stop();
  ASSERT_TRUE(testbed::waitFor([&] { return liveSession(f, kTarget).empty(); }, 15s));
  const std::string out = dir_ + "/export.mp4";
  VigilRun ex = f.vigil({"export", id_, out});
  ASSERT_EQ(ex.exit_code, 0) << ex.out;
  std::string probe;
  auto rc = testbed::run({"sh", "-c", "ffmpeg -nostdin -v error -i '" + out + "' -f null - 2>&1"}, {}, &probe, 60s);
  EXPECT_TRUE(rc.ok() && *rc == 0 && probe.empty()) << "ffmpeg says:\n" << probe;
  printResizeLines(f);
}

TEST_F(DisplayControl, VncTargetWithoutResizeKeepsItsSizeAndTheSession) {
  auto fx = GatewayFixture::start();  // x11vnc on Xvfb: cannot change its size
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const std::string before = screenSize(f.display().env());
  ASSERT_FALSE(before.empty());
  startViewer(f, "desk-vnc", f.vncPort());
  if (HasFatalFailure()) return;

  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1000", "650"}).ok());
  // x11vnc says no, and so is the viewer told (ExtendedDesktopSize status
  // "resize prohibited", in libvncserver's words).
  EXPECT_TRUE(testbed::waitFor([&] {
    const std::string log = f.gatewayLog();
    return log.find("event=resize_refused_by_target size=" + before) != std::string::npos &&
           log.find("for size (" + before + ") resize prohibited") != std::string::npos;
  }, 10s, 250ms)) << f.gatewayLog();
  EXPECT_EQ(screenSize(f.display().env()), before);
  f.focusTerminal();
  EXPECT_TRUE(typedLineRunsAndIsSearchable(f, *client_, win_, dir_, id_)) << viewerLog() << f.gatewayLog();
  EXPECT_FALSE(liveSession(f, "desk-vnc").empty()) << "the session ended\n" << f.gatewayLog();
  printResizeLines(f);
}

// xfreerdp /dynamic-resolution through the gateway to xrdp 0.9.21, whose
// Xvnc sessions resize over Display Control: the session's X screen follows
// the client's window, and the client's desktop follows the target.
TEST_F(DisplayControl, RdpClientResizeReachesXrdp) {
  constexpr const char* kUser = "vigilxrdp";
  constexpr const char* kPassword = "Xrdp-pass-7";
  auto xrdp = testbed::XrdpServer::start(dir_, testbed::freeTcpPort(), kUser, kPassword,
                                         GatewayFixture::kTerminalTitle);
  ASSERT_TRUE(xrdp.ok()) << xrdp.message();
  FixtureOptions o;
  o.extra_gateway_toml = "max_desktop = \"1600x1000\"\n";
  o.extra_toml = "[[targets]]\nname = \"desk-xrdp\"\nprotocol = \"rdp\"\nhost = \"127.0.0.1\"\nport = " +
                 std::to_string((*xrdp)->port()) + "\nusername = \"" + kUser + "\"\npassword = \"" + kPassword +
                 "\"\nlogon_confirmation = false\n[[grants]]\nuser = \"vendor1\"\ntarget = \"desk-xrdp\"\n";
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  VigilRun trust = f.vigil({"trust-target", "desk-xrdp", "--yes"});
  ASSERT_EQ(trust.exit_code, 0) << trust.out;

  auto desk = testbed::XDisplay::start(1440, 960, false);
  ASSERT_TRUE(desk.ok()) << desk.message();
  client_ = std::move(*desk);
  auto viewer = client_->spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()), "/u:vendor1#desk-xrdp",
                                std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                                "/size:1024x768", "/dynamic-resolution", "-grab-keyboard"},
                               dir_ + "/viewer.log");
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  viewer_ = std::move(*viewer);
  ASSERT_TRUE(testbed::waitFor([&] { return !(id_ = liveSession(f, "desk-xrdp")).empty(); }, 30s))
      << viewerLog() << f.gatewayLog();
  std::string win;
  ASSERT_TRUE(testbed::waitFor([&] {
    std::string out;
    auto rc = client_->run({"xdotool", "search", "--onlyvisible", "--class", "xfreerdp"}, &out);
    return rc.ok() && *rc == 0 && !(win_ = firstLine(out)).empty();
  }, 20s)) << viewerLog();
  const testbed::Env target_env = (*xrdp)->sessionEnv();
  ASSERT_FALSE(target_env.empty()) << "no xrdp session";
  ASSERT_TRUE(testbed::waitFor([&] { return screenSize(target_env) == "1024x768"; }, 10s)) << screenSize(target_env);
  // The client's dynamic channels and the target's offer take a moment.
  ASSERT_TRUE(testbed::waitFor([&] {
    return f.gatewayLog().find("display control open") != std::string::npos;
  }, 15s, 250ms)) << f.gatewayLog();
  std::this_thread::sleep_for(1s);

  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1200", "700"}).ok());
  std::string size;
  EXPECT_TRUE(testbed::waitFor([&] { return (size = screenSize(target_env)) == "1200x700"; }, 20s, 250ms))
      << "the target's screen is " << size << "\n" << viewerLog() << f.gatewayLog();
  EXPECT_NE(f.gatewayLog().find("event=layout_forwarded monitors=1 size=1200x700"), std::string::npos)
      << f.gatewayLog();
  // The client's desktop follows: the gateway's Desktop Resize reactivates it.
  EXPECT_TRUE(testbed::waitFor([&] {
    const std::string log = f.gatewayLog();
    return log.find("rdp: client activated") != log.rfind("rdp: client activated");
  }, 10s, 250ms)) << f.gatewayLog();
  EXPECT_TRUE(typedLineRunsAndIsSearchable(f, *client_, win_, dir_, id_)) << viewerLog() << f.gatewayLog();

  // A layout beyond max_desktop is dropped by the gateway: the target keeps
  // its size and the session goes on.
  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1700", "900"}).ok());
  EXPECT_TRUE(testbed::waitFor([&] {
    return f.gatewayLog().find("event=layout_refused: desktop 1700x900 exceeds max_desktop 1600x1000") !=
           std::string::npos;
  }, 10s, 250ms)) << f.gatewayLog();
  EXPECT_EQ(screenSize(target_env), "1200x700");
  EXPECT_FALSE(liveSession(f, "desk-xrdp").empty()) << "the session ended\n" << f.gatewayLog();
  printResizeLines(f);
}

// A target without Display Control (freerdp-shadow): the client's resize
// goes nowhere, one info line says so, and the session carries on.
TEST_F(DisplayControl, RdpTargetWithoutDisplayControlCarriesOn) {
  FixtureOptions o;
  o.rdp_target = true;
  auto fx = GatewayFixture::start(o);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto desk = testbed::XDisplay::start(1440, 960, false);
  ASSERT_TRUE(desk.ok()) << desk.message();
  client_ = std::move(*desk);
  auto viewer = client_->spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()), "/u:vendor1#desk-rdp",
                                std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                                "/size:1024x768", "/dynamic-resolution", "-grab-keyboard"},
                               dir_ + "/viewer.log");
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  viewer_ = std::move(*viewer);
  ASSERT_TRUE(testbed::waitFor([&] { return !(id_ = liveSession(f, "desk-rdp")).empty(); }, 30s))
      << viewerLog() << f.gatewayLog();
  ASSERT_TRUE(testbed::waitFor([&] {
    std::string out;
    auto rc = client_->run({"xdotool", "search", "--onlyvisible", "--class", "xfreerdp"}, &out);
    return rc.ok() && *rc == 0 && !(win_ = firstLine(out)).empty();
  }, 20s)) << viewerLog();
  const std::string before = screenSize(f.display().env());
  ASSERT_TRUE(client_->run({"xdotool", "windowsize", win_, "1100", "700"}).ok());
  f.focusTerminal();
  EXPECT_TRUE(typedLineRunsAndIsSearchable(f, *client_, win_, dir_, id_)) << viewerLog() << f.gatewayLog();
  EXPECT_EQ(screenSize(f.display().env()), before);
  const std::string line = "the target does not offer Display Control";
  // Said from the gateway's client loop, which runs on the client's traffic.
  EXPECT_TRUE(testbed::waitFor([&] {
    (void)client_->run({"xdotool", "mousemove", "--window", win_, "100", "100", "mousemove", "--window", win_,
                        "120", "110"});
    return f.gatewayLog().find(line) != std::string::npos;
  }, 15s, 500ms)) << f.gatewayLog();
  const std::string log = f.gatewayLog();
  EXPECT_EQ(log.find(line), log.rfind(line)) << "said more than once\n" << log;
  EXPECT_FALSE(liveSession(f, "desk-rdp").empty()) << "the session ended\n" << log;
  printResizeLines(f);
}

}  // namespace
}  // namespace vigil::integration
