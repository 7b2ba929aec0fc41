// The on-disk spool: order, bounds, restarts, a record torn by a crash.
#include "gateway/siem/spool.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/testbed/testbed.h"

namespace vigil::siem {
namespace {

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testbed::makeTempDir("vigil-spool-test") + "/spool"; }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }
  std::unique_ptr<Spool> open(std::uint64_t max = 1 << 20, std::uint64_t segment = 4096) {
    auto s = Spool::open(dir_, max, segment);
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  std::vector<std::string> drain(Spool& s) {
    std::vector<std::string> out;
    while (!s.empty()) {
      auto recs = s.peek(7);
      EXPECT_TRUE(recs.ok()) << recs.message();
      if (!recs.ok() || recs->empty()) break;
      out.insert(out.end(), recs->begin(), recs->end());
      EXPECT_TRUE(s.pop(recs->size()).ok());
    }
    return out;
  }
  std::string dir_;
};

TEST_F(SpoolTest, KeepsOrderAcrossSegmentsAndRestarts) {
  std::vector<std::string> want;
  {
    auto s = open();
    for (int i = 0; i < 500; ++i) {
      want.push_back("message " + std::to_string(i) + std::string(i % 37, 'x'));
      auto r = s->append(want.back());
      ASSERT_TRUE(r.ok() && *r == Spool::Append::Ok);
    }
    // Deliver the first 100, then "restart".
    std::size_t got = 0;
    while (got < 100) {
      auto recs = s->peek(100 - got);
      ASSERT_TRUE(recs.ok());
      for (const auto& r : *recs) EXPECT_EQ(r, want[got++]);
      ASSERT_TRUE(s->pop(recs->size()).ok());
    }
    ASSERT_TRUE(s->sync().ok());
  }
  auto s = open();
  EXPECT_EQ(s->count(), 400u);
  const auto rest = drain(*s);
  EXPECT_EQ(rest, std::vector<std::string>(want.begin() + 100, want.end()));
  EXPECT_TRUE(s->empty());
  EXPECT_EQ(s->bytes(), 0u);
  // Delivered segments are gone from disk.
  int segs = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) segs += e.path().extension() == ".seg";
  EXPECT_LE(segs, 1);
}

TEST_F(SpoolTest, RefusesPastItsLimitExceptANotice) {
  auto s = open(1000);
  int ok = 0;
  for (int i = 0; i < 100; ++i) {
    auto r = s->append(std::string(96, 'a'));
    ASSERT_TRUE(r.ok());
    ok += *r == Spool::Append::Ok;
  }
  EXPECT_EQ(ok, 10);  // 10 x (4 + 96) = 1000
  EXPECT_LE(s->bytes(), 1000u);
  auto notice = s->append("overflow", /*over_limit=*/true);
  ASSERT_TRUE(notice.ok());
  EXPECT_EQ(*notice, Spool::Append::Ok);
  const auto all = drain(*s);
  ASSERT_EQ(all.size(), 11u);
  EXPECT_EQ(all.back(), "overflow");
}

TEST_F(SpoolTest, ATornRecordIsCutAtOpen) {
  {
    auto s = open();
    ASSERT_TRUE(s->append("one").ok());
    ASSERT_TRUE(s->append("two").ok());
  }
  // A crash in the middle of the third write: its length says 100 bytes, 3 are there.
  std::string seg;
  for (const auto& e : std::filesystem::directory_iterator(dir_))
    if (e.path().extension() == ".seg") seg = e.path();
  {
    std::ofstream f(seg, std::ios::binary | std::ios::app);
    const std::uint32_t len = 100;
    f.write(reinterpret_cast<const char*>(&len), 4);
    f.write("thr", 3);
  }
  auto s = open();
  EXPECT_EQ(s->count(), 2u);
  ASSERT_TRUE(s->append("three").ok());
  EXPECT_EQ(drain(*s), (std::vector<std::string>{"one", "two", "three"}));
}

}  // namespace
}  // namespace vigil::siem
