#include "gateway/clipboard_throttle.h"

#include <algorithm>

namespace vigil::gateway {

bool ClipboardThrottle::take(Lane& l, Millis t) {
  if (l.tokens < 0) {
    l.tokens = options_.burst;
    l.refilled_at = t;
  }
  if (t > l.refilled_at) {
    l.tokens = std::min<double>(options_.burst,
                                l.tokens + static_cast<double>(t - l.refilled_at) / options_.refill);
    l.refilled_at = t;
  }
  if (l.tokens < 1) return false;
  l.tokens -= 1;
  return true;
}

std::optional<ClipboardThrottle::Change> ClipboardThrottle::offer(ClipboardInput clip, Millis t) {
  Lane& l = lane(clip.direction);
  if (!l.held && clip.text == l.last_text && l.last_at >= 0 && t - l.last_at < options_.same_text) {
    l.last_at = t;
    return std::nullopt;  // announced again: the same change
  }
  if (l.held || !take(l, t)) {
    l.held = std::move(clip);
    ++l.held_count;
    return std::nullopt;
  }
  l.last_text = clip.text;
  l.last_at = t;
  return Change{std::move(clip), 0};
}

std::vector<ClipboardThrottle::Change> ClipboardThrottle::due(Millis t) {
  std::vector<Change> out;
  for (Lane& l : lanes_) {
    if (!l.held || !take(l, t)) continue;
    l.last_text = l.held->text;
    l.last_at = t;
    out.push_back(Change{std::move(*l.held), l.held_count - 1});
    l.held.reset();
    l.held_count = 0;
  }
  return out;
}

std::vector<ClipboardThrottle::Change> ClipboardThrottle::drain() {
  std::vector<Change> out;
  for (Lane& l : lanes_) {
    if (!l.held) continue;
    out.push_back(Change{std::move(*l.held), l.held_count - 1});
    l.held.reset();
    l.held_count = 0;
  }
  return out;
}

}  // namespace vigil::gateway
