#include "core/coalescing_slot.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace vigil {
namespace {

TEST(CoalescingSlot, TryTakeOnEmptyIsFalse) {
  CoalescingSlot slot;
  Frame out;
  DirtyRegion d;
  Millis t = -1;
  EXPECT_FALSE(slot.tryTake(out, d, t));
}

TEST(CoalescingSlot, FirstTakeCarriesTheWholeFrame) {
  CoalescingSlot slot;
  Frame fb(16, 8);
  fb.fill(fb.bounds(), 0x123456);
  slot.publish(fb, DirtyRegion(Rect{0, 0, 2, 2}), 40);
  Frame out;
  DirtyRegion d;
  Millis t = 0;
  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_EQ(t, 40);
  EXPECT_EQ(out.width(), 16);
  EXPECT_EQ(out.height(), 8);
  EXPECT_EQ(d.bounds(), fb.bounds());  // a new size: everything is new
  EXPECT_EQ(out.pixel(15, 7), 0x123456u);
  EXPECT_FALSE(slot.tryTake(out, d, t));
}

TEST(CoalescingSlot, MergesPendingDamageAndKeepsTheLatestPixels) {
  CoalescingSlot slot;
  Frame fb(10, 10), out;
  DirtyRegion d;
  Millis t = 0;
  slot.publish(fb, DirtyRegion(fb.bounds()), 1);
  ASSERT_TRUE(slot.tryTake(out, d, t));

  fb.setPixel(1, 1, 0xaa0000);
  slot.publish(fb, DirtyRegion(Rect{1, 1, 1, 1}), 2);
  fb.setPixel(1, 1, 0xbb0000);
  fb.setPixel(8, 8, 0x00cc00);
  DirtyRegion second(Rect{1, 1, 1, 1});
  second.add(Rect{8, 8, 1, 1});
  slot.publish(fb, second, 3);
  fb.setPixel(5, 5, 0x0000dd);  // changed but never published: must not appear
  EXPECT_EQ(slot.merged(), 1);

  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_EQ(t, 3);
  EXPECT_EQ(out.pixel(1, 1), 0xbb0000u);
  EXPECT_EQ(out.pixel(8, 8), 0x00cc00u);
  EXPECT_EQ(out.pixel(5, 5), 0u);
  EXPECT_EQ(d.rects().size(), 2u);
  EXPECT_EQ(d.bounds(), (Rect{1, 1, 8, 8}));
}

TEST(CoalescingSlot, ResizeResendsEverything) {
  CoalescingSlot slot;
  Frame fb(4, 4), out;
  DirtyRegion d;
  Millis t = 0;
  slot.publish(fb, DirtyRegion(fb.bounds()), 1);
  ASSERT_TRUE(slot.take(out, d, t));
  fb.resize(6, 3);
  fb.fill(fb.bounds(), 0x010203);
  slot.publish(fb, DirtyRegion(Rect{0, 0, 1, 1}), 2);
  ASSERT_TRUE(slot.take(out, d, t));
  EXPECT_EQ(out.width(), 6);
  EXPECT_EQ(out.height(), 3);
  EXPECT_EQ(d.bounds(), (Rect{0, 0, 6, 3}));
  EXPECT_EQ(out.pixel(5, 2), 0x010203u);
}

TEST(CoalescingSlot, DamageIsClippedToTheFrame) {
  CoalescingSlot slot;
  Frame fb(4, 4), out;
  DirtyRegion d;
  Millis t = 0;
  slot.publish(fb, DirtyRegion(fb.bounds()), 1);
  ASSERT_TRUE(slot.take(out, d, t));
  fb.fill(fb.bounds(), 0xffffff);
  slot.publish(fb, DirtyRegion(Rect{2, 2, 100, 100}), 2);
  ASSERT_TRUE(slot.take(out, d, t));
  EXPECT_EQ(d.bounds(), (Rect{2, 2, 2, 2}));
}

TEST(CoalescingSlot, ReportsOnlyRowsWhosePixelsChanged) {
  CoalescingSlot slot;
  Frame fb(8, 8), out;
  DirtyRegion d;
  Millis t = 0;
  slot.publish(fb, DirtyRegion(fb.bounds()), 1);
  ASSERT_TRUE(slot.take(out, d, t));

  slot.publish(fb, DirtyRegion(fb.bounds()), 2);  // a repaint of the same pixels
  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(t, 2);

  fb.setPixel(3, 5, 0x0000ff);
  fb.setPixel(6, 2, 0x00ff00);
  slot.publish(fb, DirtyRegion(Rect{0, 1, 8, 6}), 3);
  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_EQ(d.bounds(), (Rect{0, 2, 8, 4}));  // rows 2..5 of the damaged columns
  EXPECT_EQ(out.pixel(3, 5), 0x0000ffu);
  EXPECT_EQ(out.pixel(6, 2), 0x00ff00u);
}

TEST(CoalescingSlot, CopyLatestIsTheWholeScreenAndLeavesTheDamage) {
  CoalescingSlot slot;
  Frame out;
  Millis t = 0;
  EXPECT_FALSE(slot.copyLatest(out, t));
  Frame fb(6, 4);
  fb.fill(fb.bounds(), 0x102030);
  slot.publish(fb, DirtyRegion(fb.bounds()), 7);
  fb.setPixel(5, 3, 0xabcdef);
  slot.publish(fb, DirtyRegion(Rect{5, 3, 1, 1}), 9);
  ASSERT_TRUE(slot.copyLatest(out, t));
  EXPECT_EQ(t, 9);
  EXPECT_EQ(out.pixel(0, 0), 0x102030u);
  EXPECT_EQ(out.pixel(5, 3), 0xabcdefu);
  Frame worker;
  DirtyRegion d;
  ASSERT_TRUE(slot.tryTake(worker, d, t));  // still pending for the worker
  EXPECT_EQ(d.bounds(), (Rect{0, 0, 6, 4}));
}

// An idle session frees the slot's screen, but not before damage is taken
// or while a reader still expects to copy it; after that the next publish,
// however small its damage, brings the whole screen back.
TEST(CoalescingSlot, ReleaseWaitsForTheWorkerAndTheReader) {
  CoalescingSlot slot;
  Frame fb(16, 8), out, copy;
  fb.fill(fb.bounds(), 0x112233);
  DirtyRegion d;
  Millis t = 0;
  slot.publish(fb, DirtyRegion(fb.bounds()), 10);
  slot.expectCopy();
  EXPECT_FALSE(slot.release());  // damage pending
  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_FALSE(slot.release());  // the reader has not copied it yet
  ASSERT_TRUE(slot.copyLatest(copy, t));
  EXPECT_TRUE(slot.release());
  EXPECT_FALSE(slot.copyLatest(copy, t));  // nothing held

  fb.fill(Rect{0, 0, 1, 1}, 0x445566);
  slot.publish(fb, DirtyRegion(Rect{0, 0, 1, 1}), 20);
  ASSERT_TRUE(slot.copyLatest(copy, t));
  EXPECT_EQ(t, 20);
  EXPECT_EQ(copy.pixel(0, 0), 0x445566u);
  EXPECT_EQ(copy.pixel(15, 7), 0x112233u);  // not only the damaged pixel
  ASSERT_TRUE(slot.tryTake(out, d, t));
  EXPECT_EQ(out.pixel(0, 0), 0x445566u);
  EXPECT_EQ(out.pixel(15, 7), 0x112233u);
}

TEST(CoalescingSlot, TakeWaitsForPublishAndCloseEndsIt) {
  CoalescingSlot slot;
  std::atomic<int> taken{0};
  std::atomic<Millis> last{0};
  std::thread worker([&] {
    Frame out;
    DirtyRegion d;
    Millis t = 0;
    while (slot.take(out, d, t)) {
      ++taken;
      last = t;
    }
  });
  Frame fb(32, 32);
  for (Millis i = 1; i <= 200; ++i) {
    fb.setPixel(static_cast<int>(i % 32), 0, static_cast<std::uint32_t>(i));
    slot.publish(fb, DirtyRegion(Rect{static_cast<int>(i % 32), 0, 1, 1}), i);
  }
  // Drained before close takes effect: the worker sees the final state.
  for (int i = 0; i < 2000 && last.load() != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  slot.close();
  worker.join();
  EXPECT_EQ(last.load(), 200);
  EXPECT_GE(taken.load(), 1);
  EXPECT_EQ(taken.load() + slot.merged(), 200);
  // Publishing after close is a no-op; take returns false.
  slot.publish(fb, DirtyRegion(fb.bounds()), 300);
  Frame out;
  DirtyRegion d;
  Millis t = 0;
  EXPECT_FALSE(slot.take(out, d, t));
}

}  // namespace
}  // namespace vigil
