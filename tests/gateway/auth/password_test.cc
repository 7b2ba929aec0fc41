#include "gateway/auth/password.h"

#include <gtest/gtest.h>

namespace vigil::gateway::auth {
namespace {

TEST(Password, HashVerifyRoundTrip) {
  auto hash = hashPassword("correct horse battery staple");
  ASSERT_TRUE(hash.ok()) << hash.message();
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_TRUE(verifyPassword(*hash, "correct horse battery staple"));
}

TEST(Password, WrongPasswordFails) {
  auto hash = hashPassword("s3cret");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(verifyPassword(*hash, "s3cret "));
  EXPECT_FALSE(verifyPassword(*hash, "S3cret"));
  EXPECT_FALSE(verifyPassword(*hash, ""));
}

TEST(Password, SaltedSoHashesDiffer) {
  auto a = hashPassword("same"), b = hashPassword("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verifyPassword(*a, "same"));
  EXPECT_TRUE(verifyPassword(*b, "same"));
}

TEST(Password, MalformedHashIsFalseNotCrash) {
  EXPECT_FALSE(verifyPassword("", "x"));
  EXPECT_FALSE(verifyPassword("$argon2id$...", "x"));
  EXPECT_FALSE(verifyPassword(std::string(500, 'a'), "x"));
  EXPECT_FALSE(verifyPassword(std::string("$argon2id$\0x", 12), "x"));
}

TEST(Password, RejectsEmptyAndHuge) {
  auto empty = hashPassword("");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.message().find("empty"), std::string::npos);
  EXPECT_FALSE(hashPassword(std::string(5000, 'x')).ok());
}

}  // namespace
}  // namespace vigil::gateway::auth
