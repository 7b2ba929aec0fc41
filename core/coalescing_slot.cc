#include "core/coalescing_slot.h"

#include <cstring>

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
  damage.clear();
  if (out.width() != staging_.width() || out.height() != staging_.height()) {
    out.resize(staging_.width(), staging_.height());
    out.copyRect(staging_, staging_.bounds());
    damage.add(staging_.bounds());
  } else {
    for (const Rect& r : pending_.rects()) {
      // Clients and targets often repaint what did not change: report only
      // the rows that differ, so the worker skips the rest.
      int first = -1, last = -1;
      const std::size_t off = static_cast<std::size_t>(r.x) * Frame::kBytesPerPixel;
      const std::size_t bytes = static_cast<std::size_t>(r.w) * Frame::kBytesPerPixel;
      for (int y = r.y; y < r.y + r.h; ++y) {
        if (std::memcmp(out.row(y) + off, staging_.row(y) + off, bytes) == 0) continue;
        std::memcpy(out.row(y) + off, staging_.row(y) + off, bytes);
        if (first < 0) first = y;
        last = y;
      }
      if (first >= 0) damage.add(Rect{r.x, first, r.w, last - first + 1});
    }
  }
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

bool CoalescingSlot::copyLatest(Frame& out, Millis& t) const {
  std::lock_guard lock(mu_);
  if (staging_.empty()) return false;
  if (out.width() != staging_.width() || out.height() != staging_.height())
    out.resize(staging_.width(), staging_.height());
  out.copyRect(staging_, staging_.bounds());
  t = t_;
  copy_expected_ = false;
  return true;
}

void CoalescingSlot::expectCopy() {
  std::lock_guard lock(mu_);
  copy_expected_ = true;
}

bool CoalescingSlot::release() {
  std::lock_guard lock(mu_);
  if (has_pending_ || copy_expected_) return staging_.empty();
  staging_ = Frame{};
  return true;
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
