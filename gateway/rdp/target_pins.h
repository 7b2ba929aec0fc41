// Which TLS certificate each RDP target may present. The gateway hands a
// target its vaulted credentials, so it must know it is talking to the real
// server: a target's configured `tls_fingerprint` must match; without one,
// the first certificate seen is trusted and recorded (like SSH's known_hosts)
// and any other certificate from that host:port is refused after.
#pragma once

#include <mutex>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace vigil::gateway::rdp {

class TargetPins {
 public:
  // `path`: the record of first-use certificates, one "host:port AB:CD:..."
  // per line (made on first need; operators may delete a line to trust a
  // replaced certificate).
  explicit TargetPins(std::string path);

  // OK if `target` may present the certificate with this SHA-256 fingerprint
  // ("AB:CD:..."); records it on first use. The error says what to do.
  Status check(const TargetConfig& target, const std::string& fingerprint);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::mutex mutex_;  // connections to new targets may race to record them
};

}  // namespace vigil::gateway::rdp
