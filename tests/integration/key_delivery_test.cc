// Keystroke delivery end to end (issue 19): every key a client sends reaches
// the target, in order, and the recording's lines are exactly what ran. 1 000
// lines per protocol go through `vigil serve` into `cat > FILE` in an xterm on
// the target's desktop (never a shell), then the file and the session's key
// events are compared with what was typed, line by line.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "tests/integration/gateway_fixture.h"
#include "tests/integration/rdp_test_client.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

constexpr int kLines = 1000;

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Lines that would show a lost, doubled or swapped key: a counter, mixed
// case, shifted and unshifted punctuation.
std::vector<std::string> makeLines(const std::string& prefix) {
  static const char* kWords[] = {"ab", "Cd", "e-f", "G_h", "i.J", "k/l"};
  std::vector<std::string> out;
  for (int n = 0; n < kLines; ++n) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%04d %s", prefix.c_str(), n, kWords[n % 6]);
    out.push_back(buf);
  }
  return out;
}

// Opens an xterm running `cat > file` on the target's desktop and focuses it.
Status openSink(const GatewayFixture& f, const std::string& title, const std::string& file,
                testbed::Process* out) {
  auto p = f.display().spawn({"xterm", "-T", title, "-geometry", "80x12+600+400", "-e", "sh", "-c",
                              "cat > '" + file + "'"});
  if (!p.ok()) return Status::Error(p.message());
  *out = std::move(*p);
  std::string win;
  const bool shown = testbed::waitFor([&] {
    win.clear();
    auto rc = f.display().run({"xdotool", "search", "--name", title}, &win);
    return rc.ok() && *rc == 0 && !win.empty();
  }, 20s, 200ms);
  if (!shown) return Status::Error("the sink window " + title + " never appeared");
  win = win.substr(0, win.find('\n'));
  (void)f.display().run({"xdotool", "windowactivate", "--sync", win});
  (void)f.display().run({"xdotool", "mousemove", "--window", win, "100", "60"});
  return Status::Ok();
}

// The session's key lines in time order (events are stored in order).
std::vector<std::string> keyLines(const GatewayFixture& f, const std::string& session) {
  std::vector<std::string> out;
  nlohmann::json ev = f.vigilJson({"events", session, "--kind", "key"});
  if (!ev.is_object()) return out;
  for (const auto& e : ev["events"]) out.push_back(e.value("text", ""));
  return out;
}

std::string newestSessionOn(const GatewayFixture& f, const std::string& target) {
  nlohmann::json j = f.vigilJson({"sessions", "--target", target, "--limit", "50"});
  if (!j.is_object()) return "";
  for (const auto& s : j["sessions"])
    if (s.value("end_reason", "").rfind("refused", 0) != 0) return s.value("id", "");
  return "";
}

// Compares what was typed with what arrived; names the first difference.
void expectSameLines(const std::vector<std::string>& typed, const std::vector<std::string>& got,
                     const std::string& where) {
  EXPECT_EQ(got.size(), typed.size()) << where << ": line count";
  for (std::size_t i = 0; i < std::min(typed.size(), got.size()); ++i)
    if (got[i] != typed[i]) {
      ADD_FAILURE() << where << ": line " << i << " is \"" << got[i] << "\", typed \"" << typed[i] << "\"";
      return;
    }
}

void waitForLines(const std::string& file, std::size_t n, std::chrono::milliseconds timeout) {
  testbed::waitFor([&] { return linesOf(testbed::readFile(file)).size() >= n; }, timeout, 200ms);
}

std::string runTag() {
  std::random_device rd;
  return std::to_string(rd() % 900 + 100);
}

TEST(KeyDelivery, AThousandVncLinesArriveInOrderAndAreRecordedAsTyped) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const std::string file = f.dir() + "/vnc-keys.txt";
  testbed::Process sink;
  ASSERT_TRUE(openSink(f, "vigil-keys-vnc", file, &sink).ok());

  testbed::VncTestClient::Options o;
  o.port = f.vncPort();
  o.password = f.grantCode();
  auto viewer = testbed::VncTestClient::connect(o);
  ASSERT_TRUE(viewer.ok()) << viewer.message() << "\n" << f.gatewayLog();
  ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));

  const std::vector<std::string> typed = makeLines("v" + runTag() + "n");
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& line : typed) (*viewer)->typeText(line + "\n");
  waitForLines(file, typed.size(), 60s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expectSameLines(typed, linesOf(testbed::readFile(file)), "on the target");

  const std::string id = newestSessionOn(f, "desk-vnc");
  ASSERT_FALSE(id.empty());
  std::vector<std::string> recorded;
  testbed::waitFor([&] { return (recorded = keyLines(f, id)).size() >= typed.size(); }, 10s, 250ms);
  expectSameLines(typed, recorded, "in the session's key events");
  std::size_t keys = 0;
  for (const std::string& line : typed) keys += line.size() + 1;
  std::printf("[ metrics ] vnc: %d lines (%zu keys) on the target in %.1f s; %zu key events\n", kLines,
              keys, secs, recorded.size());
  (*viewer)->disconnect();
}

TEST(KeyDelivery, AThousandRdpLinesArriveInOrderAndAreRecordedAsTyped) {
  FixtureOptions fo;
  fo.rdp_target = true;
  auto fx = GatewayFixture::start(fo);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  const std::string file = f.dir() + "/rdp-keys.txt";
  testbed::Process sink;
  ASSERT_TRUE(openSink(f, "vigil-keys-rdp", file, &sink).ok());

  RdpTestClient::Options o;
  o.port = f.rdpPort();
  o.username = std::string("vendor1#") + GatewayFixture::kRdpTarget;
  o.password = GatewayFixture::kVendorPassword;
  auto client = RdpTestClient::connect(o);
  ASSERT_TRUE(client.ok()) << client.message() << "\n" << f.gatewayLog();
  ASSERT_TRUE(testbed::waitFor([&] { return (*client)->updates() > 0; }, 20s));

  const std::vector<std::string> typed = makeLines("r" + runTag() + "n");
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& line : typed)
    ASSERT_TRUE((*client)->typeText(line + "\n", 1ms)) << "the connection dropped\n" << f.gatewayLog();
  waitForLines(file, typed.size(), 60s);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  expectSameLines(typed, linesOf(testbed::readFile(file)), "on the target");
  EXPECT_FALSE((*client)->disconnected());

  const std::string id = newestSessionOn(f, GatewayFixture::kRdpTarget);
  ASSERT_FALSE(id.empty());
  std::vector<std::string> recorded;
  testbed::waitFor([&] { return (recorded = keyLines(f, id)).size() >= typed.size(); }, 10s, 250ms);
  expectSameLines(typed, recorded, "in the session's key events");
  std::printf("[ metrics ] rdp: %d lines on the target in %.1f s; %zu key events\n", kLines, secs,
              recorded.size());
  (*client)->disconnect();
}

}  // namespace
}  // namespace vigil::integration
