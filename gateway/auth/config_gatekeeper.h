// The Gatekeeper of CONTRACT.md "Connecting through the gateway", deciding
// from the Config's users, targets and grants plus one-time access codes.
// Thread-safe: admit()/admitVnc() may run on many connection threads at once.
// They block (argon2id ~0.1 s, Redis), so never call them on a relay thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>

#include "core/config.h"
#include "gateway/auth/access_codes.h"
#include "gateway/auth/refusal_recorder.h"
#include "gateway/gatekeeper.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::auth {

// Failed-attempt throttling per client host (the port is ignored).
struct ThrottlePolicy {
  int max_failures = 5;                 // this many failures ...
  long long window_ms = 60'000;         // ... within this window lock the host out
  long long first_lockout_ms = 30'000;  // doubled on each further lockout
  long long max_lockout_ms = 15 * 60'000;
  std::size_t max_tracked_hosts = 10'000;  // memory bound under address floods
};

// argon2id takes 64 MiB per check: at most this many run at once, so a burst
// of connections queues instead of exhausting memory.
inline constexpr std::ptrdiff_t kMaxConcurrentPasswordChecks = 4;

class ConfigGatekeeper final : public Gatekeeper {
 public:
  // All references must outlive the gatekeeper. `store` is kept for future
  // checks; codes go through `codes`. `now` is the wall clock (epoch ms);
  // empty = the real one.
  ConfigGatekeeper(const Config& config, storage::MetadataStore& store, AccessCodes& codes,
                   RefusalRecorder& refusals, std::function<EpochMillis()> now = {},
                   ThrottlePolicy policy = {});

  // Admits USER to TARGET when: the host is not locked out, the user and
  // target exist, `secret` is the user's password or an unused access code
  // issued to that user for that target (consumed here), and a grant for
  // (user, target) is valid now. AccessGrant.via = "password" | "access code";
  // not_after = the latest not_after among the grants valid now (nullopt =
  // open-ended). Authentication comes before the grant check, so a code
  // presented outside its grant's window is used up.
  Result<AccessGrant> admit(const std::string& user, const std::string& target,
                            const std::string& secret, const std::string& client_addr) override;

  // As admit(), with the code proven by VNC challenge-response; the code's
  // user must still exist and hold a valid grant for `target`.
  Result<AccessGrant> admitVnc(const TargetConfig& target,
                               const std::array<std::uint8_t, 16>& challenge,
                               const std::array<std::uint8_t, 16>& response,
                               const std::string& client_addr) override;

 private:
  struct HostState {
    std::vector<EpochMillis> failures;  // within the window, oldest first
    EpochMillis locked_until = 0;
    int lockouts = 0;                   // consecutive, for the doubling
    EpochMillis last_seen = 0;
  };

  EpochMillis now() const;
  // Error when `host` is locked out at `t`.
  std::optional<std::string> lockedOut(const std::string& host, EpochMillis t);
  void noteFailure(const std::string& host, EpochMillis t);
  void noteSuccess(const std::string& host);
  // The grant for (user, target) valid at `t`, or why there is none.
  Result<AccessGrant> grantFor(const UserConfig& user, const TargetConfig& target,
                               EpochMillis t) const;
  bool checkPassword(const UserConfig& user, const std::string& secret);
  // Logs (info) and records a refusal. `count`: a failure toward the lockout;
  // false only while the host is locked out (recorded as throttled).
  Status refuse(const std::string& user, const std::string& target, Protocol protocol,
                const std::string& client_addr, const std::string& reason, bool count);

  const Config& config_;
  storage::MetadataStore& store_;
  AccessCodes& codes_;
  RefusalRecorder& refusals_;
  std::function<EpochMillis()> now_;
  ThrottlePolicy policy_;

  std::counting_semaphore<kMaxConcurrentPasswordChecks> password_slots_{
      kMaxConcurrentPasswordChecks};
  std::mutex throttle_mu_;  // guards hosts_
  std::map<std::string, HostState> hosts_;
};

// "10.0.0.7:51234" -> "10.0.0.7", "[::1]:5000" -> "::1"; anything else as is.
std::string clientHost(const std::string& client_addr);

}  // namespace vigil::gateway::auth
