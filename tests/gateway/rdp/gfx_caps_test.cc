// Which RDPGFX capability set the gateway confirms, and whether it sends
// AVC420 in it, for what real clients advertise (xfreerdp 2.11's sets are
// 8.0, 8.1 and 10.0-10.7; with /gfx:avc420 its 10.x sets carry AVC_DISABLED).
#include <gtest/gtest.h>

#include <vector>

#include "gateway/rdp/gfx_encoder.h"

namespace vigil::gateway::rdp {
namespace {

std::vector<RDPGFX_CAPSET> xfreerdpSets(bool h264) {
  // As FreeRDP 2.11's client advertises them.
  const UINT32 avc81 = h264 ? RDPGFX_CAPS_FLAG_AVC420_ENABLED : 0;
  const UINT32 avc10 = RDPGFX_CAPS_FLAG_AVC_DISABLED;  // "no AVC444" to FreeRDP 2.11's client
  // 10.1 has no flags: FreeRDP sends it with 0 whatever it asked for.
  return {{RDPGFX_CAPVERSION_8, 4, 0},      {RDPGFX_CAPVERSION_81, 4, avc81},
          {RDPGFX_CAPVERSION_10, 4, avc10}, {RDPGFX_CAPVERSION_101, 16, 0},
          {RDPGFX_CAPVERSION_107, 4, avc10}};
}

TEST(GfxCaps, AvcDisabledOnTenMeansEightOneWithAvc420) {
  const auto sets = xfreerdpSets(true);
  const auto c = chooseGfxCaps(sets.data(), sets.size(), true);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->caps.version, static_cast<UINT32>(RDPGFX_CAPVERSION_81));
  EXPECT_TRUE(c->avc420) << "8.1 allows AVC420 where the client disabled AVC in its 10.x sets";
  // Without H.264 asked for (/gfx, /gfx:rfx), the highest version, AVC off:
  // 10.1's missing flags do not override the AVC_DISABLED of the others.
  const auto plain = xfreerdpSets(false);
  const auto p = chooseGfxCaps(plain.data(), plain.size(), true);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->caps.version, static_cast<UINT32>(RDPGFX_CAPVERSION_107));
  EXPECT_FALSE(p->avc420);
  // A client that allows AVC in 10.x gets it there.
  std::vector<RDPGFX_CAPSET> open = {{RDPGFX_CAPVERSION_81, 4, RDPGFX_CAPS_FLAG_AVC420_ENABLED},
                                     {RDPGFX_CAPVERSION_106, 4, 0}};
  const auto o = chooseGfxCaps(open.data(), open.size(), true);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->caps.version, static_cast<UINT32>(RDPGFX_CAPVERSION_106));
  EXPECT_TRUE(o->avc420);
  EXPECT_EQ(o->caps.flags & RDPGFX_CAPS_FLAG_AVC_DISABLED, 0u);
  // 10.1 alone (no flags to refuse with) allows AVC.
  std::vector<RDPGFX_CAPSET> ten1 = {{RDPGFX_CAPVERSION_101, 16, 0}};
  const auto t = chooseGfxCaps(ten1.data(), ten1.size(), true);
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->avc420);
}

TEST(GfxCaps, EightOneWithAvc420IsChosenWhenItIsTheBestWithAvc) {
  std::vector<RDPGFX_CAPSET> sets = {{RDPGFX_CAPVERSION_8, 4, 0},
                                     {RDPGFX_CAPVERSION_81, 4, RDPGFX_CAPS_FLAG_AVC420_ENABLED}};
  const auto c = chooseGfxCaps(sets.data(), sets.size(), true);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->caps.version, static_cast<UINT32>(RDPGFX_CAPVERSION_81));
  EXPECT_TRUE(c->avc420);
  EXPECT_NE(c->caps.flags & RDPGFX_CAPS_FLAG_AVC420_ENABLED, 0u);
}

TEST(GfxCaps, WithoutAnEncoderAvcIsSwitchedOffInTheConfirm) {
  std::vector<RDPGFX_CAPSET> sets = {{RDPGFX_CAPVERSION_81, 4, RDPGFX_CAPS_FLAG_AVC420_ENABLED}};
  auto c = chooseGfxCaps(sets.data(), sets.size(), false);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->avc420);
  EXPECT_EQ(c->caps.flags & RDPGFX_CAPS_FLAG_AVC420_ENABLED, 0u);
  std::vector<RDPGFX_CAPSET> ten = {{RDPGFX_CAPVERSION_104, 4, 0}};
  c = chooseGfxCaps(ten.data(), ten.size(), false);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->avc420);
  EXPECT_NE(c->caps.flags & RDPGFX_CAPS_FLAG_AVC_DISABLED, 0u);
}

TEST(GfxCaps, EightZeroHasNoAvcAndUnknownVersionsAreRefused) {
  std::vector<RDPGFX_CAPSET> eight = {{RDPGFX_CAPVERSION_8, 4, 0}};
  const auto c = chooseGfxCaps(eight.data(), eight.size(), true);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->avc420);
  std::vector<RDPGFX_CAPSET> unknown = {{0x00FF0000, 4, 0}};
  EXPECT_FALSE(chooseGfxCaps(unknown.data(), unknown.size(), true).has_value());
  EXPECT_FALSE(chooseGfxCaps(nullptr, 3, true).has_value());
}

}  // namespace
}  // namespace vigil::gateway::rdp
