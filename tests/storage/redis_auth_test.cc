// A real redis-server with requirepass (and an ACL user): the right password
// connects, a wrong or missing one fails with an error that says what to fix
// and never shows the password.
#include <gtest/gtest.h>

#include "storage/control_bus.h"
#include "storage/redis_store.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

using testing::RedisServer;

const BusKey kKey = [] {
  BusKey k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i + 1);
  return k;
}();

constexpr const char* kPassword = "Corr3ct-H0rse";
constexpr const char* kWrong = "Wr0ng-Batt3ry";

void expectHidden(const std::string& message) {
  EXPECT_EQ(message.find(kPassword), std::string::npos) << message;
  EXPECT_EQ(message.find(kWrong), std::string::npos) << message;
}

TEST(RedisAuth, RightPasswordConnectsOverTcpAndSocket) {
  const int port = RedisServer::freePort();
  RedisServer server(port);
  server.setPassword(kPassword);
  ASSERT_EQ(server.start(), "");
  for (const std::string& url : {server.tcpUrl(0), server.url()}) {
    auto s = RedisStore::connect(url);
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_TRUE((*s)->appendAudit({1, "a", "view", "x", ""}).ok());
    auto bus = ControlBus::connect(url, kKey);
    ASSERT_TRUE(bus.ok()) << bus.message();
    EXPECT_TRUE((*bus)->heartbeat("n1", 10).ok());
  }
}

TEST(RedisAuth, WrongPasswordFailsClearly) {
  const int port = RedisServer::freePort();
  RedisServer server(port);
  server.setPassword(kPassword);
  ASSERT_EQ(server.start(), "");
  const std::string wrong = "redis://:" + std::string(kWrong) + "@127.0.0.1:" + std::to_string(port) + "/0";
  auto s = RedisStore::connect(wrong);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("refused the password"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos) << s.message();
  expectHidden(s.message());
  auto bus = ControlBus::connect(wrong, kKey);
  ASSERT_FALSE(bus.ok());
  EXPECT_NE(bus.message().find("refused the password"), std::string::npos) << bus.message();
  expectHidden(bus.message());
}

TEST(RedisAuth, MissingPasswordFailsClearly) {
  const int port = RedisServer::freePort();
  RedisServer server(port);
  server.setPassword(kPassword);
  ASSERT_EQ(server.start(), "");
  for (const std::string& url : {"redis://127.0.0.1:" + std::to_string(port) + "/0",
                                 "unix://" + server.socketPath()}) {
    auto s = RedisStore::connect(url);
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_NE(s.message().find("wants a password and [redis] url has none"), std::string::npos)
        << s.message();
    expectHidden(s.message());
    auto bus = ControlBus::connect(url, kKey);
    ASSERT_FALSE(bus.ok());
    EXPECT_NE(bus.message().find("wants a password"), std::string::npos) << bus.message();
  }
}

TEST(RedisAuth, AclUser) {
  const int port = RedisServer::freePort();
  RedisServer server(port);
  server.setPassword(kPassword);
  ASSERT_EQ(server.start(), "");
  ASSERT_EQ(server.command({"ACL", "SETUSER", "vigil", "on", ">user-pw", "~*", "&*", "+@all"}), "OK");
  const std::string base = "127.0.0.1:" + std::to_string(port) + "/0";
  auto s = RedisStore::connect("redis://vigil:user-pw@" + base);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE((*s)->appendAudit({1, "a", "view", "x", ""}).ok());
  // The default user's password is not vigil's.
  auto wrong = RedisStore::connect("redis://vigil:" + std::string(kPassword) + "@" + base);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("refused the password of user vigil"), std::string::npos)
      << wrong.message();
  expectHidden(wrong.message());
}

}  // namespace
}  // namespace vigil::storage
