#include "ocr/title_tracker.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/coalescing_slot.h"
#include "ocr/title_finder.h"

namespace vigil::ocr {

struct TitleTracker::State {
  State(OcrPool& p, EventSink& e, std::function<void(const std::string&)> cb, TrackerOptions o,
        CoalescingSlot* shared)
      : pool(p), events(e), on_front(std::move(cb)), options(o),
        own(shared ? nullptr : std::make_unique<CoalescingSlot>()), screen(shared ? *shared : *own) {}

  OcrPool& pool;
  EventSink& events;
  std::function<void(const std::string&)> on_front;
  const TrackerOptions options;
  // Relay thread -> pass; thread-safe themselves. `own` only when no other
  // consumer keeps the screen.
  const std::unique_ptr<CoalescingSlot> own;
  CoalescingSlot& screen;

  // Guarded by mu (held only for flag updates, never during OCR).
  mutable std::mutex mu;
  std::condition_variable idle;
  bool closed = false;
  bool scheduled = false;   // a pass is queued or running
  bool running = false;
  bool again = false;       // relevant damage arrived while scheduled
  Millis first_pending = -1;  // t of the first relevant frame not yet looked at
  OcrPool::Clock::time_point last_pass{};
  std::vector<Rect> bars;   // captions seen by the last pass
  Rect changed;             // bounds of all damage since the last pass took it
  std::string front;        // accepted front title
  Stats stats;

  // Touched only by the (single) running pass.
  Frame work;  // the screen for one pass; released after it (idle sessions)
  TitleFinder finder;
  std::vector<TitleStrip> strips;  // the last pass's captions, for an incremental search
  int strips_w = 0, strips_h = 0;  // of the screen they were found on
  std::uint64_t last_hash = 0;
  std::string candidate;
  Millis candidate_t = 0;
  std::map<std::string, Millis> emitted;  // text -> last emission
};

TitleTracker::TitleTracker(OcrPool& pool, EventSink& events,
                           std::function<void(const std::string&)> on_front_title,
                           TrackerOptions options, CoalescingSlot* screen)
    : state_(std::make_shared<State>(pool, events, std::move(on_front_title), options, screen)) {}

TitleTracker::~TitleTracker() { close(); }

void TitleTracker::onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) {
  State& st = *state_;
  // Keep the pass's source current: only damaged pixels are copied.
  if (st.own) st.own->publish(fb, changed, t);
  bool relevant = false;
  {
    std::lock_guard lock(st.mu);
    if (st.closed) return;
    ++st.stats.frames;
    st.changed = st.changed.unite(changed.bounds());
    for (const Rect& r : changed.rects()) {
      if (r.w >= st.options.min_damage_width && r.h >= st.options.min_damage_height) relevant = true;
      for (const Rect& b : st.bars)
        if (!r.intersect(b).empty()) relevant = true;
      if (relevant) break;
    }
    if (!relevant) return;
    if (st.first_pending < 0) st.first_pending = t;
    if (st.scheduled) {
      st.again = true;
      st.screen.expectCopy();  // the running pass may have copied an older screen
      return;
    }
  }
  schedule(state_);
}

void TitleTracker::schedule(const std::shared_ptr<State>& sp) {
  State& st = *sp;
  OcrPool::Clock::time_point due;
  {
    std::lock_guard lock(st.mu);
    if (st.closed || st.scheduled) return;
    st.scheduled = true;
    st.again = false;
    st.screen.expectCopy();  // an idle recorder must not free it before the pass
    due = std::max(OcrPool::Clock::now(),
                   st.last_pass + std::chrono::milliseconds(st.options.min_interval_ms));
  }
  if (!st.pool.submit([sp](TitleReader* reader) { pass(sp, reader); }, due)) {
    std::lock_guard lock(st.mu);
    st.scheduled = false;  // pool closed or full: the next relevant frame retries
  }
}

void TitleTracker::pass(const std::shared_ptr<State>& sp, TitleReader* reader) {
  State& st = *sp;
  Millis seen_t;
  Rect changed;
  {
    std::lock_guard lock(st.mu);
    if (st.closed) {
      st.scheduled = false;
      st.idle.notify_all();
      return;
    }
    st.running = true;
    st.last_pass = OcrPool::Clock::now();
    seen_t = st.first_pending;
    st.first_pending = -1;
    // Damage recorded later is looked at by the next pass, even if this
    // pass's copy already shows it.
    changed = std::exchange(st.changed, Rect{});
    ++st.stats.passes;
  }
  Millis frame_t = 0;
  // (No screen: it was freed as idle after an earlier pass read it.)
  const bool have_screen = st.screen.copyLatest(st.work, frame_t);
  if (seen_t < 0) seen_t = frame_t;

  if (have_screen) {
    // Only caption tops near damaged rows are looked at again: output
    // scrolling under a caption costs a band, not the whole screen.
    const bool same_size = st.work.width() == st.strips_w && st.work.height() == st.strips_h;
    st.strips = same_size ? st.finder.update(st.work, st.strips, changed.y, changed.y + changed.h)
                          : st.finder.find(st.work);
    st.strips_w = st.work.width();
    st.strips_h = st.work.height();
  } else {
    st.strips_w = 0;  // this pass's damage is gone: search it all next time
  }
  const std::vector<TitleStrip> no_strips;
  const std::vector<TitleStrip>& strips = have_screen ? st.strips : no_strips;
  std::vector<Rect> bars;
  const TitleStrip* focused = nullptr;
  for (const TitleStrip& s : strips) {
    bars.push_back(s.bar);
    if (s.focused) focused = &s;
  }

  std::string accepted;
  Millis accepted_t = 0;
  bool emit = false, confirm = false, did_read = false;
  if (focused && reader && focused->hash != st.last_hash) {
    did_read = true;
    auto r = reader->read(st.work, focused->text);
    if (!r.ok()) {
      spdlog::debug("ocr tracker: {}", r.message());
      st.last_hash = focused->hash;  // junk stays junk until the pixels change
    } else if (r->text == st.candidate || r->confidence >= st.options.accept_confidence) {
      accepted = r->text;
      accepted_t = r->text == st.candidate ? st.candidate_t : seen_t;
      st.last_hash = focused->hash;
      st.candidate.clear();
    } else {
      // One uncertain read: look again next pass, from the same pixels.
      st.candidate = r->text;
      st.candidate_t = seen_t;
      st.last_hash = 0;
      confirm = true;
    }
  }
  if (!accepted.empty()) {
    std::lock_guard lock(st.mu);
    if (accepted == st.front) {
      accepted.clear();
    } else {
      st.front = accepted;
      const auto it = st.emitted.find(accepted);
      emit = it == st.emitted.end() || accepted_t - it->second >= st.options.reemit_after_ms;
      if (emit) {
        st.emitted[accepted] = accepted_t;
        ++st.stats.events;
      }
    }
  }
  if (!accepted.empty()) {
    if (st.on_front) st.on_front(accepted);
    if (emit) {
      spdlog::debug("ocr tracker title t={} text={}", accepted_t, accepted);
      st.events.onEvent(Event{accepted_t, EventKind::Title, accepted, {}});
    }
  }

  st.work = Frame{};  // an idle session keeps no screen copy for OCR

  bool more;
  {
    std::lock_guard lock(st.mu);
    if (have_screen) st.bars = std::move(bars);
    if (did_read) ++st.stats.reads;
    st.running = false;
    st.scheduled = false;
    if (confirm && st.first_pending < 0) st.first_pending = seen_t;
    more = !st.closed && (st.again || confirm);
    st.idle.notify_all();
  }
  if (more) schedule(sp);
}

void TitleTracker::close() {
  State& st = *state_;
  std::unique_lock lock(st.mu);
  st.closed = true;
  st.idle.wait(lock, [&] { return !st.running; });
}

std::string TitleTracker::frontTitle() const {
  std::lock_guard lock(state_->mu);
  return state_->front;
}

TitleTracker::Stats TitleTracker::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

}  // namespace vigil::ocr
