// Where the gatekeeper reports refused connections. The session manager
// implements it by writing a refused session with its lifecycle events
// (CONTRACT.md: a refusal "is logged and recorded as an event").
#pragma once

#include <string>

#include "core/config.h"

namespace vigil::gateway::auth {

class RefusalRecorder {
 public:
  virtual ~RefusalRecorder() = default;
  // `user` and `target` are as claimed by the client (may be unknown names,
  // or empty for VNC before a code matched); `reason` is for auditors and
  // never holds a secret. Called on the connection's thread; may block briefly.
  virtual void recordRefusal(const std::string& user, const std::string& target,
                             Protocol protocol, const std::string& client_addr,
                             const std::string& reason) = 0;
};

}  // namespace vigil::gateway::auth
