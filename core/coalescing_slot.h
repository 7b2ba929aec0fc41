// The hand-off between the relay thread and a slow worker (encoder, OCR):
// the producer never waits; when the worker falls behind, pending damage is
// merged, so the worker sees fewer frames but always the latest state.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

#include "core/event.h"
#include "core/frame.h"

namespace vigil {

class CoalescingSlot {
 public:
  // Producer: copies only the damaged pixels into the staging frame. O(damage).
  void publish(const Frame& fb, const DirtyRegion& changed, Millis t);
  // Worker: waits until there is pending damage or close(); then brings `out`
  // up to date (resized if needed), returns the part of it whose pixels
  // changed (empty if the damage repainted the same pixels; all of it after a
  // resize) and the time of the newest frame. False once closed and drained.
  bool take(Frame& out, DirtyRegion& damage, Millis& t);
  // As take(), but returns false at once if nothing is pending.
  bool tryTake(Frame& out, DirtyRegion& damage, Millis& t);
  // A whole copy of the latest published screen, for a reader that keeps no
  // copy between looks; leaves the pending damage to the worker. False if
  // nothing was published yet.
  bool copyLatest(Frame& out, Millis& t) const;
  // A reader that will call copyLatest() says so (any thread); the call
  // clears it. Until then release() keeps the screen.
  void expectCopy();
  // For idle sessions: frees the latest screen (4 MB at 1280x800) unless
  // damage is pending or a reader still expects to copy it; the next publish
  // then copies its whole frame. True when no screen is held afterwards.
  bool release();
  void close();
  // How many publishes were merged into an earlier pending one (lost frames).
  long long merged() const;

 private:
  bool takeLocked(Frame& out, DirtyRegion& damage, Millis& t);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Frame staging_;
  DirtyRegion pending_;
  Millis t_ = 0;
  bool has_pending_ = false;
  mutable bool copy_expected_ = false;
  bool closed_ = false;
  long long merged_ = 0;
};

}  // namespace vigil
