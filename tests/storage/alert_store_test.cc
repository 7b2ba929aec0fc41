// Alerts across sessions (putAlert / alerts): the same tests against
// MemoryStore and RedisStore on a real redis-server.
#include <gtest/gtest.h>

#include <memory>

#include "storage/memory_store.h"
#include "storage/redis_store.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

class AlertStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryStore>();
      return;
    }
    server_ = std::make_unique<testing::RedisServer>();
    const std::string err = server_->start();
    ASSERT_EQ(err, "") << err;
    auto s = RedisStore::connect(server_->url());
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(*s);
  }
  std::unique_ptr<testing::RedisServer> server_;
  std::unique_ptr<MetadataStore> store_;
};

const EpochMillis T0 = 1'800'000'000'000;

TEST_P(AlertStoreTest, NewestFirstSinceAndLimit) {
  const AlertRecord a{"s1", 1200, T0, "local account created", "high",
                      "local account created: net user eve [masked] /add", "vendor1", "dc01"};
  const AlertRecord b{"s2", 50, T0 + 5000, "shutdown", "critical", "shutdown: shutdown /s", "vendor2", "web01"};
  ASSERT_TRUE(store_->putAlert(a).ok());
  ASSERT_TRUE(store_->putAlert(b).ok());
  ASSERT_TRUE(store_->putAlert(b).ok());  // the same alert twice is two alerts

  auto all = store_->alerts(0, 100);
  ASSERT_TRUE(all.ok()) << all.message();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0], b);
  EXPECT_EQ((*all)[1], b);
  EXPECT_EQ((*all)[2], a);  // every field round-trips

  auto recent = store_->alerts(T0 + 1, 100);
  ASSERT_TRUE(recent.ok());
  EXPECT_EQ(recent->size(), 2u);
  auto inclusive = store_->alerts(T0, 100);
  ASSERT_TRUE(inclusive.ok());
  EXPECT_EQ(inclusive->size(), 3u);
  auto one = store_->alerts(0, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].session_id, "s2");
}

INSTANTIATE_TEST_SUITE_P(Stores, AlertStoreTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vigil::storage
