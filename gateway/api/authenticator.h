// Who is asking: a cookie session from POST /api/login, or HTTP Basic on each
// request (API clients). Failed attempts are throttled (LoginThrottle) and an
// unknown user name costs the same password check as a known one, so timing
// does not tell which names exist. Every sign-in, failed sign-in and sign-out
// is audited; a sign-in whose audit entry cannot be written is refused.
// Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/config.h"
#include "gateway/api/audit_trail.h"
#include "gateway/api/http_types.h"
#include "gateway/api/login_state.h"

namespace vigil::gateway::api {

inline constexpr char kSessionCookie[] = "vigil_session";

struct Principal {
  const UserConfig* user = nullptr;
  bool via_cookie = false;
  std::string token;  // the cookie session's token, to notice its end
};

struct AuthOptions {
  std::chrono::seconds login_ttl{8 * 3600};  // a cookie session's lifetime
  std::chrono::seconds login_idle{30 * 60};  // ... and its idle limit
  int max_failures_per_user = 5;      // ... of one user from one address
  int max_failures_per_address = 20;  // ... from one address, any user
  int max_failures_global = 300;      // ... everywhere (see LoginThrottle)
  std::chrono::seconds throttle_window{300};
};

class Authenticator {
 public:
  using VerifyFn = std::function<bool(const std::string& hash, const std::string& password)>;
  Authenticator(const Config& config, const AuthOptions& options, VerifyFn verify,
                AuditTrail& audit);

  enum class Outcome { Ok, NoCredentials, Malformed, Wrong, Throttled, AuditFailed };
  struct Attempt {
    Outcome outcome = Outcome::NoCredentials;
    Principal who;
    long long retry_after_s = 0;  // Throttled
    std::string token;            // login(): the new cookie value
  };

  // The cookie session, else HTTP Basic credentials, of `req`.
  Attempt authenticate(const Request& req, const std::string& remote);
  // POST /api/login: on Ok, `token` is the new cookie session.
  Attempt login(const std::string& name, const std::string& password, const std::string& remote);
  // Ends the cookie session of `req`, if any, and audits it. Signing out is
  // never refused: an unwritable audit entry is logged as an error instead.
  void logout(const Request& req, const std::string& remote);
  // The user of a still valid cookie session in `req` (the web player's pages).
  std::optional<std::string> cookieUser(const Request& req);
  // False once a cookie principal's session has ended (logout, expiry). Basic
  // principals stay valid: their credentials come with every request.
  bool stillValid(const Principal& who);
  const AuthOptions& options() const { return opt_; }

 private:
  Attempt checkPassword(const std::string& name, const std::string& password,
                        const std::string& remote, const char* via);

  const Config& config_;
  AuthOptions opt_;
  VerifyFn verify_;
  AuditTrail& audit_;
  LoginSessions sessions_;
  LoginThrottle throttle_;
  // Checked for unknown names: a real hash, so the work matches a known name.
  std::string decoy_hash_;
  std::mutex basic_mu_;  // recent good Basic credentials: argon2 once a minute, not per request
  std::map<std::string, std::pair<std::string, SteadyTime>> basic_cache_;
};

}  // namespace vigil::gateway::api
