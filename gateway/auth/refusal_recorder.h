// Where the gatekeeper reports refused connections (CONTRACT.md: a refusal
// "is logged and recorded as an event"), and the recorder that keeps them in
// the MetadataStore apart from sessions, with an expiry, and without letting
// a throttled address grow the store (docs/redis-schema.md "Refusals").
#pragma once

#include <chrono>
#include <string>

#include "core/config.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::auth {

struct Refusal {
  // As claimed by the client (may be unknown names, or empty for VNC before a
  // code matched), already cut short and made printable.
  std::string user, target;
  Protocol protocol = Protocol::Rdp;
  std::string client_addr;  // "host:port"
  std::string reason;       // for auditors; never holds a secret
  EpochMillis at = 0;       // 0 = now
  bool throttled = false;   // the address is locked out for too many failures
};

class RefusalRecorder {
 public:
  virtual ~RefusalRecorder() = default;
  // Called on the connection's thread; may block briefly (Redis).
  virtual void recordRefusal(const Refusal& r) = 0;
  // The same, now and not throttled.
  void recordRefusal(const std::string& user, const std::string& target, Protocol protocol,
                     const std::string& client_addr, const std::string& reason) {
    recordRefusal(Refusal{user, target, protocol, client_addr, reason, 0, false});
  }
};

// Each refusal becomes its own refused record with two lifecycle events,
// except while the address is throttled: then all its refusals in one
// `window` are counted on one aggregate record (first/last time, count, last
// reason, the user and target names claimed, bounded). Records expire
// `retain` after their first refusal. Thread-safe (the store is).
class StoreRefusalRecorder final : public RefusalRecorder {
 public:
  static constexpr std::chrono::minutes kDefaultWindow{10};

  StoreRefusalRecorder(storage::MetadataStore& store, std::string node,
                       std::chrono::milliseconds retain,
                       std::chrono::milliseconds window = kDefaultWindow);
  using RefusalRecorder::recordRefusal;
  void recordRefusal(const Refusal& r) override;

  // "20261207T093000-throttled-1a2b3c4d": the window's start (UTC) and a
  // hash of the host, so every node counts an address's window on one record.
  static std::string aggregateId(const std::string& host, EpochMillis window_start);

 private:
  storage::MetadataStore& store_;
  const std::string node_;
  const std::chrono::milliseconds retain_;
  const std::chrono::milliseconds window_;
};

// Retention of refusal records from [retention] refused_days.
std::chrono::milliseconds refusalRetention(const Config& config);

}  // namespace vigil::gateway::auth
