#include "gateway/auth/config_gatekeeper.h"

#include <gtest/gtest.h>
#include <rfb/rfb.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "gateway/auth/password.h"
#include "tests/gateway/auth/fake_store.h"
#include "tests/gateway/auth/test_util.h"

namespace vigil::gateway::auth {
namespace {

// 2026-11-15T12:00:00Z
const EpochMillis kNow = *parseRfc3339("2026-11-15T12:00:00Z");

struct Seen {
  std::string user, target;
  Protocol protocol;
  std::string addr, reason;
  EpochMillis at;
  bool throttled;
};

class RecordingRefusals final : public RefusalRecorder {
 public:
  using RefusalRecorder::recordRefusal;
  void recordRefusal(const Refusal& r) override {
    all.push_back({r.user, r.target, r.protocol, r.client_addr, r.reason, r.at, r.throttled});
  }
  std::vector<Seen> all;
};

// Hashing costs ~0.1 s: do it once for the whole suite.
const std::string& vendorHash() {
  static const std::string h = *hashPassword("vendor-pass");
  return h;
}

Config testConfig() {
  const std::string hash = vendorHash();
  const std::string toml = R"(
[[users]]
name = "vendor1"
password_hash = ")" + hash + R"("
roles = ["vendor"]

[[users]]
name = "vendor2"
password_hash = ")" + hash + R"("
roles = ["vendor"]

[[users]]
name = "vendor3"
password_hash = ")" + hash + R"("
roles = ["vendor"]

[[targets]]
name = "dc01"
protocol = "rdp"
host = "10.0.0.5"

[[targets]]
name = "vnc1"
protocol = "vnc"
host = "10.0.0.6"
vnc_listen = "127.0.0.1:5901"

[[grants]]
user = "vendor1"
target = "dc01"
not_before = "2026-11-15T08:00:00Z"
not_after = "2026-11-15T18:00:00Z"

[[grants]]
user = "vendor1"
target = "vnc1"

[[grants]]
user = "vendor2"
target = "dc01"
not_before = "2026-11-20T08:00:00Z"

[[grants]]
user = "vendor2"
target = "vnc1"
not_after = "2026-11-01T00:00:00Z"
)";
  return Config::parse(toml, "test.toml");
}

class GatekeeperTest : public ::testing::Test {
 protected:
  Config config_ = testConfig();
  testing::FakeCodeStore store_;
  EpochMillis now_ = kNow;
  AccessCodes codes_{store_, testing::freshKey(), [this] { return now_; }};
  RecordingRefusals refusals_;
  ConfigGatekeeper gate_{config_, store_, codes_, refusals_, [this] { return now_; }};

  std::string code(const std::string& user, const std::string& target,
                   const std::string& issuer = "security1") {
    return codes_.issue(user, target, 600'000, issuer)->code;
  }
  void expectRefused(const Result<AccessGrant>& r, const std::string& reason_part) {
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find(reason_part), std::string::npos) << r.message();
    ASSERT_FALSE(refusals_.all.empty());
    EXPECT_EQ(refusals_.all.back().reason, r.message());
  }
};

TEST_F(GatekeeperTest, PasswordWithValidGrant) {
  auto g = gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.1.1:50000");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->user, "vendor1");
  EXPECT_EQ(g->target, config_.findTarget("dc01"));
  EXPECT_EQ(g->via, "password");
  EXPECT_EQ(g->not_after, parseRfc3339("2026-11-15T18:00:00Z"));
  EXPECT_TRUE(refusals_.all.empty());
}

TEST_F(GatekeeperTest, OpenEndedGrantHasNoNotAfter) {
  auto g = gate_.admit("vendor1", "vnc1", "vendor-pass", "10.1.1.1");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_FALSE(g->not_after.has_value());
}

TEST_F(GatekeeperTest, UnknownUser) {
  expectRefused(gate_.admit("mallory", "dc01", "vendor-pass", "10.1.1.2:1"), "unknown user");
  const Seen& r = refusals_.all.back();
  EXPECT_EQ(r.user, "mallory");
  EXPECT_EQ(r.target, "dc01");
  EXPECT_EQ(r.protocol, Protocol::Rdp);
  EXPECT_EQ(r.addr, "10.1.1.2:1");
  EXPECT_EQ(r.at, kNow);  // the gatekeeper's clock
  EXPECT_FALSE(r.throttled);
}

TEST_F(GatekeeperTest, UnknownTarget) {
  expectRefused(gate_.admit("vendor1", "nope", "vendor-pass", "10.1.1.2"), "unknown target");
}

TEST_F(GatekeeperTest, WrongPassword) {
  expectRefused(gate_.admit("vendor1", "dc01", "not-the-pass", "10.1.1.3"),
                "wrong password or access code");
  EXPECT_EQ(refusals_.all.back().reason.find("not-the-pass"), std::string::npos);
}

TEST_F(GatekeeperTest, NoGrant) {
  expectRefused(gate_.admit("vendor3", "dc01", "vendor-pass", "10.1.1.4"),
                "no grant for vendor3 on dc01");
}

TEST_F(GatekeeperTest, GrantNotYetValid) {
  expectRefused(gate_.admit("vendor2", "dc01", "vendor-pass", "10.1.1.5"),
                "grant not yet valid (from 2026-11-20T08:00:00.000Z)");
}

TEST_F(GatekeeperTest, GrantExpired) {
  expectRefused(gate_.admit("vendor2", "vnc1", "vendor-pass", "10.1.1.5"),
                "grant expired at 2026-11-01T00:00:00.000Z");
}

TEST_F(GatekeeperTest, WindowEdges) {
  now_ = *parseRfc3339("2026-11-15T07:59:59.999Z");
  expectRefused(gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.2.1"), "not yet valid");
  now_ = *parseRfc3339("2026-11-15T08:00:00Z");
  EXPECT_TRUE(gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.2.1").ok());
  now_ = *parseRfc3339("2026-11-15T18:00:00Z");
  EXPECT_TRUE(gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.2.1").ok());
  now_ += 1;
  expectRefused(gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.2.1"),
                "grant expired at 2026-11-15T18:00:00.000Z");
}

TEST_F(GatekeeperTest, AccessCodeAdmitsOnce) {
  const std::string c = code("vendor1", "dc01");
  auto g = gate_.admit("vendor1", "dc01", c, "10.1.3.1");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->via, "access code");
  EXPECT_EQ(g->code_issuer, "security1");
  EXPECT_EQ(authenticatedText(*g), "authenticated vendor1 by access code issued by security1");
  expectRefused(gate_.admit("vendor1", "dc01", c, "10.1.3.1"), "already used or expired");
  // `vigil grant` names its Unix user; a code issued without a name names none.
  auto cli = gate_.admit("vendor1", "dc01", code("vendor1", "dc01", "cli:alice"), "10.1.3.1");
  ASSERT_TRUE(cli.ok()) << cli.message();
  EXPECT_EQ(authenticatedText(*cli), "authenticated vendor1 by access code issued by cli:alice");
  auto unnamed = gate_.admit("vendor1", "dc01", code("vendor1", "dc01", ""), "10.1.3.1");
  ASSERT_TRUE(unnamed.ok()) << unnamed.message();
  EXPECT_EQ(authenticatedText(*unnamed), "authenticated vendor1 by access code");
  auto pw = gate_.admit("vendor1", "dc01", "vendor-pass", "10.1.3.1");
  ASSERT_TRUE(pw.ok());
  EXPECT_EQ(pw->code_issuer, "");
  EXPECT_EQ(authenticatedText(*pw), "authenticated vendor1 by password");
}

TEST_F(GatekeeperTest, AccessCodeOfAnotherUser) {
  const std::string c = code("vendor1", "dc01");
  expectRefused(gate_.admit("vendor2", "dc01", c, "10.1.3.2"), "issued to another user");
}

TEST_F(GatekeeperTest, AccessCodeForAnotherTarget) {
  const std::string c = code("vendor1", "vnc1");
  expectRefused(gate_.admit("vendor1", "dc01", c, "10.1.3.3"), "issued for target vnc1");
}

TEST_F(GatekeeperTest, VncAccessCode) {
  const TargetConfig& vnc1 = *config_.findTarget("vnc1");
  const std::string c = code("vendor1", "vnc1");
  std::array<std::uint8_t, 16> challenge{};
  challenge.fill(0x42);
  std::array<std::uint8_t, 16> response = challenge;
  std::string pw = c;
  rfbEncryptBytes(response.data(), pw.data());

  auto bad = challenge;
  expectRefused(gate_.admitVnc(vnc1, challenge, bad, "10.1.4.1:7000"),
                "wrong password or access code");
  EXPECT_EQ(refusals_.all.back().protocol, Protocol::Vnc);
  EXPECT_EQ(refusals_.all.back().target, "vnc1");

  auto g = gate_.admitVnc(vnc1, challenge, response, "10.1.4.1:7001");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->user, "vendor1");
  EXPECT_EQ(g->target, &vnc1);
  EXPECT_EQ(g->via, "access code");
  EXPECT_EQ(g->code_issuer, "security1");
  EXPECT_FALSE(g->not_after.has_value());
  // Used up.
  EXPECT_FALSE(gate_.admitVnc(vnc1, challenge, response, "10.1.4.1:7002").ok());
}

TEST_F(GatekeeperTest, VncCodeWhoseUserLostTheGrant) {
  const TargetConfig& vnc1 = *config_.findTarget("vnc1");
  const std::string c = code("vendor2", "vnc1");  // vendor2's vnc1 grant has expired
  std::array<std::uint8_t, 16> challenge{}, response{};
  challenge.fill(1);
  response = challenge;
  std::string pw = c;
  rfbEncryptBytes(response.data(), pw.data());
  expectRefused(gate_.admitVnc(vnc1, challenge, response, "10.1.4.2"), "grant expired");
  EXPECT_EQ(refusals_.all.back().user, "vendor2");
}

TEST_F(GatekeeperTest, ThrottlesAfterFiveFailures) {
  for (int i = 0; i < 5; ++i)
    EXPECT_FALSE(gate_.admit("vendor1", "dc01", "bad", "10.9.9.9:" + std::to_string(4000 + i)).ok());
  // Even the right password is not checked now; another port is the same host.
  ASSERT_EQ(refusals_.all.size(), 5u);
  for (const Seen& r : refusals_.all) EXPECT_FALSE(r.throttled) << r.reason;
  auto locked = gate_.admit("vendor1", "dc01", "vendor-pass", "10.9.9.9:5000");
  expectRefused(locked, "too many failed attempts from 10.9.9.9; retry in 30 s");
  // Refused while locked out: recorded as throttled (aggregated by the recorder).
  EXPECT_TRUE(refusals_.all.back().throttled);
  // Other hosts are unaffected.
  EXPECT_TRUE(gate_.admit("vendor1", "dc01", "vendor-pass", "10.9.9.8:1").ok());
  // Refusals while locked do not extend the lockout.
  now_ += 20'000;
  expectRefused(gate_.admit("vendor1", "dc01", "bad", "10.9.9.9:1"), "retry in 10 s");
  now_ += 10'000;
  auto ok = gate_.admit("vendor1", "dc01", "vendor-pass", "10.9.9.9:5001");
  EXPECT_TRUE(ok.ok()) << ok.message();
}

TEST_F(GatekeeperTest, LockoutDoublesAndCaps) {
  auto fail5 = [&] {
    for (int i = 0; i < 5; ++i) (void)gate_.admit("nobody", "dc01", "x", "[2001:db8::1]:3389");
  };
  long long expected_s = 30;
  for (int round = 0; round < 7; ++round) {
    fail5();
    expectRefused(gate_.admit("vendor1", "dc01", "vendor-pass", "[2001:db8::1]:1"),
                  "too many failed attempts from 2001:db8::1; retry in " +
                      std::to_string(expected_s) + " s");
    now_ += expected_s * 1000;
    expected_s = std::min(expected_s * 2, 900LL);
  }
}

TEST_F(GatekeeperTest, FailuresOutsideTheWindowDoNotCount) {
  for (int i = 0; i < 4; ++i) (void)gate_.admit("vendor1", "dc01", "bad", "10.8.8.8");
  now_ += 61'000;
  for (int i = 0; i < 4; ++i) (void)gate_.admit("vendor1", "dc01", "bad", "10.8.8.8");
  EXPECT_TRUE(gate_.admit("vendor1", "dc01", "vendor-pass", "10.8.8.8").ok());
}

TEST_F(GatekeeperTest, VncIsThrottledToo) {
  const TargetConfig& vnc1 = *config_.findTarget("vnc1");
  std::array<std::uint8_t, 16> challenge{}, response{};
  for (int i = 0; i < 5; ++i) (void)gate_.admitVnc(vnc1, challenge, response, "10.7.7.7:1");
  expectRefused(gate_.admitVnc(vnc1, challenge, response, "10.7.7.7:2"),
                "too many failed attempts from 10.7.7.7");
}

TEST_F(GatekeeperTest, LogsRefusalsWithoutSecrets) {
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  const std::string c = code("vendor1", "vnc1");
  (void)gate_.admit("vendor1", "dc01", "Sup3rS3cretPw", "10.6.6.6:1");
  (void)gate_.admit("vendor1", "dc01", c, "10.6.6.6:2");
  (void)gate_.admit("evil\nuser", "dc01", "x", "10.6.6.6:3");
  spdlog::set_default_logger(previous);
  const std::string text = log.str();
  EXPECT_NE(text.find("user=vendor1 target=dc01 protocol=rdp addr=10.6.6.6:1"), std::string::npos)
      << text;
  EXPECT_NE(text.find("reason=\"wrong password or access code\""), std::string::npos) << text;
  // Every refusal at info: the client's doing, not a gateway error.
  EXPECT_NE(text.find("[info] connection refused user=vendor1"), std::string::npos) << text;
  EXPECT_EQ(text.find("Sup3rS3cretPw"), std::string::npos);
  EXPECT_EQ(text.find(c), std::string::npos);
  EXPECT_NE(text.find("user=evil?user"), std::string::npos) << text;
}

TEST_F(GatekeeperTest, ConcurrentAdmissions) {
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i)
    threads.emplace_back([&, i] {
      if (gate_.admit("vendor1", "dc01", "vendor-pass", "10.5.0." + std::to_string(i)).ok())
        ++admitted;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.load(), 10);
}

TEST(ClientHost, StripsPorts) {
  EXPECT_EQ(clientHost("10.0.0.1:5000"), "10.0.0.1");
  EXPECT_EQ(clientHost("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(clientHost("[::1]:5000"), "::1");
  EXPECT_EQ(clientHost("::1"), "::1");
  EXPECT_EQ(clientHost("host.example:22"), "host.example");
}

}  // namespace
}  // namespace vigil::gateway::auth
