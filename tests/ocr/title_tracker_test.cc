#include "ocr/title_tracker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "tests/ocr/corpus.h"

namespace vigil::ocr {
namespace {

using namespace std::chrono_literals;
using testing::renderWindowsScreen;

class RecordingSink : public EventSink {
 public:
  void onEvent(const Event& e) override {
    std::lock_guard lock(mu_);
    events_.push_back(e);
  }
  std::vector<Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Event> events_;
};

struct Fronts {
  std::mutex mu;
  std::vector<std::string> seen;
  void operator()(const std::string& t) {
    std::lock_guard lock(mu);
    seen.push_back(t);
  }
  std::vector<std::string> get() {
    std::lock_guard lock(mu);
    return seen;
  }
};

template <class F>
bool eventually(F cond, std::chrono::milliseconds limit = 20s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

class TrackerTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pool_.waitReady().ok()); }
  OcrPool pool_{1};
  RecordingSink sink_;
  Fronts fronts_;
};

TEST_F(TrackerTest, EmitsEachNewFrontTitleOnceWithTheTimeItAppeared) {
  TitleTracker tracker(pool_, sink_, [this](const std::string& t) { fronts_(t); });
  const Frame a = renderWindowsScreen("win10-light", "Registry Editor", "Event Viewer", nullptr);
  const Frame b = renderWindowsScreen("win10-light", "payroll.xlsx - Excel", "Event Viewer", nullptr);

  tracker.onFrame(a, DirtyRegion(a.bounds()), 1000);
  ASSERT_TRUE(eventually([&] { return sink_.events().size() == 1; }));
  EXPECT_EQ(sink_.events()[0].text, "Registry Editor");
  EXPECT_EQ(sink_.events()[0].kind, EventKind::Title);
  EXPECT_EQ(sink_.events()[0].t_ms, 1000);
  EXPECT_EQ(tracker.frontTitle(), "Registry Editor");

  // Unchanged pixels bring no damage; a small change elsewhere runs no pass.
  tracker.onFrame(a, DirtyRegion(Rect{500, 400, 8, 16}), 1500);
  tracker.onFrame(b, DirtyRegion(b.bounds()), 2500);
  ASSERT_TRUE(eventually([&] { return sink_.events().size() == 2; }));
  EXPECT_EQ(sink_.events()[1].text, "payroll.xlsx - Excel");
  EXPECT_EQ(sink_.events()[1].t_ms, 2500);

  // Back to the first window right away: front title follows, but the
  // title was emitted seconds ago, so no duplicate event.
  tracker.onFrame(a, DirtyRegion(a.bounds()), 4000);
  ASSERT_TRUE(eventually([&] { return tracker.frontTitle() == "Registry Editor"; }));
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(sink_.events().size(), 2u);
  const auto fronts = fronts_.get();
  ASSERT_EQ(fronts.size(), 3u);
  EXPECT_EQ(fronts[2], "Registry Editor");
}

TEST_F(TrackerTest, ReadsTheScreenFromAnotherConsumersCopy) {
  // In a session the recorder keeps the screen; the tracker only looks.
  CoalescingSlot recorder_screen;
  TitleTracker tracker(pool_, sink_, nullptr, TrackerOptions{}, &recorder_screen);
  const Frame a = renderWindowsScreen("win10-light", "Task Scheduler", "Event Viewer", nullptr);
  recorder_screen.publish(a, DirtyRegion(a.bounds()), 700);
  tracker.onFrame(a, DirtyRegion(a.bounds()), 700);
  ASSERT_TRUE(eventually([&] { return sink_.events().size() == 1; }));
  EXPECT_EQ(sink_.events()[0].text, "Task Scheduler");
  EXPECT_EQ(sink_.events()[0].t_ms, 700);
  // The recorder's worker still finds its damage pending.
  Frame work;
  DirtyRegion d;
  Millis t = 0;
  EXPECT_TRUE(recorder_screen.tryTake(work, d, t));
}

TEST_F(TrackerTest, SmallDamageAwayFromCaptionsRunsNoPass) {
  TitleTracker tracker(pool_, sink_, nullptr);
  const Frame a = renderWindowsScreen("win10-dark", "Registry Editor", "Event Viewer", nullptr);
  tracker.onFrame(a, DirtyRegion(a.bounds()), 0);
  ASSERT_TRUE(eventually([&] { return sink_.events().size() == 1; }));
  const long long passes = tracker.stats().passes;
  // A blinking cursor in the client area.
  for (int i = 0; i < 20; ++i) tracker.onFrame(a, DirtyRegion(Rect{200, 400, 8, 16}), 100 + i * 50);
  std::this_thread::sleep_for(800ms);
  EXPECT_EQ(tracker.stats().passes, passes);
  EXPECT_EQ(tracker.stats().frames, 21);
}

TEST_F(TrackerTest, AtMostOnePassPerIntervalUnderABurstOfDamage) {
  TitleTracker tracker(pool_, sink_, nullptr);
  const Frame a = renderWindowsScreen("win11-light", "Server Manager", "Event Viewer", nullptr);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) {
    tracker.onFrame(a, DirtyRegion(a.bounds()), i * 5);
    std::this_thread::sleep_for(5ms);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(eventually([&] { return sink_.events().size() == 1; }));
  // One pass right away, then at most one per 500 ms (plus one trailing).
  EXPECT_LE(tracker.stats().passes, 2 + static_cast<long long>(secs / 0.5));
  EXPECT_EQ(sink_.events()[0].text, "Server Manager");
}

TEST_F(TrackerTest, CloseStopsCallbacksAndLaterFramesAreIgnored) {
  auto tracker = std::make_unique<TitleTracker>(pool_, sink_, nullptr);
  const Frame a = renderWindowsScreen("win10-accent", "Registry Editor", "Event Viewer", nullptr);
  tracker->onFrame(a, DirtyRegion(a.bounds()), 0);
  tracker->close();
  const auto after_close = sink_.events().size();
  tracker->onFrame(a, DirtyRegion(a.bounds()), 10);
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(sink_.events().size(), after_close);
  tracker.reset();  // destruction after close is fine, with work possibly queued
}

TEST(OcrPool, RunsDelayedJobsInOrderAndRefusesAfterClose) {
  OcrPool pool(1);
  ASSERT_TRUE(pool.waitReady().ok());
  std::mutex mu;
  std::vector<int> order;
  const auto now = OcrPool::Clock::now();
  ASSERT_TRUE(pool.submit([&](TitleReader*) { std::lock_guard l(mu); order.push_back(2); },
                          now + 200ms));
  ASSERT_TRUE(pool.submit([&](TitleReader* r) {
    std::lock_guard l(mu);
    order.push_back(r ? 1 : -1);
  }));
  ASSERT_TRUE(eventually([&] { std::lock_guard l(mu); return order.size() == 2; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  pool.close();
  EXPECT_FALSE(pool.submit([](TitleReader*) {}));
}

}  // namespace
}  // namespace vigil::ocr
