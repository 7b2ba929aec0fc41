// Keeps a hostile or chatty client (or target) from turning the clipboard
// into an event flood: a change repeating the last text in the same
// direction is coalesced, and each direction may record a burst of changes
// and then one every `refill`; a change past that is held (the newest one
// per direction) and recorded as soon as the rate allows, with how many
// changes it stands for. The relay itself is never held back: this only
// decides which changes become events. Not thread-safe (the Session guards
// it); time is a parameter.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/input.h"

namespace vigil::gateway {

struct ClipboardThrottleOptions {
  int burst = 5;
  Millis refill = 2000;       // one more change may be recorded this often
  Millis same_text = 2000;    // the same text again within this is one change
};

class ClipboardThrottle {
 public:
  explicit ClipboardThrottle(ClipboardThrottleOptions options = {}) : options_(options) {}

  struct Change {
    ClipboardInput clip;
    int coalesced = 0;  // changes held back that this one stands for
  };
  // A change at `t`: what to record now (nothing while over the rate).
  std::optional<Change> offer(ClipboardInput clip, Millis t);
  // The held changes that may be recorded by `t` (call now and then).
  std::vector<Change> due(Millis t);
  // Every held change, whatever the rate (the session is ending: nothing
  // held is lost).
  std::vector<Change> drain();

 private:
  struct Lane {
    double tokens = -1;  // < 0: not started (a full burst)
    Millis refilled_at = 0;
    std::string last_text;
    Millis last_at = -1;
    std::optional<ClipboardInput> held;
    int held_count = 0;
  };
  Lane& lane(Direction d) { return lanes_[d == Direction::ClientToServer ? 0 : 1]; }
  bool take(Lane& l, Millis t);

  ClipboardThrottleOptions options_;
  std::array<Lane, 2> lanes_;
};

}  // namespace vigil::gateway
