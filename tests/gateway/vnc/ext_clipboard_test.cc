// The Extended Clipboard messages the target leg writes and reads.
#include "gateway/vnc/ext_clipboard.h"

#include <gtest/gtest.h>

namespace vigil::gateway::vnc::extclip {
namespace {

const std::string kSample = "h\xC3\xA9llo \xE2\x82\xACuro \xE2\x9C\x93";  // héllo €uro ✓

// A message's payload: what follows the 8-byte header, whose length is -payload.
std::string payloadOf(const std::string& msg) {
  EXPECT_GE(msg.size(), 8u);
  EXPECT_EQ(msg[0], 6) << "ClientCutText";
  std::uint32_t len = 0;
  for (int i = 4; i < 8; ++i) len = len << 8 | static_cast<unsigned char>(msg[i]);
  EXPECT_EQ(static_cast<std::int32_t>(len), -static_cast<std::int32_t>(msg.size() - 8));
  return msg.substr(8);
}

TEST(ExtClipboard, ProvideRoundTripsUnicodeWithNewlines) {
  auto m = parse(payloadOf(provideMessage(kSample + "\nline two")), 1 << 20);
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ(m->flags, kProvide | kText);
  ASSERT_TRUE(m->has_text);
  EXPECT_EQ(m->text, kSample + "\nline two");
}

TEST(ExtClipboard, LongTextIsCutOnACharacterBoundary) {
  auto m = parse(payloadOf(provideMessage(kSample)), 9);  // "héllo €" is 10 bytes
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->text, "h\xC3\xA9llo ");
}

TEST(ExtClipboard, CapsAndActionsCarryTheirFlags) {
  auto caps = parse(payloadOf(capsMessage(kActions, 4096)), 100);
  ASSERT_TRUE(caps.ok());
  EXPECT_EQ(caps->flags, kCaps | kActions | kText);
  EXPECT_FALSE(caps->has_text);
  auto notify = parse(payloadOf(actionMessage(kNotify | kText)), 100);
  ASSERT_TRUE(notify.ok());
  EXPECT_EQ(notify->flags, kNotify | kText);
}

TEST(ExtClipboard, HostileDataIsRefusedOrCleaned) {
  EXPECT_FALSE(parse("ab", 100).ok());
  std::string bad = payloadOf(provideMessage(kSample));
  bad.resize(10);  // zlib stream cut short: no text length
  EXPECT_FALSE(parse(bad, 100).ok());
  EXPECT_EQ(cleanUtf8("a\xFF" "b\xC3"), "a?b?");
  EXPECT_EQ(cleanUtf8(std::string("x\r\ny\0\0", 6)), "x\ny");
}

TEST(ExtClipboard, Latin1ConversionKeepsWhatFitsAndMarksTheRest) {
  EXPECT_EQ(utf8ToLatin1(kSample), "h\xE9llo ?uro ?");
  EXPECT_EQ(latin1ToUtf8("h\xE9llo"), "h\xC3\xA9llo");
}

}  // namespace
}  // namespace vigil::gateway::vnc::extclip
