// Clocks. A session's clock starts at zero when the session starts; its video
// and its events both use it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"

namespace vigil {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Millis now() const = 0;  // since this clock's start; thread-safe
};

class SteadyClock final : public Clock {
 public:
  SteadyClock() : start_(std::chrono::steady_clock::now()) {}
  Millis now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// For unit tests: time moves only when told.
class FakeClock final : public Clock {
 public:
  Millis now() const override { return now_; }
  void advance(Millis d) { now_ += d; }
  void set(Millis t) { now_ = t; }

 private:
  Millis now_ = 0;
};

EpochMillis epochNowMs();
// RFC 3339 UTC with milliseconds: 2026-11-22T14:03:05.123Z
std::string formatRfc3339(EpochMillis t);
// Accepts RFC 3339 with Z or an offset, with or without fractions.
std::optional<EpochMillis> parseRfc3339(std::string_view s);

}  // namespace vigil
