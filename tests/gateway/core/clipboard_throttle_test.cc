#include "gateway/clipboard_throttle.h"

#include <gtest/gtest.h>

namespace vigil::gateway {
namespace {

ClipboardInput clip(const std::string& text, Direction d = Direction::ClientToServer) {
  return ClipboardInput{text, d};
}

TEST(ClipboardThrottle, TheSameTextAnnouncedAgainIsOneChange) {
  ClipboardThrottle t;
  EXPECT_TRUE(t.offer(clip("secret"), 0));
  EXPECT_FALSE(t.offer(clip("secret"), 100));
  EXPECT_FALSE(t.offer(clip("secret"), 1500));
  EXPECT_TRUE(t.offer(clip("secret", Direction::ServerToClient), 1600)) << "the other direction";
  EXPECT_TRUE(t.offer(clip("other"), 1700));
  EXPECT_TRUE(t.offer(clip("secret"), 1800)) << "a change back is a change";
}

TEST(ClipboardThrottle, AFloodRecordsABurstThenTheNewestWithItsCount) {
  ClipboardThrottle t({.burst = 5, .refill = 2000, .same_text = 2000});
  int recorded = 0;
  for (int i = 0; i < 1000; ++i)
    if (t.offer(clip("flood " + std::to_string(i)), i)) ++recorded;
  EXPECT_EQ(recorded, 5);
  EXPECT_TRUE(t.due(1500).empty()) << "no token yet";
  auto due = t.due(2005);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].clip.text, "flood 999") << "the newest text is kept";
  EXPECT_EQ(due[0].coalesced, 994);
  EXPECT_TRUE(t.due(2010).empty());
}

TEST(ClipboardThrottle, DrainGivesWhatIsHeldWhateverTheRate) {
  ClipboardThrottle t({.burst = 1, .refill = 60'000, .same_text = 0});
  EXPECT_TRUE(t.offer(clip("a"), 0));
  EXPECT_FALSE(t.offer(clip("b"), 1));
  EXPECT_FALSE(t.offer(clip("c"), 2));
  auto held = t.drain();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].clip.text, "c");
  EXPECT_EQ(held[0].coalesced, 1);
  EXPECT_TRUE(t.drain().empty());
}

TEST(ClipboardThrottle, DirectionsHaveTheirOwnRate) {
  ClipboardThrottle t({.burst = 1, .refill = 1000, .same_text = 0});
  EXPECT_TRUE(t.offer(clip("a"), 0));
  EXPECT_FALSE(t.offer(clip("b"), 1));
  EXPECT_TRUE(t.offer(clip("c", Direction::ServerToClient), 2));
}

}  // namespace
}  // namespace vigil::gateway
