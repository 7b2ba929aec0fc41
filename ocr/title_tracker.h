// Watches one session's frames for the title of the window in front and
// turns changes into `title` events. An observer: onFrame() only copies the
// damaged pixels and, at most every 500 ms, hands a pass to the shared
// OcrPool; finding captions and OCR run on the pool's threads.
//
// Policy (see docs/ocr.md):
// - a pass runs only after damage that could hold a caption (a rectangle at
//   least 60x10, or any damage touching a caption seen before), and looks
//   for captions again only near the rows damaged since the last pass;
// - the front caption is re-read only when its pixels' hash changes;
// - a title is accepted when read twice in a row, or once with confidence
//   >= accept_confidence; low-confidence reads are never accepted;
// - accepting a title different from the current front one calls
//   on_front_title and emits Event{t_ms, Title, text}, where t_ms is the time
//   of the first frame whose damage led to the read that first saw it —
//   unless the same text was emitted less than reemit_after_ms before
//   (Alt+Tab between two windows does not flood the index).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/coalescing_slot.h"
#include "core/event.h"
#include "core/sinks.h"
#include "ocr/ocr_pool.h"

namespace vigil::ocr {

struct TrackerOptions {
  Millis min_interval_ms = 500;     // at most one pass per this, per session
  float accept_confidence = 88.0f;  // accept at first sight at or above
  Millis reemit_after_ms = 30000;   // same title again sooner: no new event
  int min_damage_width = 60;        // smaller damage cannot draw a new caption
  int min_damage_height = 10;
};

class TitleTracker final : public FrameSink {
 public:
  struct Stats {
    long long frames = 0;  // onFrame calls
    long long passes = 0;  // caption searches run
    long long reads = 0;   // OCR calls
    long long events = 0;  // title events emitted
  };

  // `pool` must outlive this tracker. `events` and `on_front_title` are
  // called on a pool thread (never two at once for one tracker) until
  // close() returns; both must be thread-safe with respect to the caller's
  // other threads and must not block for long.
  // `screen`: where a pass copies the screen from, if another consumer of the
  // same frames already keeps it (the session's recorder); it must outlive
  // close() and have each frame published before that frame's onFrame().
  // Without it the tracker keeps its own copy.
  TitleTracker(OcrPool& pool, EventSink& events,
               std::function<void(const std::string&)> on_front_title,
               TrackerOptions options = {}, CoalescingSlot* screen = nullptr);
  ~TitleTracker() override;  // close()
  TitleTracker(const TitleTracker&) = delete;
  TitleTracker& operator=(const TitleTracker&) = delete;

  // The session's target-leg thread. O(damaged pixels); never waits for OCR.
  void onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) override;

  // Waits for a running pass to finish; afterwards no callback is made and
  // onFrame() is a no-op. Any thread; idempotent.
  void close();

  // Thread-safe.
  std::string frontTitle() const;
  Stats stats() const;

 private:
  struct State;
  static void pass(const std::shared_ptr<State>& st, TitleReader* reader);
  static void schedule(const std::shared_ptr<State>& st);
  std::shared_ptr<State> state_;
};

}  // namespace vigil::ocr
