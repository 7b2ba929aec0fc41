// Decides who may connect to what (CONTRACT.md "Connecting through the
// gateway"). Every refusal is logged and recorded as a refused session with a
// `lifecycle` event, and no connection to the target is attempted. Repeated
// failures from one address are throttled. Thread-safe; may block on Redis
// (call it from the connection's own thread, never a relay thread).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "gateway/session.h"

namespace vigil::gateway {

class Gatekeeper {
 public:
  virtual ~Gatekeeper() = default;

  // RDP: username "USER#TARGET" already split; `secret` is USER's password or
  // a one-time access code. On refusal the Status says why (for the log, not
  // for the client).
  virtual Result<AccessGrant> admit(const std::string& user, const std::string& target,
                                    const std::string& secret, const std::string& client_addr) = 0;

  // VNC: the listener serves one target; the client proved knowledge of an
  // access code by encrypting `challenge` (RFB VNC authentication).
  virtual Result<AccessGrant> admitVnc(const TargetConfig& target,
                                       const std::array<std::uint8_t, 16>& challenge,
                                       const std::array<std::uint8_t, 16>& response,
                                       const std::string& client_addr) = 0;
};

}  // namespace vigil::gateway
