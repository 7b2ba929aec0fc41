#include "gateway/api/http_util.h"

#include <gtest/gtest.h>

namespace vigil::gateway::api {
namespace {

TEST(HttpUtil, PercentDecodeRejectsBadEscapesNulAndBadUtf8) {
  EXPECT_EQ(percentDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");
  EXPECT_FALSE(percentDecode("%zz", true));
  EXPECT_FALSE(percentDecode("%2", true));
  EXPECT_FALSE(percentDecode("a%00b", true));
  EXPECT_FALSE(percentDecode("%C3%28", true));
  EXPECT_EQ(percentDecode("%C3%A9", true), "\xC3\xA9");
}

TEST(HttpUtil, Utf8) {
  EXPECT_TRUE(isValidUtf8("plain ascii"));
  EXPECT_TRUE(isValidUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xE2\x82"));          // truncated
  EXPECT_FALSE(isValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

TEST(HttpUtil, Query) {
  auto q = parseQuery("a=1&b=x%20y&&c=");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("a"), "1");
  EXPECT_EQ(q->at("b"), "x y");
  EXPECT_EQ(q->at("c"), "");
  EXPECT_FALSE(parseQuery("a=1&a=2"));
  EXPECT_FALSE(parseQuery("=1"));
  std::string many;
  for (int i = 0; i < 40; ++i) many += "k" + std::to_string(i) + "=1&";
  EXPECT_FALSE(parseQuery(many));
}

TEST(HttpUtil, Ids) {
  EXPECT_TRUE(isValidId("20261122-abc_DEF"));
  EXPECT_FALSE(isValidId(""));
  EXPECT_FALSE(isValidId(".."));
  EXPECT_FALSE(isValidId("a/b"));
  EXPECT_FALSE(isValidId(std::string(65, 'a')));
}

TEST(HttpUtil, Ranges) {
  ByteRange r;
  EXPECT_EQ(parseRange("bytes=0-9", 100, r), RangeResult::Ok);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 9u);
  EXPECT_EQ(parseRange("bytes=90-", 100, r), RangeResult::Ok);
  EXPECT_EQ(r.length(), 10u);
  EXPECT_EQ(parseRange("bytes=-10", 100, r), RangeResult::Ok);
  EXPECT_EQ(r.first, 90u);
  EXPECT_EQ(parseRange("bytes=-1000", 100, r), RangeResult::Ok);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(parseRange("bytes=50-1000", 100, r), RangeResult::Ok);
  EXPECT_EQ(r.last, 99u);
  EXPECT_EQ(parseRange("bytes=100-", 100, r), RangeResult::Unsatisfiable);
  EXPECT_EQ(parseRange("bytes=-0", 100, r), RangeResult::Unsatisfiable);
  EXPECT_EQ(parseRange("bytes=0-", 0, r), RangeResult::Unsatisfiable);
  EXPECT_EQ(parseRange("bytes=9-1", 100, r), RangeResult::None);
  EXPECT_EQ(parseRange("bytes=0-1,3-4", 100, r), RangeResult::None);
  EXPECT_EQ(parseRange("items=0-1", 100, r), RangeResult::None);
  EXPECT_EQ(parseRange("bytes=99999999999999999999-", 100, r), RangeResult::None);
  EXPECT_EQ(parseRange("bytes=+1-2", 100, r), RangeResult::None);
}

TEST(HttpUtil, BasicAndCookies) {
  auto b = parseBasicAuth("Basic dXNlcjpwYTpzcw==");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->first, "user");
  EXPECT_EQ(b->second, "pa:ss");
  EXPECT_FALSE(parseBasicAuth("Basic Og=="));  // ":" — no user
  EXPECT_FALSE(parseBasicAuth("Bearer abc"));
  EXPECT_FALSE(parseBasicAuth("Basic @@@"));
  EXPECT_EQ(cookieValue("a=1; vigil_session=xyz; b=2", "vigil_session"), "xyz");
  EXPECT_FALSE(cookieValue("a=1", "vigil_session"));
}

TEST(HttpUtil, SplitPath) {
  auto p = splitPath("/api/sessions/x");
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[2], "x");
  EXPECT_EQ(splitPath("//a").size(), 2u);
}

}  // namespace
}  // namespace vigil::gateway::api
