// PointerRelay and checkPointerShape against a fake client leg: what a client
// with a given pointer capability set is sent for each target update.
#include "gateway/rdp/pointer_relay.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace vigil::gateway::rdp {
namespace {

PointerShape shape(int w, int h, int bpp = 32, std::uint8_t fill = 0x40) {
  PointerShape s;
  s.width = w;
  s.height = h;
  s.hot_x = w / 2;
  s.hot_y = h / 2;
  s.xor_bpp = bpp;
  s.xor_mask.assign(pointerXorMaskBytes(w, h, bpp), fill);
  s.and_mask.assign(pointerAndMaskBytes(w, h), 0);
  return s;
}

PointerUpdate newPointer(int index, PointerShape s) {
  PointerUpdate u;
  u.kind = PointerUpdate::Kind::New;
  u.cache_index = index;
  u.shape = std::move(s);
  return u;
}

PointerUpdate cached(int index) {
  PointerUpdate u;
  u.kind = PointerUpdate::Kind::Cached;
  u.cache_index = index;
  return u;
}

PointerUpdate systemPointer(PointerUpdate::Kind k) {
  PointerUpdate u;
  u.kind = k;
  return u;
}

// Records what the client leg would send, one line per message.
class FakeSender final : public PointerSender {
 public:
  bool sendSystem(bool hidden) override { return log(hidden ? "hidden" : "default"); }
  bool sendNew(const PointerShape& s, int slot) override {
    return log("new " + std::to_string(slot) + " " + dims(s));
  }
  bool sendLarge(const PointerShape& s, int slot) override {
    return log("large " + std::to_string(slot) + " " + dims(s));
  }
  bool sendCached(int slot) override { return log("cached " + std::to_string(slot)); }
  bool sendPosition(int x, int y) override {
    return log("position " + std::to_string(x) + "," + std::to_string(y));
  }
  std::vector<std::string> take() { return std::exchange(sent_, {}); }
  bool fail = false;

 private:
  static std::string dims(const PointerShape& s) {
    return std::to_string(s.width) + "x" + std::to_string(s.height) + "@" +
           std::to_string(s.xor_bpp);
  }
  bool log(std::string line) {
    sent_.push_back(std::move(line));
    return !fail;
  }
  std::vector<std::string> sent_;
};

using Lines = std::vector<std::string>;

ClientPointerCaps mstscLike() {
  ClientPointerCaps c;
  c.fast_path = true;
  c.cache_size = 25;
  c.max_new_size = 96;
  c.large = true;
  c.max_update_bytes = 0x3F0000;
  return c;
}

TEST(PointerShape, MaskSizesFollowTheSpec) {
  // MS-RDPBCGR's examples: a 3x3 24 bpp XOR line takes 10 bytes, a 7x7 AND
  // line 2 bytes (both padded to an even count).
  EXPECT_EQ(pointerXorMaskBytes(3, 3, 24), 30u);
  EXPECT_EQ(pointerAndMaskBytes(7, 7), 14u);
  EXPECT_EQ(pointerXorMaskBytes(32, 32, 32), 4096u);
  EXPECT_EQ(pointerXorMaskBytes(17, 2, 1), 8u);  // 3 bytes → 4 per line
  EXPECT_EQ(pointerAndMaskBytes(384, 384), 48u * 384);
}

TEST(PointerShape, BoundsAreChecked) {
  EXPECT_TRUE(checkPointerShape(shape(32, 32)).ok());
  EXPECT_TRUE(checkPointerShape(shape(3, 3, 24)).ok());
  EXPECT_TRUE(checkPointerShape(shape(7, 5, 1)).ok());
  EXPECT_TRUE(checkPointerShape(shape(384, 384)).ok());
  EXPECT_FALSE(checkPointerShape(shape(385, 32)).ok());
  EXPECT_FALSE(checkPointerShape(shape(32, 385)).ok());
  EXPECT_FALSE(checkPointerShape(PointerShape{}).ok());  // 0x0
  EXPECT_FALSE(checkPointerShape(shape(32, 32, 7)).ok());

  auto hot = shape(32, 32);
  hot.hot_x = 32;
  EXPECT_FALSE(checkPointerShape(hot).ok());
  hot.hot_x = -1;
  EXPECT_FALSE(checkPointerShape(hot).ok());

  auto long_xor = shape(32, 32);
  long_xor.xor_mask.push_back(0);
  const Status st = checkPointerShape(long_xor);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("XOR mask of 4097 bytes"), std::string::npos) << st.message();
  auto short_and = shape(32, 32);
  short_and.and_mask.pop_back();
  EXPECT_FALSE(checkPointerShape(short_and).ok());
  auto no_and = shape(32, 32);
  no_and.and_mask.clear();
  EXPECT_FALSE(checkPointerShape(no_and).ok());
}

TEST(PointerRelay, ShapesGoToTheClientCacheAndAreReused) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  EXPECT_TRUE(relay.apply(newPointer(0, shape(32, 32)), &out));
  EXPECT_TRUE(relay.apply(newPointer(3, shape(24, 24, 24)), &out));
  EXPECT_TRUE(relay.apply(cached(0), &out));
  EXPECT_TRUE(relay.apply(cached(3), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 32x32@32", "new 3 24x24@24", "cached 0", "cached 3"}));
}

TEST(PointerRelay, SystemPointersAndPositionPassThrough) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  EXPECT_TRUE(relay.apply(systemPointer(PointerUpdate::Kind::Hidden), &out));
  EXPECT_TRUE(relay.apply(systemPointer(PointerUpdate::Kind::Default), &out));
  PointerUpdate pos;
  pos.kind = PointerUpdate::Kind::Position;
  pos.x = 10;
  pos.y = 20;
  EXPECT_TRUE(relay.apply(pos, &out));
  EXPECT_EQ(out.take(), (Lines{"hidden", "default", "position 10,20"}));
}

TEST(PointerRelay, SmallClientCacheGetsShapesAgain) {
  PointerRelay relay;
  FakeSender out;
  auto caps = mstscLike();
  caps.cache_size = 2;
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(32, 32)), &out));
  ASSERT_TRUE(relay.apply(newPointer(2, shape(16, 16)), &out));  // same client slot as 0
  ASSERT_TRUE(relay.apply(cached(0), &out));
  ASSERT_TRUE(relay.apply(cached(0), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 32x32@32", "new 0 16x16@32", "new 0 32x32@32", "cached 0"}));
}

TEST(PointerRelay, ClientWithoutCacheGetsTheDefaultPointer) {
  PointerRelay relay;
  FakeSender out;
  auto caps = mstscLike();
  caps.cache_size = 0;
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(32, 32)), &out));
  ASSERT_TRUE(relay.apply(cached(0), &out));
  EXPECT_EQ(out.take(), (Lines{"default", "default"}));

  caps = mstscLike();
  caps.fast_path = false;  // pointer updates need fast-path output
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(32, 32)), &out));
  ASSERT_TRUE(relay.resend(out));
  EXPECT_TRUE(out.take().empty());
}

TEST(PointerRelay, SizeDecidesNewLargeOrDefault) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.apply(newPointer(0, shape(96, 96)), &out));
  ASSERT_TRUE(relay.apply(newPointer(1, shape(97, 20)), &out));
  ASSERT_TRUE(relay.apply(newPointer(2, shape(384, 384)), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 96x96@32", "large 1 97x20@32", "large 2 384x384@32"}));

  // No 96x96 flag: 32x32 in New Pointer Updates, bigger ones as Large.
  auto caps = mstscLike();
  caps.max_new_size = 32;
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(33, 33)), &out));
  EXPECT_EQ(out.take(), (Lines{"large 0 33x33@32"}));

  // No Large Pointer support: bigger than allowed shows the default.
  caps.large = false;
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(33, 33)), &out));
  ASSERT_TRUE(relay.apply(newPointer(1, shape(32, 32)), &out));
  EXPECT_EQ(out.take(), (Lines{"default", "new 1 32x32@32"}));

  // An update bigger than the client's multifragment size is not sent.
  caps = mstscLike();
  caps.max_update_bytes = 0x10000;
  relay.reset(caps);
  ASSERT_TRUE(relay.apply(newPointer(0, shape(384, 384)), &out));
  ASSERT_TRUE(relay.apply(newPointer(1, shape(96, 96)), &out));
  EXPECT_EQ(out.take(), (Lines{"default", "new 1 96x96@32"}));
}

TEST(PointerRelay, RejectedShapesShowTheDefault) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.apply(newPointer(4, shape(32, 32)), &out));
  PointerUpdate rejected;
  rejected.kind = PointerUpdate::Kind::New;
  rejected.cache_index = 4;  // the target's replacement was out of bounds
  ASSERT_TRUE(relay.apply(rejected, &out));
  ASSERT_TRUE(relay.apply(cached(4), &out));
  // Inconsistent shapes are refused by the relay too, not only the target leg.
  auto bad = shape(32, 32);
  bad.and_mask.resize(3);
  ASSERT_TRUE(relay.apply(newPointer(5, bad), &out));
  // Slots beyond the relay's cache.
  ASSERT_TRUE(relay.apply(newPointer(PointerRelay::kSlots, shape(8, 8)), &out));
  ASSERT_TRUE(relay.apply(cached(-1), &out));
  EXPECT_EQ(out.take(),
            (Lines{"new 4 32x32@32", "default", "default", "default", "default", "default"}));
}

TEST(PointerRelay, InactiveClientGetsTheCurrentPointerOnActivation) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.apply(newPointer(0, shape(32, 32, 32, 1)), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 32x32@32"}));
  // Not showing (minimised or reactivating): slot 0 changes meanwhile.
  ASSERT_TRUE(relay.apply(newPointer(0, shape(20, 20, 32, 2)), nullptr));
  ASSERT_TRUE(relay.resend(out));
  ASSERT_TRUE(relay.apply(cached(0), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 20x20@32", "cached 0"}));

  // Reactivation empties the client's cache: the shape is sent again.
  ASSERT_TRUE(relay.apply(newPointer(7, shape(16, 16)), nullptr));
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.resend(out));
  ASSERT_TRUE(relay.apply(cached(0), &out));
  EXPECT_EQ(out.take(), (Lines{"new 7 16x16@32", "new 0 20x20@32"}));

  ASSERT_TRUE(relay.apply(systemPointer(PointerUpdate::Kind::Hidden), nullptr));
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.resend(out));
  EXPECT_EQ(out.take(), (Lines{"hidden"}));
}

TEST(PointerRelay, FailedSendIsNotTakenAsCached) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  out.fail = true;
  EXPECT_FALSE(relay.apply(newPointer(0, shape(32, 32)), &out));
  out.fail = false;
  ASSERT_TRUE(relay.apply(cached(0), &out));
  EXPECT_EQ(out.take(), (Lines{"new 0 32x32@32", "new 0 32x32@32"}));
}

TEST(PointerRelay, StoredShapesAreBounded) {
  PointerRelay relay;
  FakeSender out;
  relay.reset(mstscLike());
  for (int i = 0; i < PointerRelay::kSlots; ++i) {
    ASSERT_TRUE(relay.apply(newPointer(i, shape(384, 384)), &out));
    ASSERT_LE(relay.storedBytes(), PointerRelay::kMaxStoredBytes);
  }
  // The last three are kept (3 x 608 KiB). A dropped shape the client still
  // holds is reused from the client's cache, a dropped one it no longer holds
  // shows the default until the target sends it again.
  out.take();
  const int last = PointerRelay::kSlots - 1;  // in client slot 63 % 25 = 13
  const int held = 50;                         // dropped here, still in client slot 0
  ASSERT_TRUE(relay.apply(cached(last), &out));
  ASSERT_TRUE(relay.apply(cached(held), &out));
  ASSERT_TRUE(relay.apply(cached(0), &out));
  relay.reset(mstscLike());
  ASSERT_TRUE(relay.apply(cached(held), &out));
  ASSERT_TRUE(relay.apply(cached(last), &out));
  EXPECT_EQ(out.take(),
            (Lines{"cached 13", "cached 0", "default", "default", "large 13 384x384@32"}));
}

}  // namespace
}  // namespace vigil::gateway::rdp
