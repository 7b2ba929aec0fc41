// The control bus against a real, password-protected redis-server: only
// terminates signed with the deployment's key reach the handler; a raw
// PUBLISH (as from redis-cli), a forged, tampered, stale or replayed message
// is dropped.
#include "storage/control_bus.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;

BusKey keyOf(std::uint8_t seed) {
  BusKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}

using testing::eventually;

// What a snooping Redis client sees on vigil:control: every payload, raw.
class Spy {
 public:
  explicit Spy(const RedisServer& server) {
    timeval tv{5, 0};
    c_ = redisConnectUnixWithTimeout(server.socketPath().c_str(), tv);
    if (!c_ || c_->err) return;
    redisSetTimeout(c_, tv);
    if (auto* r = static_cast<redisReply*>(redisCommand(c_, "AUTH %s", server.password().c_str())))
      freeReplyObject(r);
    if (auto* r = static_cast<redisReply*>(redisCommand(c_, "SUBSCRIBE vigil:control")))
      freeReplyObject(r);
  }
  ~Spy() {
    if (c_) redisFree(c_);
  }
  // The next message's payload, "" after 5 s.
  std::string next() {
    void* raw = nullptr;
    if (!c_ || redisGetReply(c_, &raw) != REDIS_OK || !raw) return "";
    auto* r = static_cast<redisReply*>(raw);
    std::string out;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) out.assign(r->element[2]->str, r->element[2]->len);
    freeReplyObject(r);
    return out;
  }

 private:
  redisContext* c_ = nullptr;
};

class ControlBusAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.setPassword("bus-test-pw");
    ASSERT_EQ(server_.start(), "");
    auto l = ControlBus::connect(server_.url(), keyOf(1), [this] { return now_.load(); });
    ASSERT_TRUE(l.ok()) << l.message();
    listener_ = std::move(*l);
    listener_->onTerminate([this](std::string id, std::string by) {
      std::lock_guard lock(mu_);
      got_.push_back(id + " by " + by);
    });
    listener_->start();
    ASSERT_TRUE(eventually([&] { return listener_->subscribed(); }));
  }
  std::unique_ptr<ControlBus> sender(std::uint8_t seed, EpochMillis offset = 0) {
    auto s = ControlBus::connect(server_.url(), keyOf(seed), [this, offset] { return now_.load() + offset; });
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  std::string publishRaw(const std::string& payload) {
    return server_.command({"PUBLISH", "vigil:control", payload});
  }
  // Publishes a genuine marker and waits for it: everything published before
  // it has been handled (one channel, one subscriber thread, in order).
  void sync(ControlBus& good) {
    const std::string id = "sync-" + std::to_string(++syncs_);
    ASSERT_TRUE(good.publishTerminate(id, "sync").ok());
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mu_);
      return !got_.empty() && got_.back() == id + " by sync";
    }));
    std::lock_guard lock(mu_);
    got_.pop_back();
  }
  std::vector<std::string> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

  RedisServer server_;
  std::atomic<EpochMillis> now_{1'800'000'000'000};
  std::unique_ptr<ControlBus> listener_;
  std::mutex mu_;
  std::vector<std::string> got_;
  int syncs_ = 0;
};

TEST_F(ControlBusAuth, AuthenticatedTerminateArrives) {
  auto good = sender(1);
  ASSERT_TRUE(good);
  ASSERT_TRUE(good->publishTerminate("s1", "alice").ok());
  ASSERT_TRUE(eventually([&] { return got().size() == 1; }));
  EXPECT_EQ(got()[0], "s1 by alice");
  EXPECT_EQ(listener_->dropped(), 0u);
}

TEST_F(ControlBusAuth, RawPublishIsIgnored) {
  auto good = sender(1);
  ASSERT_TRUE(good);
  // The old, unauthenticated format, as `redis-cli PUBLISH` would send it.
  EXPECT_EQ(publishRaw(R"({"op":"terminate","session":"s1","by":"mallory"})"), "1");
  // With made-up authentication fields.
  EXPECT_EQ(publishRaw(R"({"op":"terminate","session":"s1","by":"mallory","ts":1800000000000,)"
                       R"("nonce":"00112233445566778899aabbccddeeff","mac":")" +
                       std::string(64, 'a') + "\"}"),
            "1");
  EXPECT_EQ(publishRaw("not json"), "1");
  sync(*good);
  EXPECT_TRUE(got().empty());
  EXPECT_EQ(listener_->dropped(), 3u);
}

TEST_F(ControlBusAuth, OtherKeyIsIgnored) {
  auto good = sender(1);
  auto forger = sender(99);
  ASSERT_TRUE(good && forger);
  ASSERT_TRUE(forger->publishTerminate("s1", "mallory").ok());  // Redis delivered it...
  sync(*good);
  EXPECT_TRUE(got().empty());  // ...the node did not act on it
  EXPECT_EQ(listener_->dropped(), 1u);
}

TEST_F(ControlBusAuth, ReplayAndTamperingAreIgnored) {
  auto good = sender(1);
  ASSERT_TRUE(good);
  Spy spy(server_);
  ASSERT_TRUE(good->publishTerminate("s1", "alice").ok());
  const std::string captured = spy.next();
  ASSERT_NE(captured.find("\"s1\""), std::string::npos) << captured;
  ASSERT_TRUE(eventually([&] { return got().size() == 1; }));

  EXPECT_EQ(publishRaw(captured), "2");  // replayed as it was (listener and spy)
  std::string other_session = captured;
  other_session.replace(other_session.find("\"s1\""), 4, "\"s2\"");
  EXPECT_EQ(publishRaw(other_session), "2");  // the same MAC for another session
  std::string other_by = captured;
  other_by.replace(other_by.find("\"alice\""), 7, "\"mallet\"");
  EXPECT_EQ(publishRaw(other_by), "2");  // ... or under another name
  sync(*good);
  EXPECT_EQ(got(), std::vector<std::string>{"s1 by alice"});
  EXPECT_EQ(listener_->dropped(), 3u);
}

TEST_F(ControlBusAuth, StaleOrFutureMessagesAreIgnored) {
  auto good = sender(1);
  auto late = sender(1, -kMaxMessageAgeMs - 1000);
  auto early = sender(1, kMaxMessageAgeMs + 1000);
  auto skewed = sender(1, -kMaxMessageAgeMs + 5000);  // within the window: accepted
  ASSERT_TRUE(good && late && early && skewed);
  ASSERT_TRUE(late->publishTerminate("s-late", "alice").ok());
  ASSERT_TRUE(early->publishTerminate("s-early", "alice").ok());
  ASSERT_TRUE(skewed->publishTerminate("s-skewed", "alice").ok());
  sync(*good);
  EXPECT_EQ(got(), std::vector<std::string>{"s-skewed by alice"});
  EXPECT_EQ(listener_->dropped(), 2u);

  // A captured message replayed after the window is stale, not new again.
  Spy spy(server_);
  ASSERT_TRUE(good->publishTerminate("s3", "bob").ok());
  const std::string captured = spy.next();
  ASSERT_NE(captured.find("\"s3\""), std::string::npos) << captured;
  ASSERT_TRUE(eventually([&] { return got().size() == 2; }));
  now_ += kMaxMessageAgeMs + 1000;
  EXPECT_EQ(publishRaw(captured), "2");  // listener and spy
  sync(*good);
  EXPECT_EQ(got().size(), 2u);
  EXPECT_EQ(listener_->dropped(), 3u);
}

TEST(ControlBus, RefusesAnAllZeroKey) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto bus = ControlBus::connect(server.url(), BusKey{});
  ASSERT_FALSE(bus.ok());
  EXPECT_NE(bus.message().find("key"), std::string::npos);
}

}  // namespace
}  // namespace vigil::storage
