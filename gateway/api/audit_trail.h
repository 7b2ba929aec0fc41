// The API's side of the audit log (CONTRACT.md "HTTP API"): every action is
// written before it takes effect, and an action whose entry cannot be
// written is refused. Repeated looks at one session (a replay's Range
// requests, the Live page's thumbnails every 3 s) are coalesced per viewer,
// action and session: the first of each interval is written at once, the
// rest are counted and written as one entry when the interval ends — never
// dropped. Thread-safe (one mutex; store writes happen outside it).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "core/status.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::api {

class AuditTrail {
 public:
  AuditTrail(storage::MetadataStore& store, std::chrono::seconds coalesce_interval)
      : store_(store), interval_(coalesce_interval) {}
  ~AuditTrail() { flushAll(); }

  // Writes one entry now. Not ok: the caller must not perform the action.
  [[nodiscard]] Status record(const std::string& actor, const std::string& action,
                              const std::string& object, const std::string& detail);
  // For repeated looks: writes now if this (actor, action, object) has no
  // entry in the current interval, else counts it for flushDue(). Not ok
  // only when a write was needed and failed.
  [[nodiscard]] Status recordRepeated(const std::string& actor, const std::string& action,
                                      const std::string& object, const std::string& detail);
  // Writes the counts of intervals that have ended ("12 more thumbnail
  // between ... and ..."). Call every few seconds.
  void flushDue();
  // Writes every pending count (at shutdown).
  void flushAll();

 private:
  using Clock = std::chrono::steady_clock;
  struct Window {
    Clock::time_point opened;
    EpochMillis first_more = 0, last_more = 0;  // wall clock of the counted looks
    long long more = 0;                          // looks after the one written
    std::string detail;
  };
  void flush(bool all);

  storage::MetadataStore& store_;
  std::chrono::seconds interval_;
  std::mutex mu_;
  std::map<std::string, Window> windows_;  // key: actor \n action \n object
};

}  // namespace vigil::gateway::api
