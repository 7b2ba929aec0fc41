// An observer of every event of every session, after the rules (masks
// applied): what leaves the gateway besides the store (the SIEM). Header
// only, so such outputs need no session types.
#pragma once

#include <string>

#include "core/event.h"

namespace vigil::gateway {

// Who and where an event belongs to, fixed for a session's life.
struct SessionInfo {
  std::string id;  // empty for a refused connection (no session was opened)
  std::string user, target, protocol;
  std::string client_addr;  // "host:port"
  EpochMillis started_at = 0;
};

class SessionEventObserver {
 public:
  virtual ~SessionEventObserver() = default;
  // Called on the thread that made the event; must not block (copy, queue,
  // return). Thread-safe implementations only.
  virtual void onSessionEvent(const SessionInfo& session, const Event& e) = 0;
};

}  // namespace vigil::gateway
