// Which TLS certificate each RDP target may present. The gateway hands a
// target its vaulted credentials, so it must know it is talking to the real
// server: a target's configured `tls_fingerprint` must match; without one,
// the certificate an operator trusted with `vigil trust-target NAME` (kept
// like SSH's known_hosts) must. An unknown certificate is refused, never
// trusted silently on first use; a changed one is refused too.
#pragma once

#include <mutex>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace vigil::gateway::rdp {

// Thread-safe (one mutex); other processes (`vigil trust-target`) may write
// the file while the gateway reads it: every check reads it afresh.
class TargetPins {
 public:
  // `path`: the operator-trusted certificates, one "host:port AB:CD:..." per
  // line ('#' starts a comment), written by trust().
  explicit TargetPins(std::string path);

  // OK if `target` may present the certificate with this SHA-256 fingerprint
  // ("AB:CD:..."). Records nothing. The error names the target and says what
  // to do (`vigil trust-target NAME`, or fix tls_fingerprint).
  Status check(const TargetConfig& target, const std::string& fingerprint);

  // The fingerprint trusted for the target's host:port ("" if none).
  Result<std::string> trusted(const TargetConfig& target);

  // Records `fingerprint` as the trusted certificate of the target's
  // host:port, replacing any line for it (the file is rewritten atomically).
  Status trust(const TargetConfig& target, const std::string& fingerprint);

  const std::string& path() const { return path_; }

 private:
  Result<std::string> trustedLocked(const std::string& host_port);

  std::string path_;
  std::mutex mutex_;
};

}  // namespace vigil::gateway::rdp
