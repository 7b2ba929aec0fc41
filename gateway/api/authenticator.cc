#include "gateway/api/authenticator.h"

#include <spdlog/spdlog.h>

#include "gateway/api/http_util.h"

namespace vigil::gateway::api {
namespace {

constexpr std::size_t kMaxName = 128, kMaxPassword = 1024;

std::optional<std::string> tokenOf(const Request& req) {
  auto cookie = req[http::field::cookie];
  if (cookie.empty()) return std::nullopt;
  return cookieValue(std::string_view(cookie.data(), cookie.size()), kSessionCookie);
}

}  // namespace

Authenticator::Authenticator(const Config& config, const AuthOptions& options, VerifyFn verify,
                             AuditTrail& audit)
    : config_(config),
      opt_(options),
      verify_(std::move(verify)),
      audit_(audit),
      sessions_(options.login_ttl, options.login_idle),
      throttle_(LoginThrottleOptions{options.max_failures_per_user,
                                     options.max_failures_per_address,
                                     options.max_failures_global, options.throttle_window}) {
  if (!config_.users.empty()) decoy_hash_ = config_.users.front().password_hash;
}

Authenticator::Attempt Authenticator::authenticate(const Request& req, const std::string& remote) {
  const auto now = std::chrono::steady_clock::now();
  if (auto token = tokenOf(req)) {
    if (auto name = sessions_.lookup(*token, now)) {
      if (const UserConfig* u = config_.findUser(*name))
        return {Outcome::Ok, Principal{u, true, *token}, 0, {}};
    }
  }
  auto authz = req[http::field::authorization];
  if (authz.empty()) return {};
  auto creds = parseBasicAuth(std::string_view(authz.data(), authz.size()));
  if (!creds || creds->first.empty() || creds->first.size() > kMaxName ||
      creds->second.size() > kMaxPassword)
    return {Outcome::Malformed, {}, 0, {}};
  const auto& [name, password] = *creds;
  const std::string key = sha256Hex(name + '\0' + password);
  {
    std::lock_guard lock(basic_mu_);
    auto it = basic_cache_.find(key);
    if (it != basic_cache_.end() && now - it->second.second < std::chrono::seconds(60)) {
      if (const UserConfig* u = config_.findUser(it->second.first))
        return {Outcome::Ok, Principal{u, false, {}}, 0, {}};
    }
  }
  Attempt a = checkPassword(name, password, remote, "basic");
  if (a.outcome == Outcome::Ok) {
    std::lock_guard lock(basic_mu_);
    if (basic_cache_.size() > 1000) basic_cache_.clear();
    basic_cache_[key] = {name, now};
  }
  return a;
}

Authenticator::Attempt Authenticator::login(const std::string& name, const std::string& password,
                                            const std::string& remote) {
  if (name.empty() || name.size() > kMaxName || password.size() > kMaxPassword)
    return {Outcome::Malformed, {}, 0, {}};
  Attempt a = checkPassword(name, password, remote, "password");
  if (a.outcome == Outcome::Ok) {
    a.token = sessions_.create(name, std::chrono::steady_clock::now());
    a.who.via_cookie = true;
    a.who.token = a.token;
  }
  return a;
}

Authenticator::Attempt Authenticator::checkPassword(const std::string& name,
                                                    const std::string& password,
                                                    const std::string& remote, const char* via) {
  const auto now = std::chrono::steady_clock::now();
  const std::string from = std::string(via) + " from " + remote;
  if (auto wait = throttle_.blocked(remote, name, now)) {
    spdlog::warn("web sign-in throttled user={} addr={}", name, remote);
    // Coalesced: a client hammering while blocked must not flood the log.
    (void)audit_.recordRepeated(name, "login_failed", "", "throttled, " + from);
    return {Outcome::Throttled, {}, *wait, {}};
  }
  const UserConfig* u = config_.findUser(name);
  const bool good = verify_(u ? u->password_hash : decoy_hash_, password) && u != nullptr;
  if (!good) {
    throttle_.failure(remote, name, now);
    spdlog::warn("web sign-in failed user={} addr={} via={}", name, remote, via);
    (void)audit_.record(name, "login_failed", "", "wrong user name or password, " + from);
    return {Outcome::Wrong, {}, 0, {}};
  }
  throttle_.success(remote, name);
  if (!audit_.record(name, "login", "", from).ok()) return {Outcome::AuditFailed, {}, 0, {}};
  spdlog::info("web sign-in user={} addr={} via={}", name, remote, via);
  return {Outcome::Ok, Principal{u, false, {}}, 0, {}};
}

void Authenticator::logout(const Request& req, const std::string& remote) {
  auto token = tokenOf(req);
  if (!token) return;
  auto name = sessions_.lookup(*token, std::chrono::steady_clock::now());
  if (!name) return;  // already over: nothing to end
  sessions_.remove(*token);
  spdlog::info("web sign-out user={} addr={}", *name, remote);
  (void)audit_.record(*name, "logout", "", "from " + remote);
}

std::optional<std::string> Authenticator::cookieUser(const Request& req) {
  auto token = tokenOf(req);
  if (!token) return std::nullopt;
  return sessions_.lookup(*token, std::chrono::steady_clock::now());
}

bool Authenticator::stillValid(const Principal& who) {
  if (!who.via_cookie) return true;
  return sessions_.lookup(who.token, std::chrono::steady_clock::now()).has_value();
}

}  // namespace vigil::gateway::api
