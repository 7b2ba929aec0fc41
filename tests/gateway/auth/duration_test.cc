#include "gateway/auth/duration.h"

#include <gtest/gtest.h>

namespace vigil::gateway::auth {
namespace {

TEST(Duration, Units) {
  EXPECT_EQ(*parseDuration("90s"), 90'000);
  EXPECT_EQ(*parseDuration("30m"), 1'800'000);
  EXPECT_EQ(*parseDuration("2h"), 7'200'000);
  EXPECT_EQ(*parseDuration("1d"), 86'400'000);
  EXPECT_EQ(*parseDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*parseDuration("2H"), 7'200'000);
  EXPECT_EQ(*parseDuration("600"), 600'000);  // bare number = seconds
}

TEST(Duration, Rejects) {
  for (const char* bad : {"", "m", "-5m", "5x", "5 m", "1h30", "1.5h", "99999999999999999999s",
                          "9999999999999999d"}) {
    auto r = parseDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.message().find("use e.g."), std::string::npos) << r.message();
    }
  }
}

}  // namespace
}  // namespace vigil::gateway::auth
