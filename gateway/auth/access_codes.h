// One-time access codes (CONTRACT.md `vigil grant`): 8 characters, single
// use, valid for a TTL. Stored under a keyed hash; sealed with the gateway
// key for VNC's challenge-response. The plain code is never stored or logged.
// Thread-safe; blocks on Redis.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/status.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::auth {

// 32 random bytes kept in `<state_dir>/gateway.key` (0600), made on first use.
// Every node of one deployment must share it.
class SecretKey {
 public:
  static Result<SecretKey> loadOrCreate(const std::string& state_dir);
  // Reads the existing key only: for tools that must use the gateways' key
  // (`vigil terminate`); a fresh one would be useless.
  static Result<SecretKey> load(const std::string& state_dir);
  const std::array<std::uint8_t, 32>& bytes() const { return bytes_; }
  // The key that authenticates control-bus messages (storage::BusKey),
  // derived so that it serves no other purpose.
  std::array<std::uint8_t, 32> controlBusKey() const;

 private:
  std::array<std::uint8_t, 32> bytes_{};
};

// Codes use 8 characters from an alphabet without look-alikes (no 0 O 1 I L).
inline constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
inline constexpr std::size_t kCodeLength = 8;
inline constexpr long long kMinCodeTtlMs = 60LL * 1000;             // 1 minute
inline constexpr long long kMaxCodeTtlMs = 7LL * 24 * 3600 * 1000;  // 7 days

// What a person typed, as a code: upper-cased, spaces and dashes removed.
// nullopt unless the result is kCodeLength characters of kCodeAlphabet.
std::optional<std::string> normalizeCode(std::string_view typed);

struct IssuedCode {
  std::string code;  // shown once to whoever asked for it
  EpochMillis expires_at = 0;
};

class AccessCodes {
 public:
  // `now` is the wall clock (epoch ms); tests pass a fake one. Empty = real.
  AccessCodes(storage::MetadataStore& store, SecretKey key,
              std::function<EpochMillis()> now = {});

  // The user must exist and hold a grant for the target (checked by the caller).
  // ttl_ms must lie within [kMinCodeTtlMs, kMaxCodeTtlMs]. `issued_by` (a web
  // user's name, "cli:<login>" for `vigil grant`) is kept with the code and
  // named in the `authenticated` event of the session it opens.
  Result<IssuedCode> issue(const std::string& user, const std::string& target, long long ttl_ms,
                           const std::string& issued_by);
  // The same, issuer unknown (the session's event then names none).
  Result<IssuedCode> issue(const std::string& user, const std::string& target, long long ttl_ms) {
    return issue(user, target, ttl_ms, std::string());
  }
  // Consumes the code if it is valid for `target`. Error says why not.
  // A code presented for the wrong target is consumed too (burned): it may
  // have leaked, and take-then-check keeps redemption a single atomic step.
  Result<storage::CodeRecord> redeem(const std::string& code, const std::string& target);
  // VNC: finds the unexpired code for `target` whose DES encryption of
  // `challenge` is `response` (constant-time compare), and consumes it.
  // Every candidate is compared (no early exit); the code is matched as
  // issued and in any upper/lower-case spelling, as VNC clients send the
  // password exactly as typed. Fails if another connection took it first.
  Result<storage::CodeRecord> redeemVnc(const std::string& target,
                                        const std::array<std::uint8_t, 16>& challenge,
                                        const std::array<std::uint8_t, 16>& response);

 private:
  EpochMillis now() const;

  storage::MetadataStore& store_;
  SecretKey key_;
  std::function<EpochMillis()> now_;
};

}  // namespace vigil::gateway::auth
