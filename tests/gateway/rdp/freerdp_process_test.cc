#include "gateway/rdp/freerdp_process.h"

#include <gtest/gtest.h>
#include <malloc.h>
#include <winpr/wlog.h>

#include <thread>
#include <vector>

namespace vigil::gateway::rdp {
namespace {

TEST(FreerdpProcess, FindsTheLoggersAConnectionUses) {
  const std::set<std::string> names = freerdpLoggerNames();
  for (const char* n : {"com.freerdp.core.nego", "com.freerdp.core.transport", "com.freerdp.crypto",
                        "com.freerdp.gdi", "com.freerdp.channels.rdpgfx.client", "com.winpr.sspi"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  for (const std::string& n : names) {
    EXPECT_TRUE(n.rfind("com.freerdp.", 0) == 0 || n.rfind("com.winpr.", 0) == 0) << n;
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
              std::string::npos)
        << n;
  }
}

// WinPR appends a logger it has not seen to an unlocked array (allocating
// it); once prepared, looking any FreeRDP logger up must allocate nothing,
// from one thread or many.
TEST(FreerdpProcess, AfterPreparationLoggerLookupsCreateNothing) {
  ASSERT_TRUE(prepareFreerdpProcess().ok());
  const std::set<std::string> names = freerdpLoggerNames();
  const std::vector<std::string> list(names.begin(), names.end());
  const std::size_t before = mallinfo2().uordblks;
  for (const std::string& n : list) ASSERT_NE(WLog_Get(n.c_str()), nullptr) << n;
  EXPECT_EQ(mallinfo2().uordblks, before) << "a FreeRDP logger was created after preparation";

  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&list] {
      for (int round = 0; round < 50; ++round)
        for (const std::string& n : list) WLog_Get(n.c_str());
    });
  for (auto& t : threads) t.join();
  EXPECT_NE(WLog_Get("com.freerdp.core.nego"), nullptr);
}

TEST(FreerdpProcess, PreparingTwiceIsHarmless) {
  EXPECT_TRUE(prepareFreerdpProcess().ok());
  EXPECT_TRUE(prepareFreerdpProcess().ok());
}

}  // namespace
}  // namespace vigil::gateway::rdp
