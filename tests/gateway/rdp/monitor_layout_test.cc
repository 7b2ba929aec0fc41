#include "gateway/rdp/monitor_layout.h"

#include <gtest/gtest.h>

namespace vigil::gateway::rdp {
namespace {

const DisplayCaps kCaps{16, 8192, 8192};

MonitorLayout mon(int left, int top, std::uint32_t w, std::uint32_t h, bool primary = false) {
  MonitorLayout m;
  m.left = left;
  m.top = top;
  m.width = w;
  m.height = h;
  m.primary = primary;
  return m;
}

TEST(MonitorLayout, OnePrimaryMonitorWithinBoundsPasses) {
  EXPECT_TRUE(checkMonitorLayout({mon(0, 0, 1600, 900, true)}, kCaps, 4096, 4096).ok());
  EXPECT_TRUE(checkMonitorLayout({mon(0, 0, 1920, 1080, true), mon(1920, 0, 1280, 1024)}, kCaps, 4096, 4096).ok());
}

TEST(MonitorLayout, RefusesWhatTheTargetMustNotBeSent) {
  EXPECT_FALSE(checkMonitorLayout({}, kCaps, 4096, 4096).ok());
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 199, 900, true)}, kCaps, 4096, 4096).ok());   // too narrow
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 1601, 900, true)}, kCaps, 4096, 4096).ok());  // odd width
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 8194, 900, true)}, kCaps, 9000, 9000).ok());  // beyond 8192
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 1600, 900)}, kCaps, 4096, 4096).ok());        // no primary
  EXPECT_FALSE(checkMonitorLayout({mon(10, 0, 1600, 900, true)}, kCaps, 4096, 4096).ok()); // primary off origin
  EXPECT_FALSE(
      checkMonitorLayout({mon(0, 0, 1600, 900, true), mon(1600, 0, 1600, 900, true)}, kCaps, 4096, 4096).ok());
  // The whole desktop within max_desktop, even with negative offsets.
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 2000, 900, true), mon(-2200, 0, 2000, 900)}, kCaps, 4096, 4096).ok());
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 1600, 900, true)}, kCaps, 1280, 800).ok());
  MonitorLayout bad = mon(0, 0, 1600, 900, true);
  bad.orientation = 45;
  EXPECT_FALSE(checkMonitorLayout({bad}, kCaps, 4096, 4096).ok());
  // More monitors, or more area, than the target takes.
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 1600, 900, true), mon(1600, 0, 800, 600)}, DisplayCaps{1, 8192, 8192},
                                  4096, 4096)
                   .ok());
  EXPECT_FALSE(checkMonitorLayout({mon(0, 0, 1600, 900, true)}, DisplayCaps{1, 1024, 768}, 4096, 4096).ok());
}

TEST(MonitorLayout, AnnouncedCapsStayWithinTheGatewaysBounds) {
  const DisplayCaps c = boundedCaps(DisplayCaps{500, 8192, 8192}, 3840, 2160);
  EXPECT_EQ(c.max_monitors, kMaxLayoutMonitors);
  EXPECT_EQ(c.max_area_a, 3840u);
  EXPECT_EQ(c.max_area_b, 2160u);
  EXPECT_EQ(boundedCaps(DisplayCaps{0, 1, 1}, 3840, 2160).max_monitors, 1u);
}

}  // namespace
}  // namespace vigil::gateway::rdp
