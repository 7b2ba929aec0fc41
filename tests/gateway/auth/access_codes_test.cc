#include "gateway/auth/access_codes.h"

#include <gtest/gtest.h>
#include <rfb/rfb.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "gateway/auth/vnc_des.h"
#include "tests/gateway/auth/fake_store.h"
#include "tests/gateway/auth/test_util.h"

namespace vigil::gateway::auth {
namespace {

using testing::FakeCodeStore;
using testing::TempDir;

constexpr EpochMillis kT0 = 1'790'000'000'000;  // 2026-09

class AccessCodesTest : public ::testing::Test {
 protected:
  FakeCodeStore store_;
  EpochMillis now_ = kT0;
  AccessCodes codes_{store_, testing::freshKey(), [this] { return now_; }};
};

VncBlock challengeBytes(std::uint8_t seed) {
  VncBlock c{};
  for (std::size_t i = 0; i < c.size(); ++i) c[i] = static_cast<std::uint8_t>(seed + i * 29);
  return c;
}

// What a real VNC client sends, per libvncserver's implementation.
VncBlock clientResponse(std::string password, const VncBlock& challenge) {
  VncBlock out = challenge;
  rfbEncryptBytes(out.data(), password.data());
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_F(AccessCodesTest, IssuedCodeFormatAndRecord) {
  auto issued = codes_.issue("vendor1", "dc01", 30 * 60'000);
  ASSERT_TRUE(issued.ok()) << issued.message();
  ASSERT_EQ(issued->code.size(), 8u);
  for (char c : issued->code) EXPECT_NE(kCodeAlphabet.find(c), std::string::npos) << c;
  EXPECT_EQ(issued->expires_at, kT0 + 30 * 60'000);

  auto all = store_.all();
  ASSERT_EQ(all.size(), 1u);
  const auto& rec = all[0];
  EXPECT_EQ(rec.user, "vendor1");
  EXPECT_EQ(rec.target, "dc01");
  EXPECT_EQ(rec.expires_at, issued->expires_at);
  EXPECT_EQ(rec.id.size(), 64u);
  EXPECT_TRUE(std::all_of(rec.id.begin(), rec.id.end(), [](char c) { return std::isxdigit(c); }));
  // The plain code is not stored.
  EXPECT_EQ(rec.id.find(issued->code), std::string::npos);
  EXPECT_EQ(rec.sealed.find(issued->code), std::string::npos);
  EXPECT_FALSE(rec.sealed.empty());
  EXPECT_EQ(rec.issued_by, "");  // the three-argument issue: issuer unknown
}

TEST_F(AccessCodesTest, CodeRecordsWhoIssuedIt) {
  auto issued = codes_.issue("vendor1", "dc01", 600'000, "security1");
  ASSERT_TRUE(issued.ok()) << issued.message();
  auto rec = codes_.redeem(issued->code, "dc01");
  ASSERT_TRUE(rec.ok()) << rec.message();
  EXPECT_EQ(rec->issued_by, "security1");
  EXPECT_EQ(rec->user, "vendor1");
}

TEST_F(AccessCodesTest, CodesAreRandom) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(codes_.issue("u", "t", 60'000)->code);
  EXPECT_EQ(seen.size(), 50u);
}

TEST_F(AccessCodesTest, TtlBounds) {
  auto short_ttl = codes_.issue("u", "t", 59'000);
  ASSERT_FALSE(short_ttl.ok());
  EXPECT_NE(short_ttl.message().find("too short"), std::string::npos) << short_ttl.message();
  EXPECT_NE(short_ttl.message().find("1 minute"), std::string::npos);
  auto long_ttl = codes_.issue("u", "t", 8LL * 86'400'000);
  ASSERT_FALSE(long_ttl.ok());
  EXPECT_NE(long_ttl.message().find("too long"), std::string::npos) << long_ttl.message();
  EXPECT_NE(long_ttl.message().find("7 days"), std::string::npos);
  EXPECT_TRUE(codes_.issue("u", "t", kMinCodeTtlMs).ok());
  EXPECT_TRUE(codes_.issue("u", "t", kMaxCodeTtlMs).ok());
  EXPECT_FALSE(codes_.issue("", "t", 60'000).ok());
}

TEST_F(AccessCodesTest, SingleUse) {
  auto issued = codes_.issue("vendor1", "dc01", 600'000);
  ASSERT_TRUE(issued.ok());
  auto first = codes_.redeem(issued->code, "dc01");
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_EQ(first->user, "vendor1");
  EXPECT_EQ(first->target, "dc01");
  auto second = codes_.redeem(issued->code, "dc01");
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("already used or expired"), std::string::npos)
      << second.message();
}

TEST_F(AccessCodesTest, CaseInsensitiveAndSeparators) {
  auto issued = codes_.issue("vendor1", "dc01", 600'000);
  ASSERT_TRUE(issued.ok());
  const std::string typed =
      " " + lower(issued->code.substr(0, 4)) + "-" + lower(issued->code.substr(4)) + " ";
  auto r = codes_.redeem(typed, "dc01");
  EXPECT_TRUE(r.ok()) << r.message();
}

TEST(NormalizeCode, Rules) {
  EXPECT_EQ(normalizeCode("abcd-efgh"), "ABCDEFGH");
  EXPECT_EQ(normalizeCode("AB CD 23 45"), "ABCD2345");
  EXPECT_FALSE(normalizeCode("ABCDEFG"));     // 7
  EXPECT_FALSE(normalizeCode("ABCDEFGHJ"));   // 9
  EXPECT_FALSE(normalizeCode("ABCDEFG0"));    // 0 is not in the alphabet
  EXPECT_FALSE(normalizeCode("ABCDEFGI"));    // nor I, L, O, 1
  EXPECT_FALSE(normalizeCode("password"));
  EXPECT_FALSE(normalizeCode(std::string(1000, '-')));
}

TEST_F(AccessCodesTest, Expiry) {
  auto issued = codes_.issue("vendor1", "dc01", 60'000);
  ASSERT_TRUE(issued.ok());
  now_ += 60'000;  // the fake store still holds it; the expiry check must refuse
  auto r = codes_.redeem(issued->code, "dc01");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("expired"), std::string::npos) << r.message();

  auto fresh = codes_.issue("vendor1", "dc01", 60'000);
  now_ += 59'999;
  EXPECT_TRUE(codes_.redeem(fresh->code, "dc01").ok());
}

TEST_F(AccessCodesTest, WrongTargetRefusesAndBurns) {
  auto issued = codes_.issue("vendor1", "dc01", 600'000);
  ASSERT_TRUE(issued.ok());
  auto wrong = codes_.redeem(issued->code, "db02");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("dc01"), std::string::npos) << wrong.message();
  EXPECT_NE(wrong.message().find("used up"), std::string::npos) << wrong.message();
  EXPECT_FALSE(codes_.redeem(issued->code, "dc01").ok());
}

TEST_F(AccessCodesTest, NotACode) {
  auto r = codes_.redeem("hunter2", "dc01");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("not an access code"), std::string::npos);
  EXPECT_EQ(r.message().find("hunter2"), std::string::npos);  // never echo secrets
}

TEST_F(AccessCodesTest, OtherKeyCannotRedeem) {
  auto issued = codes_.issue("vendor1", "dc01", 600'000);
  ASSERT_TRUE(issued.ok());
  AccessCodes other(store_, testing::freshKey(), [this] { return now_; });
  EXPECT_FALSE(other.redeem(issued->code, "dc01").ok());
  const VncBlock ch = challengeBytes(3);
  EXPECT_FALSE(other.redeemVnc("dc01", ch, clientResponse(issued->code, ch)).ok());
  EXPECT_TRUE(codes_.redeem(issued->code, "dc01").ok());
}

TEST_F(AccessCodesTest, VncRedeem) {
  auto other_target = codes_.issue("vendor2", "vnc2", 600'000);
  auto issued = codes_.issue("vendor1", "vnc1", 600'000);
  auto decoy = codes_.issue("vendor3", "vnc1", 600'000);
  ASSERT_TRUE(issued.ok() && other_target.ok() && decoy.ok());
  const VncBlock ch = challengeBytes(7);

  auto wrong = codes_.redeemVnc("vnc1", ch, clientResponse("ZZZZZZZZ", ch));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("matches no access code"), std::string::npos);
  // A code for another target does not open this one.
  EXPECT_FALSE(codes_.redeemVnc("vnc1", ch, clientResponse(other_target->code, ch)).ok());

  auto ok = codes_.redeemVnc("vnc1", ch, clientResponse(issued->code, ch));
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->user, "vendor1");
  // Single use, also over VNC.
  EXPECT_FALSE(codes_.redeemVnc("vnc1", ch, clientResponse(issued->code, ch)).ok());
  // The decoy is still there.
  EXPECT_EQ(codes_.redeemVnc("vnc1", ch, clientResponse(decoy->code, ch))->user, "vendor3");
}

TEST_F(AccessCodesTest, VncRedeemAcceptsLowerCaseTyping) {
  auto issued = codes_.issue("vendor1", "vnc1", 600'000);
  ASSERT_TRUE(issued.ok());
  const VncBlock ch = challengeBytes(99);
  auto r = codes_.redeemVnc("vnc1", ch, clientResponse(lower(issued->code), ch));
  EXPECT_TRUE(r.ok()) << r.message();
}

TEST_F(AccessCodesTest, VncRedeemRefusesExpired) {
  auto issued = codes_.issue("vendor1", "vnc1", 60'000);
  ASSERT_TRUE(issued.ok());
  now_ += 61'000;
  const VncBlock ch = challengeBytes(1);
  EXPECT_FALSE(codes_.redeemVnc("vnc1", ch, clientResponse(issued->code, ch)).ok());
}

TEST_F(AccessCodesTest, ConcurrentRedeemSucceedsOnce) {
  auto issued = codes_.issue("vendor1", "vnc1", 600'000);
  ASSERT_TRUE(issued.ok());
  const VncBlock ch = challengeBytes(5);
  const VncBlock resp = clientResponse(issued->code, ch);
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      const bool ok = i % 2 ? codes_.redeemVnc("vnc1", ch, resp).ok()
                            : codes_.redeem(issued->code, "vnc1").ok();
      if (ok) ++wins;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
}

TEST(SecretKey, CreatesOnceWith0600) {
  TempDir dir;
  const std::string state = dir.path() + "/nested/state";
  auto a = SecretKey::loadOrCreate(state);
  ASSERT_TRUE(a.ok()) << a.message();
  struct stat st {};
  ASSERT_EQ(::stat((state + "/gateway.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto b = SecretKey::loadOrCreate(state);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->bytes(), b->bytes());
  EXPECT_NE(a->bytes(), (std::array<std::uint8_t, 32>{}));
  // No temporary files left behind.
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(state)) (void)e, ++files;
  EXPECT_EQ(files, 1);
}

TEST(SecretKey, ConcurrentCreatorsAgree) {
  TempDir dir;
  std::vector<std::array<std::uint8_t, 32>> keys(6);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < keys.size(); ++i)
    threads.emplace_back([&, i] {
      auto k = SecretKey::loadOrCreate(dir.path());
      if (k.ok()) keys[i] = k->bytes();
    });
  for (auto& t : threads) t.join();
  for (const auto& k : keys) EXPECT_EQ(k, keys[0]);
  EXPECT_NE(keys[0], (std::array<std::uint8_t, 32>{}));
}

TEST(SecretKey, WrongSizeIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() + "/gateway.key") << "too short";
  auto k = SecretKey::loadOrCreate(dir.path());
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("not 32"), std::string::npos) << k.message();
  EXPECT_NE(k.message().find("gateway.key"), std::string::npos);
}

TEST(SecretKey, UnreadableIsAnError) {
  TempDir dir;
  // A directory where the key file should be: present, but not a key.
  std::filesystem::create_directory(dir.path() + "/gateway.key");
  auto k = SecretKey::loadOrCreate(dir.path());
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("gateway.key"), std::string::npos) << k.message();
}

TEST(SecretKey, StateDirThatIsAFileIsAnError) {
  TempDir dir;
  std::ofstream(dir.path() + "/file") << "x";
  auto k = SecretKey::loadOrCreate(dir.path() + "/file/state");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("state directory"), std::string::npos) << k.message();
}

}  // namespace
}  // namespace vigil::gateway::auth
