// What the gateway costs: framebuffer updates per second and input latency
// through the VncListener vs straight to the target. The target is an
// in-process libvncserver (threaded mode) that animates a square as fast as
// it can and timestamps every pointer event it receives.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "tests/gateway/vnc/animated_gateway.h"
#include "tests/testbed/testbed.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::gateway::vnc {
namespace {

using namespace std::chrono_literals;
using testbed::VncTestClient;

using testing::AnimatedTarget;
using testing::nowUs;

struct Measured {
  double updates_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  double delivered = 0;  // fraction of pointer events that reached the target
};

Measured measure(std::uint16_t port, const std::string& password, AnimatedTarget& target, int salt) {
  Measured m;
  VncTestClient::Options o;
  o.port = port;
  o.password = password;
  auto c = VncTestClient::connect(o);
  EXPECT_TRUE(c.ok()) << c.message();
  if (!c.ok()) return m;
  VncTestClient& client = **c;
  testbed::waitFor([&] { return client.updates() > 5; }, 5s);
  const auto u0 = client.updates();
  const std::int64_t t0 = nowUs();
  std::this_thread::sleep_for(2s);
  m.updates_per_s = double(client.updates() - u0) * 1e6 / double(nowUs() - t0);

  // Pointer events with distinct positions, 4 ms apart, timestamped at send.
  std::vector<std::pair<std::pair<int, int>, std::int64_t>> sent;
  for (int i = 0; i < 200; ++i) {
    const int x = (i * 3 + salt) % AnimatedTarget::kW, y = 1 + i / 100 + salt;
    sent.push_back({{x, y}, nowUs()});
    client.pointer(x, y, 0);
    std::this_thread::sleep_for(4ms);
  }
  std::vector<double> lat;
  testbed::waitFor(
      [&] {
        lat.clear();
        for (auto& [xy, t] : sent) {
          if (auto r = target.receivedAt(xy.first, xy.second)) lat.push_back(double(*r - t) / 1000.0);
        }
        return lat.size() == sent.size();
      },
      3s);
  m.delivered = double(lat.size()) / double(sent.size());
  if (lat.empty()) return m;
  std::sort(lat.begin(), lat.end());
  m.p50_ms = lat[lat.size() / 2];
  m.p99_ms = lat[std::min(lat.size() - 1, lat.size() * 99 / 100)];
  return m;
}

TEST(VncPerfTest, GatewayVersusDirect) {
  spdlog::set_level(spdlog::level::warn);
  testing::AnimatedGateway g;
  const Status started = g.start("perf");
  ASSERT_TRUE(started.ok()) << started.message();
  AnimatedTarget& target = g.target;
  testing::FakeSessionManager& sm = g.sm;

  // A shared 2-core CI machine can stall any thread for milliseconds, which
  // lands in one leg's p99 and not the other's. A real regression shows in
  // every round, noise rarely twice: measure both legs back to back, up to
  // three times, until a round is within the bounds; the last round is judged.
  // Loose bounds: a loaded 2-core machine must still pass. The gateway
  // coalesces pointer moves (same buttons) while the target leg is busy, so a
  // few may merge; most must still arrive one by one.
  constexpr double kMinRateRatio = 0.4, kMaxAddedP99Ms = 25.0, kMinDelivered = 0.9;
  const auto good = [&](const Measured& d, const Measured& v) {
    return v.updates_per_s >= kMinRateRatio * d.updates_per_s &&
           v.p99_ms - d.p99_ms <= kMaxAddedP99Ms && v.delivered >= kMinDelivered;
  };
  Measured direct, via;
  for (int round = 0; round < 3; ++round) {
    direct = measure(g.target_port, "tgtpw", target, 10 * round);
    via = measure(g.listener->port(), "GOODCODE", target, 10 * round + 5);
    std::printf("[perf] round %d updates/s: direct %.0f, via gateway %.0f\n", round,
                direct.updates_per_s, via.updates_per_s);
    std::printf("[perf] round %d pointer latency ms: direct p50 %.2f p99 %.2f; via gateway p50 %.2f "
                "p99 %.2f; delivered direct %.0f%% via %.0f%%\n",
                round, direct.p50_ms, direct.p99_ms, via.p50_ms, via.p99_ms, 100 * direct.delivered,
                100 * via.delivered);
    if (good(direct, via)) break;
  }
  RecordProperty("direct_updates_per_s", std::to_string(direct.updates_per_s));
  RecordProperty("gateway_updates_per_s", std::to_string(via.updates_per_s));
  RecordProperty("gateway_added_p99_ms", std::to_string(via.p99_ms - direct.p99_ms));
  EXPECT_GE(via.updates_per_s, kMinRateRatio * direct.updates_per_s);
  EXPECT_LE(via.p99_ms - direct.p99_ms, kMaxAddedP99Ms);
  EXPECT_GE(via.delivered, kMinDelivered) << "pointer events lost";
  ASSERT_GE(sm.count(), 1u);
  EXPECT_GT(sm.session(sm.count() - 1)->frames(), 10);
}

}  // namespace
}  // namespace vigil::gateway::vnc
