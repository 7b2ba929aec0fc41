#include "gateway/api/login_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace vigil::gateway::api {
namespace {

using std::chrono::seconds;
using std::chrono::milliseconds;

const SteadyTime t0 = SteadyTime{} + std::chrono::hours(1);

// One sign-in attempt with a wrong password, as the API makes it: refused
// while throttled, else counted as a failure. True if it was let through.
bool attempt(LoginThrottle& t, const std::string& address, const std::string& user,
             SteadyTime now) {
  if (t.blocked(address, user, now)) return false;
  t.failure(address, user, now);
  return true;
}

std::string addr(int i) { return "10." + std::to_string(i / 65536) + "." +
                                 std::to_string(i / 256 % 256) + "." + std::to_string(i % 256); }

TEST(LoginThrottle, APairIsBlockedAfterItsFailuresUntilItsWindowEnds) {
  LoginThrottle t;  // 5 per pair, 300 s
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(t.blocked("198.51.100.7", "admin", t0 + seconds(i))) << i;
    t.failure("198.51.100.7", "admin", t0 + seconds(i));
  }
  auto wait = t.blocked("198.51.100.7", "admin", t0 + seconds(10));
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 290);  // the window started at the first failure
}

TEST(LoginThrottle, ALockoutAttemptOnTheAdminFromAnotherAddressFails) {
  LoginThrottle t;
  // The attacker keeps failing on "admin" from one address...
  int let_through = 0;
  for (int i = 0; i < 100; ++i) let_through += attempt(t, "203.0.113.66", "admin", t0 + seconds(i));
  EXPECT_EQ(let_through, 5);
  EXPECT_TRUE(t.blocked("203.0.113.66", "admin", t0 + seconds(100)));
  // ... and from a thousand more, enough to trip the global cap.
  for (int a = 0; a < 1000; ++a)
    for (int i = 0; i < 10; ++i) attempt(t, addr(a), "admin", t0 + seconds(100));
  EXPECT_GE(t.globalFailures(t0 + seconds(100)), 300);
  // The real admin, from their own address, still gets to sign in.
  EXPECT_FALSE(t.blocked("192.0.2.10", "admin", t0 + seconds(101)));
  t.success("192.0.2.10", "admin");
  EXPECT_FALSE(t.blocked("192.0.2.10", "admin", t0 + seconds(102)));
}

TEST(LoginThrottle, OneAddressCannotSprayUserNames) {
  LoginThrottle t;  // 20 per address
  int let_through = 0;
  for (int u = 0; u < 100; ++u) let_through += attempt(t, "203.0.113.5", "user" + std::to_string(u), t0);
  EXPECT_EQ(let_through, 20);
  auto wait = t.blocked("203.0.113.5", "someone-else", t0 + seconds(1));
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 299);
  // The same names from elsewhere are not held back.
  EXPECT_FALSE(t.blocked("192.0.2.1", "user0", t0 + seconds(1)));
}

TEST(LoginThrottle, SuccessClearsThePairButNotTheAddress) {
  LoginThrottle t(LoginThrottleOptions{.max_per_pair = 5, .max_per_address = 12});
  for (int i = 0; i < 4; ++i) t.failure("192.0.2.1", "sec1", t0);
  t.success("192.0.2.1", "sec1");
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(attempt(t, "192.0.2.1", "sec1", t0)) << i;
  t.success("192.0.2.1", "sec1");
  // Twelve failures from the address in all: the address is held back even
  // though each success cleared the pair.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(attempt(t, "192.0.2.1", "sec1", t0)) << i;
  EXPECT_TRUE(t.blocked("192.0.2.1", "sec1", t0));
}

TEST(LoginThrottle, TheWindowEnds) {
  LoginThrottle t(LoginThrottleOptions{.max_per_pair = 3, .window = seconds(60)});
  for (int i = 0; i < 3; ++i) t.failure("192.0.2.1", "aud1", t0);
  EXPECT_EQ(t.blocked("192.0.2.1", "aud1", t0 + seconds(59)), 1);
  EXPECT_EQ(t.blocked("192.0.2.1", "aud1", t0 + milliseconds(59'001)), 1);
  EXPECT_FALSE(t.blocked("192.0.2.1", "aud1", t0 + seconds(60)));
  // A new window starts from scratch.
  t.failure("192.0.2.1", "aud1", t0 + seconds(61));
  EXPECT_FALSE(t.blocked("192.0.2.1", "aud1", t0 + seconds(61)));
  EXPECT_EQ(t.globalFailures(t0 + seconds(61)), 1);
}

TEST(LoginThrottle, TheGlobalCapRefusesAFailingAddressButAdmitsACleanOne) {
  LoginThrottle t(LoginThrottleOptions{.max_global = 10, .window = seconds(100)});
  for (int a = 0; a < 9; ++a) t.failure(addr(a), "admin", t0);
  EXPECT_FALSE(t.blocked(addr(0), "admin", t0));  // 9 < 10: under the cap
  t.failure(addr(9), "admin", t0);
  // At the cap: an address that failed recently waits, whichever user it names...
  auto wait = t.blocked(addr(0), "sec1", t0 + seconds(1));
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 99);  // until those failures leave the window
  EXPECT_TRUE(t.blocked(addr(5), "admin", t0 + seconds(1)));
  // ... while an address with no recent failure gets its try.
  EXPECT_FALSE(t.blocked("192.0.2.10", "admin", t0 + seconds(1)));
  // Once the rate has fallen, the failing addresses may try again.
  EXPECT_FALSE(t.blocked(addr(0), "sec1", t0 + seconds(100)));
}

TEST(LoginThrottle, EvictionNeverFreesABlockedEntry) {
  // No global cap, so that blocked entries can fill a small table.
  LoginThrottle t(LoginThrottleOptions{
      .max_per_pair = 3, .max_per_address = 1000, .max_global = 0, .max_entries = 64});
  for (int a = 0; a < 40; ++a)
    for (int i = 0; i < 3; ++i) t.failure(addr(a), "admin", t0 + seconds(a));
  for (int a = 40; a < 64; ++a) t.failure(addr(a), "admin", t0 + seconds(a));
  EXPECT_EQ(t.sizes().pairs, 64u);
  // A spray of new pairs pushes out the unblocked ones, never a blocked one,
  // even though the blocked ones are the oldest.
  for (int i = 0; i < 10000; ++i) t.failure("198.51.100.1", "name" + std::to_string(i), t0 + seconds(100));
  EXPECT_LE(t.sizes().pairs, 64u);
  EXPECT_LE(t.sizes().addresses, 64u);
  for (int a = 0; a < 40; ++a) EXPECT_TRUE(t.blocked(addr(a), "admin", t0 + seconds(101))) << a;
  // The blocked entries expire on time all the same.
  EXPECT_FALSE(t.blocked(addr(0), "admin", t0 + seconds(300)));
}

TEST(LoginThrottle, ATableFullOfBlockedEntriesStoresNoNewPairUntilOneExpires) {
  LoginThrottle t(LoginThrottleOptions{
      .max_per_pair = 2, .max_per_address = 1000, .max_global = 0, .max_entries = 8});
  for (int a = 0; a < 8; ++a)
    for (int i = 0; i < 2; ++i) t.failure(addr(a), "admin", t0);
  // A new pair is not stored (so not throttled on its own), but counted.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(attempt(t, "192.0.2.99", "admin", t0 + seconds(1)));
  EXPECT_EQ(t.sizes().pairs, 8u);
  EXPECT_EQ(t.globalFailures(t0 + seconds(1)), 21);
  for (int a = 0; a < 8; ++a) EXPECT_TRUE(t.blocked(addr(a), "admin", t0 + seconds(2))) << a;
  // Once the blocked ones expire there is room again.
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(attempt(t, "192.0.2.99", "admin", t0 + seconds(300)));
  EXPECT_TRUE(t.blocked("192.0.2.99", "admin", t0 + seconds(300)));
}

TEST(LoginThrottle, MemoryStaysBoundedUnderManyDistinctPairs) {
  LoginThrottle t;  // 10 000 entries per table
  for (int i = 0; i < 100000; ++i)
    t.failure(addr(i), "user" + std::to_string(i), t0 + milliseconds(i));
  EXPECT_LE(t.sizes().pairs, 10000u);
  EXPECT_LE(t.sizes().addresses, 10000u);
  // It still throttles.
  for (int i = 0; i < 5; ++i) t.failure("192.0.2.1", "late", t0 + seconds(100));
  EXPECT_TRUE(t.blocked("192.0.2.1", "late", t0 + seconds(100)));
  // Long after, everything has been swept.
  t.failure("192.0.2.2", "late", t0 + seconds(1000));
  EXPECT_EQ(t.sizes().pairs, 1u);
  EXPECT_EQ(t.sizes().addresses, 1u);
}

TEST(LoginThrottle, AHugeNameIsItsOwnKey) {
  LoginThrottle t;
  const std::string huge(100000, 'x');
  for (int i = 0; i < 5; ++i) t.failure("192.0.2.1", huge, t0);
  EXPECT_TRUE(t.blocked("192.0.2.1", huge, t0));
  EXPECT_FALSE(t.blocked("192.0.2.1", huge + "y", t0));
  EXPECT_FALSE(t.blocked("192.0.2.1", huge.substr(0, 128), t0));
}

TEST(LoginThrottle, ManyThreadsAtOnce) {
  LoginThrottle t(LoginThrottleOptions{.max_per_pair = 5, .max_per_address = 50, .max_entries = 200});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 8; ++th)
    threads.emplace_back([&t, &failures, th] {
      for (int i = 0; i < 5000; ++i) {
        const SteadyTime now = t0 + milliseconds(i);
        const std::string a = addr(th * 10000 + i % 300);
        const std::string u = i % 3 == 0 ? "admin" : "user" + std::to_string(i % 17);
        if (i % 7 == 0) {
          t.success(a, u);
        } else if (i % 2 == 0 || !t.blocked(a, u, now)) {
          t.failure(a, u, now);
          ++failures;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_LE(t.sizes().pairs, 200u);
  EXPECT_LE(t.sizes().addresses, 200u);
  EXPECT_EQ(t.globalFailures(t0 + seconds(5)), failures.load());  // none lost
  // Still whole: a new pair is throttled as usual.
  for (int i = 0; i < 5; ++i) t.failure("192.0.2.1", "admin", t0 + seconds(6));
  EXPECT_TRUE(t.blocked("192.0.2.1", "admin", t0 + seconds(6)));
}

}  // namespace
}  // namespace vigil::gateway::api
