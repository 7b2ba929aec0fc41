// One-time access codes (CONTRACT.md `vigil grant`): 8 characters, single
// use, valid for a TTL. Stored under a keyed hash; sealed with the gateway
// key for VNC's challenge-response. The plain code is never stored or logged.
// Thread-safe; blocks on Redis.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::auth {

// 32 random bytes kept in `<state_dir>/gateway.key` (0600), made on first use.
// Every node of one deployment must share it.
class SecretKey {
 public:
  static Result<SecretKey> loadOrCreate(const std::string& state_dir);
  const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, 32> bytes_{};
};

struct IssuedCode {
  std::string code;  // shown once to whoever asked for it
  EpochMillis expires_at = 0;
};

class AccessCodes {
 public:
  AccessCodes(storage::MetadataStore& store, SecretKey key);

  // The user must exist and hold a grant for the target (checked by the caller).
  Result<IssuedCode> issue(const std::string& user, const std::string& target, long long ttl_ms);
  // Consumes the code if it is valid for `target`. Error says why not.
  Result<storage::CodeRecord> redeem(const std::string& code, const std::string& target);
  // VNC: finds the unexpired code for `target` whose DES encryption of
  // `challenge` is `response` (constant-time compare), and consumes it.
  Result<storage::CodeRecord> redeemVnc(const std::string& target,
                                        const std::array<std::uint8_t, 16>& challenge,
                                        const std::array<std::uint8_t, 16>& response);

 private:
  storage::MetadataStore& store_;
  SecretKey key_;
};

}  // namespace vigil::gateway::auth
