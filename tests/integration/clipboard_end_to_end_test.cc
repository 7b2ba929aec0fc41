// Clipboard through `vigil serve` with real parts only, xclip setting and
// reading each side's clipboard. VNC: TigerVNC's Xvnc as the target and its
// viewer (xtigervncviewer on its own Xvfb) as the client. RDP: xrdp (with
// its chansrv clipboard) as the target and xfreerdp as the client. Unicode
// text must arrive intact both ways, and the recorded events say which way
// it went.
#include <gtest/gtest.h>

#include "tests/integration/gateway_fixture.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

constexpr const char* kTarget = "desk-xvnc";
constexpr const char* kTargetPassword = "tgtxvnc9";  // VNC passwords are 8 bytes

// What `xclip -o` reads from the display's CLIPBOARD ("" if nobody owns it).
std::string readClipboard(const testbed::XDisplay& d) {
  std::string out;
  auto rc = d.run({"timeout", "3", "xclip", "-o", "-selection", "clipboard"}, &out);
  return rc.ok() && *rc == 0 ? out : std::string();
}

// xclip owns the display's CLIPBOARD with `text` until someone else takes it.
Result<testbed::Process> ownClipboard(const testbed::XDisplay& d, const std::string& text) {
  return d.spawn({"sh", "-c", "printf '%s' \"$0\" | xclip -quiet -selection clipboard -i", text});
}

// The clipboard events of session `id` as (text, direction).
std::vector<std::pair<std::string, std::string>> clipboardEvents(const GatewayFixture& f, const std::string& id) {
  std::vector<std::pair<std::string, std::string>> out;
  nlohmann::json ev = f.vigilJson({"events", id});
  if (!ev.is_object()) return out;
  for (const auto& e : ev["events"])
    if (e.value("kind", "") == "clipboard") out.emplace_back(e.value("text", ""), e.value("direction", ""));
  return out;
}

bool hasEvent(const std::vector<std::pair<std::string, std::string>>& evs, const std::string& text,
              const std::string& direction) {
  return std::find(evs.begin(), evs.end(), std::make_pair(text, direction)) != evs.end();
}

std::string dump(const std::vector<std::pair<std::string, std::string>>& evs) {
  std::string s;
  for (const auto& [text, dir] : evs) s += "[" + dir + "] " + text + "\n";
  return s.empty() ? "(no clipboard events)" : s;
}

TEST(ClipboardEndToEnd, UnicodeCrossesBothWaysWithItsDirectionRecorded) {
  const std::string dir = testbed::makeTempDir("vigil-clip");
  const std::uint16_t xvnc_port = testbed::freeTcpPort(), listen_port = testbed::freeTcpPort();
  ASSERT_TRUE(testbed::writeVncPasswordFile(kTargetPassword, dir + "/target.pw").ok());
  auto target = testbed::XDisplay::startXvnc(xvnc_port, dir + "/target.pw");
  ASSERT_TRUE(target.ok()) << target.message();
  ASSERT_TRUE(testbed::waitForPort(xvnc_port, 10s)) << "Xvnc did not listen";

  FixtureOptions opts;
  opts.extra_toml = std::string("[[targets]]\nname = \"") + kTarget + "\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\n" +
                    "port = " + std::to_string(xvnc_port) + "\npassword = \"" + kTargetPassword + "\"\n" +
                    "vnc_listen = \"127.0.0.1:" + std::to_string(listen_port) + "\"\n" +
                    "[[grants]]\nuser = \"vendor1\"\ntarget = \"" + kTarget + "\"\n";
  auto fx = GatewayFixture::start(opts);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  ASSERT_TRUE(testbed::waitForPort(listen_port, 5s)) << f.gatewayLog();

  // The viewer on its own desktop, with the one-time code as its password.
  auto desk = testbed::XDisplay::start(1280, 800, true);
  ASSERT_TRUE(desk.ok()) << desk.message();
  testbed::XDisplay& client = **desk;
  ASSERT_TRUE(testbed::writeVncPasswordFile(f.grantCode(kTarget), dir + "/code.pw").ok());
  auto viewer = client.spawn({"xtigervncviewer", "-passwd", dir + "/code.pw", "-SendPrimary=0", "-SetPrimary=0",
                              "127.0.0.1::" + std::to_string(listen_port)},
                             dir + "/viewer.log");
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  std::string id;
  ASSERT_TRUE(testbed::waitFor([&] {
    nlohmann::json s = f.vigilJson({"sessions"});
    if (!s.is_object()) return false;
    for (const auto& x : s["sessions"])
      if (x.value("target", "") == kTarget && x.value("state", "") == "live") id = x.value("id", "");
    return !id.empty();
  }, 20s)) << testbed::readFile(dir + "/viewer.log") << f.gatewayLog();
  // TigerVNC's viewer passes clipboard changes on only while it has focus.
  std::string win;
  ASSERT_TRUE(testbed::waitFor([&] {
    auto rc = client.run({"xdotool", "search", "--onlyvisible", "--name", "TigerVNC"}, &win);
    return rc.ok() && *rc == 0 && !win.empty();
  }, 10s)) << testbed::readFile(dir + "/viewer.log");
  win = win.substr(0, win.find('\n'));
  ASSERT_TRUE(client.run({"xdotool", "windowactivate", "--sync", win}).ok());

  // Client to target: U+00E9 fits Latin-1, U+20AC and U+2713 do not.
  const std::string out_text = "h\xC3\xA9llo \xE2\x82\xACuro \xE2\x9C\x93";  // héllo €uro ✓
  auto owner = ownClipboard(client, out_text);
  ASSERT_TRUE(owner.ok()) << owner.message();
  std::string on_target;
  EXPECT_TRUE(testbed::waitFor([&] { return (on_target = readClipboard(**target)) == out_text; }, 10s, 200ms))
      << "the target's clipboard holds \"" << on_target << "\"\n" << f.gatewayLog();
  EXPECT_TRUE(testbed::waitFor([&] { return hasEvent(clipboardEvents(f, id), out_text, "client_to_target"); },
                               5s, 200ms))
      << dump(clipboardEvents(f, id));

  // Target to client.
  const std::string back_text = "w\xC3\xB6rld \xE2\x88\x91 \xE2\x9C\x93 back";  // wörld ∑ ✓ back
  auto target_owner = ownClipboard(**target, back_text);
  ASSERT_TRUE(target_owner.ok()) << target_owner.message();
  std::string on_client;
  EXPECT_TRUE(testbed::waitFor([&] { return (on_client = readClipboard(client)) == back_text; }, 10s, 200ms))
      << "the viewer's clipboard holds \"" << on_client << "\"\n" << testbed::readFile(dir + "/viewer.log");
  EXPECT_TRUE(testbed::waitFor([&] { return hasEvent(clipboardEvents(f, id), back_text, "target_to_client"); },
                               5s, 200ms))
      << dump(clipboardEvents(f, id));

  // The CLI's plain listing names the direction too.
  VigilRun plain = f.vigil({"events", id});
  EXPECT_NE(plain.out.find(back_text + "   (target_to_client)"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find(out_text + "   (client_to_target)"), std::string::npos) << plain.out;

  viewer->stop();
  (void)testbed::run({"rm", "-rf", dir});
}

TEST(ClipboardEndToEnd, RdpUnicodeCrossesBothWaysThroughXrdp) {
  constexpr const char* kXrdpTarget = "desk-xrdp";
  constexpr const char* kXrdpUser = "vigilclip";
  constexpr const char* kXrdpPassword = "Clip-pass-3";
  const std::string dir = testbed::makeTempDir("vigil-rdpclip");
  auto xrdp = testbed::XrdpServer::start(dir, testbed::freeTcpPort(), kXrdpUser, kXrdpPassword, "clip-terminal");
  ASSERT_TRUE(xrdp.ok()) << xrdp.message();
  testbed::XrdpServer& target = **xrdp;

  FixtureOptions opts;
  opts.extra_toml = std::string("[[targets]]\nname = \"") + kXrdpTarget + "\"\nprotocol = \"rdp\"\n" +
                    "host = \"127.0.0.1\"\nport = " + std::to_string(target.port()) + "\nusername = \"" +
                    kXrdpUser + "\"\npassword = \"" + kXrdpPassword + "\"\n" +
                    "logon_confirmation = false\n" +  // xrdp 0.9 never confirms (docs/compatibility.md)
                    "[[grants]]\nuser = \"vendor1\"\ntarget = \"" + kXrdpTarget + "\"\n";
  auto fx = GatewayFixture::start(opts);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  VigilRun trust = f.vigil({"trust-target", kXrdpTarget, "--yes"});
  ASSERT_EQ(trust.exit_code, 0) << trust.out;

  auto desk = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(desk.ok()) << desk.message();
  testbed::XDisplay& client = **desk;
  const std::string xlog = dir + "/xfreerdp.log";
  auto viewer = client.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                              std::string("/u:vendor1#") + kXrdpTarget,
                              std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                              "/size:1024x768", "+clipboard"},
                             xlog);
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  std::string id;
  ASSERT_TRUE(testbed::waitFor([&] {
    nlohmann::json s = f.vigilJson({"sessions", "--live"});
    if (!s.is_object()) return false;
    for (const auto& x : s["sessions"])
      if (x.value("target", "") == kXrdpTarget) id = x.value("id", "");
    return !id.empty();
  }, 30s, 250ms)) << testbed::readFile(xlog) << f.gatewayLog();
  const testbed::Env session = target.sessionEnv();
  ASSERT_FALSE(session.empty()) << "xrdp started no session";
  auto readOn = [](const testbed::Env& env) {
    std::string out;
    auto rc = testbed::run({"timeout", "3", "xclip", "-o", "-selection", "clipboard"}, env, &out);
    return rc.ok() && *rc == 0 ? out : std::string();
  };
  auto ownOn = [](const testbed::Env& env, const std::string& text) {
    testbed::Process::Options o;
    o.env = env;
    return testbed::Process::start({"sh", "-c", "printf '%s' \"$0\" | xclip -quiet -selection clipboard -i", text},
                                   o);
  };

  // Client to target (U+20AC and U+2713 are outside Latin-1 and the BMP's
  // first page: they cross as UTF-16 on both legs).
  // xfreerdp offers only owner changes it sees after its clipboard started
  // (and xrdp's chansrv starts after the session): text copied before, as
  // this first copy can be on a slow machine, is never offered. A person
  // would copy again: up to 3 copies, 5 s apart.
  const std::string out_text = "h\xC3\xA9llo \xE2\x82\xACuro \xE2\x9C\x93 rdp";
  std::string on_target;
  bool arrived = false;
  std::vector<testbed::Process> owners;
  for (int copy = 0; copy < 3 && !arrived; ++copy) {
    auto owner = ownClipboard(client, out_text);
    ASSERT_TRUE(owner.ok()) << owner.message();
    owners.push_back(std::move(owner.value()));
    arrived = testbed::waitFor([&] { return (on_target = readOn(session)) == out_text; }, 5s, 250ms);
  }
  EXPECT_TRUE(arrived) << "the target's clipboard holds \"" << on_target << "\"\n" << f.gatewayLog();
  EXPECT_TRUE(testbed::waitFor([&] { return hasEvent(clipboardEvents(f, id), out_text, "client_to_target"); },
                               5s, 200ms))
      << dump(clipboardEvents(f, id));

  // Target to client.
  const std::string back_text = "w\xC3\xB6rld \xE2\x88\x91 \xE2\x9C\x93 back rdp";
  auto target_owner = ownOn(session, back_text);
  ASSERT_TRUE(target_owner.ok()) << target_owner.message();
  std::string on_client;
  EXPECT_TRUE(testbed::waitFor([&] { return (on_client = readClipboard(client)) == back_text; }, 15s, 250ms))
      << "the client's clipboard holds \"" << on_client << "\"\n" << testbed::readFile(xlog) << f.gatewayLog();
  EXPECT_TRUE(testbed::waitFor([&] { return hasEvent(clipboardEvents(f, id), back_text, "target_to_client"); },
                               5s, 200ms))
      << dump(clipboardEvents(f, id));

  viewer->stop();
  (void)testbed::run({"rm", "-rf", dir});
}

}  // namespace
}  // namespace vigil::integration
