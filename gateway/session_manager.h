// Opens sessions and keeps the live ones. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/session.h"

namespace vigil::gateway {

class SessionManager {
 public:
  virtual ~SessionManager() = default;
  // Fails closed: if the recording file or the metadata cannot be written,
  // there is no session and the adapter must drop the client.
  virtual Result<std::shared_ptr<Session>> open(const AccessGrant& grant, Protocol protocol,
                                                const std::string& client_addr) = 0;
  virtual std::shared_ptr<Session> find(const std::string& id) const = 0;
  virtual std::vector<std::shared_ptr<Session>> live() const = 0;
  // Ends a live session on whichever gateway node holds it (Redis pub/sub);
  // `by` is recorded ("terminated by alice").
  virtual Status terminate(const std::string& id, const std::string& by) = 0;
};

}  // namespace vigil::gateway
