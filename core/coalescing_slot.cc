#include "core/coalescing_slot.h"

namespace vigil {

void CoalescingSlot::publish(const Frame& fb, const DirtyRegion& changed, Millis t) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  DirtyRegion damage = changed;
  if (staging_.width() != fb.width() || staging_.height() != fb.height()) {
    staging_.resize(fb.width(), fb.height());
    pending_.clear();
    damage = DirtyRegion(fb.bounds());  // a new size: everything is new
  }
  damage.clipTo(fb.width(), fb.height());
  for (const Rect& r : damage.rects()) staging_.copyRect(fb, r);
  if (has_pending_) ++merged_;
  pending_.add(damage);
  t_ = t;
  has_pending_ = true;
  cv_.notify_one();
}

bool CoalescingSlot::takeLocked(Frame& out, DirtyRegion& damage, Millis& t) {
  if (out.width() != staging_.width() || out.height() != staging_.height()) {
    out.resize(staging_.width(), staging_.height());
    pending_ = DirtyRegion(staging_.bounds());
  }
  for (const Rect& r : pending_.rects()) out.copyRect(staging_, r);
  damage = pending_;
  t = t_;
  pending_.clear();
  has_pending_ = false;
  return true;
}

bool CoalescingSlot::take(Frame& out, DirtyRegion& damage, Millis& t) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return has_pending_ || closed_; });
  if (!has_pending_) return false;
  return takeLocked(out, damage, t);
}

bool CoalescingSlot::tryTake(Frame& out, DirtyRegion& damage, Millis& t) {
  std::lock_guard lock(mu_);
  if (!has_pending_) return false;
  return takeLocked(out, damage, t);
}

void CoalescingSlot::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

long long CoalescingSlot::merged() const {
  std::lock_guard lock(mu_);
  return merged_;
}

}  // namespace vigil
