// The Forwarder against a fake receiver (the same Transport interface as
// the real ones): order, outage, spool overflow, restarts, never blocking.
#include "gateway/siem/forwarder.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testbed/testbed.h"

namespace vigil::siem {
namespace {

using namespace std::chrono_literals;

struct Receiver {
  std::mutex mu;
  bool up = true;
  std::chrono::milliseconds send_delay{0};
  std::vector<std::string> got;
  std::vector<std::string> snapshot() {
    std::lock_guard lock(mu);
    return got;
  }
  void setUp(bool v) {
    std::lock_guard lock(mu);
    up = v;
  }
};

class FakeTransport final : public Transport {
 public:
  explicit FakeTransport(std::shared_ptr<Receiver> r) : r_(std::move(r)) {}
  Status open() override {
    std::lock_guard lock(r_->mu);
    return r_->up ? Status::Ok() : Status::Error("connection refused");
  }
  Status send(std::span<const std::string> messages) override {
    std::chrono::milliseconds delay;
    {
      std::lock_guard lock(r_->mu);
      delay = r_->send_delay;
    }
    std::this_thread::sleep_for(delay);
    std::lock_guard lock(r_->mu);
    if (!r_->up) return Status::Error("connection reset");
    r_->got.insert(r_->got.end(), messages.begin(), messages.end());
    return Status::Ok();
  }
  bool healthy() override {
    std::lock_guard lock(r_->mu);
    return r_->up;
  }
  void close() override {}
  std::string describe() const override { return "fake"; }

 private:
  std::shared_ptr<Receiver> r_;
};

class ForwarderTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testbed::makeTempDir("vigil-forwarder-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Forwarder> start(std::uint64_t spool_max = 1 << 20) {
    ForwarderOptions o;
    o.name = "test";
    o.spool_dir = dir_ + "/spool";
    o.spool_max = spool_max;
    o.backoff_min = 10ms;
    o.backoff_max = 50ms;
    o.overflow_notice = [](std::uint64_t lost) { return "OVERFLOW lost=" + std::to_string(lost); };
    auto f = Forwarder::start(std::make_unique<FakeTransport>(rx_), o);
    EXPECT_TRUE(f.ok()) << f.message();
    return f.ok() ? std::move(f.value()) : nullptr;
  }
  static std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i < to; ++i) v.push_back("m" + std::to_string(i));
    return v;
  }
  std::string dir_;
  std::shared_ptr<Receiver> rx_ = std::make_shared<Receiver>();
};

TEST_F(ForwarderTest, SendsInOrderAcrossAnOutage) {
  auto f = start();
  for (int i = 0; i < 50; ++i) f->submit("m" + std::to_string(i));
  ASSERT_TRUE(f->waitIdle(5s));
  rx_->setUp(false);
  for (int i = 50; i < 150; ++i) f->submit("m" + std::to_string(i));
  ASSERT_TRUE(testbed::waitFor([&] { return f->stats().spool_count == 100; }, 5s)) << f->stats().spool_count;
  rx_->setUp(true);
  for (int i = 150; i < 200; ++i) f->submit("m" + std::to_string(i));
  ASSERT_TRUE(f->waitIdle(5s));
  EXPECT_EQ(rx_->snapshot(), numbered(0, 200));
  EXPECT_EQ(f->stats().lost, 0u);
}

TEST_F(ForwarderTest, SpoolSurvivesARestart) {
  rx_->setUp(false);
  {
    auto f = start();
    for (int i = 0; i < 30; ++i) f->submit("m" + std::to_string(i));
    f->stop(50ms);
    EXPECT_EQ(f->stats().spool_count, 30u);
  }
  EXPECT_TRUE(rx_->snapshot().empty());
  rx_->setUp(true);
  auto f = start();
  f->submit("m30");
  ASSERT_TRUE(f->waitIdle(5s));
  EXPECT_EQ(rx_->snapshot(), numbered(0, 31));
}

TEST_F(ForwarderTest, OverflowIsCountedAndReportedInOrder) {
  rx_->setUp(false);
  auto f = start(1000);  // ten 96-byte messages
  for (int i = 0; i < 100; ++i) f->submit(std::string(94, 'a') + std::to_string(i % 10) + "z");
  ASSERT_TRUE(testbed::waitFor([&] { return f->stats().lost == 90; }, 5s)) << f->stats().lost;
  rx_->setUp(true);
  // The receiver takes the spool first (a message arriving while the spool
  // is still full would be lost as well, and counted).
  ASSERT_TRUE(testbed::waitFor([&] { return f->stats().spool_count == 0; }, 5s));
  f->submit("after");
  ASSERT_TRUE(f->waitIdle(5s));
  const auto got = rx_->snapshot();
  ASSERT_EQ(got.size(), 12u);
  EXPECT_EQ(got[10], "OVERFLOW lost=90");  // where the gap is, before what came after
  EXPECT_EQ(got[11], "after");
  EXPECT_EQ(f->stats().lost, 90u);
  EXPECT_EQ(f->stats().notices, 1u);
}

TEST_F(ForwarderTest, SubmitNeverWaitsForASlowReceiver) {
  {
    std::lock_guard lock(rx_->mu);
    rx_->send_delay = 300ms;
  }
  auto f = start();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20'000; ++i) f->submit("m" + std::to_string(i));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 200ms);
  // The queue is bounded: what did not fit is counted, not silently gone.
  f->stop(0ms);
  const auto st = f->stats();
  EXPECT_EQ(st.submitted, 20'000u);
  EXPECT_GT(st.lost, 0u);
  EXPECT_EQ(st.sent + st.spool_count + st.lost, 20'000u + st.notices);
}

}  // namespace
}  // namespace vigil::siem
