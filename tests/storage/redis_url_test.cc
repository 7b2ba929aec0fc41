// Redis URL parsing (passwords, ACL users, unix sockets) and the redacted
// form that logs and messages show.
#include "storage/redis_url.h"

#include <gtest/gtest.h>

namespace vigil::storage::redis {
namespace {

TEST(RedisUrl, PasswordOnly) {
  auto u = parseUrl("redis://:s3cr%40t@127.0.0.1:6379/0");
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_EQ(u->user, "");
  EXPECT_EQ(u->password, "s3cr@t");
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->db, 0);
  // No colon: the whole user-info is the password (as before).
  auto bare = parseUrl("redis://pw@h/1");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->user, "");
  EXPECT_EQ(bare->password, "pw");
  EXPECT_EQ(bare->db, 1);
}

TEST(RedisUrl, AclUserAndPassword) {
  auto u = parseUrl("redis://vigil:p%3Aw%2Fd@[::1]:7000/3");
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_EQ(u->user, "vigil");
  EXPECT_EQ(u->password, "p:w/d");
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 7000);
  EXPECT_EQ(u->db, 3);
  // A password holding a raw '@': the last '@' ends the user-info.
  auto at = parseUrl("redis://u:a@b@host:1/0");
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->password, "a@b");
  EXPECT_EQ(at->host, "host");
  // A user needs a password.
  auto nopw = parseUrl("redis://vigil:@h:1/0");
  ASSERT_FALSE(nopw.ok());
  EXPECT_NE(nopw.message().find("a user needs a password"), std::string::npos) << nopw.message();
}

TEST(RedisUrl, UnixSocketWithCredentials) {
  auto u = parseUrl("unix:///run/redis.sock?db=2&user=vigil&password=x%26y");
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_TRUE(u->is_unix);
  EXPECT_EQ(u->path, "/run/redis.sock");
  EXPECT_EQ(u->db, 2);
  EXPECT_EQ(u->user, "vigil");
  EXPECT_EQ(u->password, "x&y");
  EXPECT_EQ(u->where(), "/run/redis.sock");
  EXPECT_FALSE(parseUrl("unix:///run/redis.sock?user=vigil").ok());
}

TEST(RedisUrl, ErrorsNeverHoldThePassword) {
  for (const char* bad : {"redis://:topsecret@h:bad/0", "redis://u:topsecret@h:1/x",
                          "redis://u:topsecret@[::1/0", "unix://topsecret.sock",
                          "unix:///s.sock?password=topsecret&db=x", "rediss://:topsecret@h/0"}) {
    auto u = parseUrl(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.message().find("topsecret"), std::string::npos) << u.message();
    EXPECT_NE(u.message().find("bad [redis] url"), std::string::npos) << u.message();
  }
}

TEST(RedisUrl, WhereNamesNoCredentials) {
  auto u = parseUrl("redis://vigil:topsecret@10.0.0.5:6380/0");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->where(), "10.0.0.5:6380");
}

TEST(RedisUrl, Redacts) {
  EXPECT_EQ(redactUrl("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
  EXPECT_EQ(redactUrl("redis://:s3cret@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
  EXPECT_EQ(redactUrl("redis://vigil:s3cret@h:1/2"), "redis://vigil:***@h:1/2");
  EXPECT_EQ(redactUrl("redis://s3cret@h/0"), "redis://***@h/0");
  EXPECT_EQ(redactUrl("unix:///r.sock?db=1&password=s3cret&user=u"),
            "unix:///r.sock?db=1&password=***&user=u");
  EXPECT_EQ(redactUrl("unix:///r.sock?password=a@s3cret"), "unix:///r.sock?password=***");
  // Raw '@', '/', '?' in a password: hidden whole, even when the URL is malformed.
  for (const char* url : {"redis://:ab@cd/s3cret@h:1/0", "redis://:s3cret?x@h/0",
                          "redis://u:s3cret@h:1/0?x=1@2", "redis://:s3cret@h:bad/0"}) {
    const std::string r = redactUrl(url);
    EXPECT_EQ(r.find("s3cret"), std::string::npos) << r;
    EXPECT_NE(r.find("***"), std::string::npos) << r;
  }
}

}  // namespace
}  // namespace vigil::storage::redis
