// Compatibility with the RDP clients people use, with real parts only: the
// real xfreerdp (and Debian's rdesktop) on their own Xvfb display, through
// `vigil serve`, to freerdp-shadow-cli sharing the fixture's desktop. What is
// checked is what a user sees: the client's window against the target's
// screen (PSNR), and for clients the gateway cannot serve, a message that
// says why and a gateway log line naming the client. docs/compatibility.md
// holds the figures.
#include <gtest/gtest.h>

#include <cstdio>
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

// The client's whole display once it stops changing (xfreerdp fills a
// display of the session's size at 0,0: no window manager, no decorations).
Frame settledScreen(const testbed::XDisplay& d) {
  Frame last;
  for (int i = 0; i < 20; ++i) {
    auto shot = d.screenshot();
    if (shot.ok()) {
      if (!last.empty() && testbed::psnr(last, *shot) > 60.0) return *shot;
      last = *shot;
    }
    std::this_thread::sleep_for(300ms);
  }
  return last;
}

// xfreerdp at each colour depth a user can pick (mstsc offers 15/16/24/32;
// xfreerdp also 8): the client's screen matches the target's at every one.
TEST(RdpCompat, XfreerdpEveryColourDepthShowsTheTargetScreen) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto client_display = testbed::XDisplay::start(1280, 800, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  const testbed::XDisplay& cd = **client_display;

  for (int bpp : {8, 15, 16, 24, 32}) {
    SCOPED_TRACE("bpp " + std::to_string(bpp));
    const std::string xlog = f.dir() + "/xfreerdp-" + std::to_string(bpp) + ".log";
    auto xfreerdp = cd.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                              std::string("/u:") + kLogin,
                              std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                              "/size:1280x800", "/bpp:" + std::to_string(bpp)},
                             xlog);
    ASSERT_TRUE(xfreerdp.ok()) << xfreerdp.message();
    ASSERT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 1; }, 30s, 250ms))
        << testbed::readFile(xlog) << "\n" << f.gatewayLog();
    std::this_thread::sleep_for(1500ms);
    const Frame client = settledScreen(cd);
    auto target = f.display().screenshot();
    ASSERT_TRUE(target.ok()) << target.message();
    const double db = testbed::psnr(client, *target);
    std::printf("[ metrics ] xfreerdp /bpp:%d client screen vs target PSNR %.1f dB\n", bpp, db);
    EXPECT_GE(db, 35.0) << "the client's screen at " << bpp << " bpp differs from the target's\n"
                        << testbed::readFile(xlog);
    xfreerdp->stop();
    ASSERT_TRUE(testbed::waitFor([&] { return liveRdpSessions(f) == 0; }, 15s, 250ms))
        << f.gatewayLog();
  }
}

}  // namespace
}  // namespace vigil::integration
