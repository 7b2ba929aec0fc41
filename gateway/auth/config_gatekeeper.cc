#include "gateway/auth/config_gatekeeper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/clock.h"
#include "gateway/auth/password.h"

namespace vigil::gateway::auth {
namespace {

// Names come from the network: keep log lines and records one line and short.
std::string printable(const std::string& s) {
  std::string out;
  for (char c : s.substr(0, 128)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (s.size() > 128) out += "...";
  return out;
}

}  // namespace

std::string clientHost(const std::string& client_addr) { return addressHost(client_addr); }

ConfigGatekeeper::ConfigGatekeeper(const Config& config, storage::MetadataStore& store,
                                   AccessCodes& codes, RefusalRecorder& refusals,
                                   std::function<EpochMillis()> now, ThrottlePolicy policy)
    : config_(config),
      store_(store),
      codes_(codes),
      refusals_(refusals),
      now_(std::move(now)),
      policy_(policy) {}

EpochMillis ConfigGatekeeper::now() const { return now_ ? now_() : epochNowMs(); }

std::optional<std::string> ConfigGatekeeper::lockedOut(const std::string& host, EpochMillis t) {
  std::lock_guard lock(throttle_mu_);
  auto it = hosts_.find(host);
  if (it == hosts_.end() || it->second.locked_until <= t) return std::nullopt;
  const long long secs = (it->second.locked_until - t + 999) / 1000;
  return "too many failed attempts from " + printable(host) + "; retry in " +
         std::to_string(secs) + " s";
}

void ConfigGatekeeper::noteFailure(const std::string& host, EpochMillis t) {
  std::lock_guard lock(throttle_mu_);
  if (hosts_.size() >= policy_.max_tracked_hosts && !hosts_.count(host)) {
    // Forget hosts that are not locked out; if all are, the least recent one.
    std::erase_if(hosts_, [&](const auto& kv) { return kv.second.locked_until <= t; });
    if (hosts_.size() >= policy_.max_tracked_hosts) {
      auto oldest = std::min_element(hosts_.begin(), hosts_.end(), [](const auto& a, const auto& b) {
        return a.second.last_seen < b.second.last_seen;
      });
      hosts_.erase(oldest);
    }
  }
  HostState& h = hosts_[host];
  h.last_seen = t;
  // A host that behaved for a full maximum lockout starts over at the first step.
  if (h.lockouts > 0 && t - h.locked_until > policy_.max_lockout_ms) h.lockouts = 0;
  std::erase_if(h.failures, [&](EpochMillis f) { return t - f >= policy_.window_ms; });
  h.failures.push_back(t);
  if (static_cast<int>(h.failures.size()) < policy_.max_failures) return;
  long long lock_ms = policy_.first_lockout_ms;
  for (int i = 0; i < h.lockouts && lock_ms < policy_.max_lockout_ms; ++i) lock_ms *= 2;
  lock_ms = std::min(lock_ms, policy_.max_lockout_ms);
  h.locked_until = t + lock_ms;
  ++h.lockouts;
  h.failures.clear();
  spdlog::warn("auth lockout addr={} failures={} lockout_s={}", printable(host),
               policy_.max_failures, lock_ms / 1000);
}

void ConfigGatekeeper::noteSuccess(const std::string& host) {
  std::lock_guard lock(throttle_mu_);
  hosts_.erase(host);
}

bool ConfigGatekeeper::checkPassword(const UserConfig& user, const std::string& secret) {
  password_slots_.acquire();
  const bool ok = verifyPassword(user.password_hash, secret);
  password_slots_.release();
  return ok;
}

Status ConfigGatekeeper::refuse(const std::string& user, const std::string& target,
                                Protocol protocol, const std::string& client_addr,
                                const std::string& reason, bool count) {
  const std::string u = printable(user), t = printable(target), a = printable(client_addr);
  // Info, not warn: a refusal is the client's doing, not the gateway's.
  spdlog::info("connection refused user={} target={} protocol={} addr={} throttled={} reason=\"{}\"",
               u, t, toString(protocol), a, !count, reason);
  const EpochMillis at = now();
  if (count) noteFailure(clientHost(client_addr), at);
  // Uncounted refusals are those of a locked-out address: the recorder
  // aggregates them instead of storing one record each.
  refusals_.recordRefusal(Refusal{u, t, protocol, a, reason, at, !count});
  return Status::Error(reason);
}

Result<AccessGrant> ConfigGatekeeper::grantFor(const UserConfig& user, const TargetConfig& target,
                                               EpochMillis t) const {
  bool any = false, valid = false;
  std::optional<EpochMillis> valid_until;  // nullopt while valid = open-ended
  std::optional<EpochMillis> next_start, last_end;
  for (const GrantConfig& g : config_.grants) {
    if (g.user != user.name || g.target != target.name) continue;
    any = true;
    if (g.not_before && t < *g.not_before) {
      next_start = next_start ? std::min(*next_start, *g.not_before) : *g.not_before;
    } else if (g.not_after && t > *g.not_after) {
      last_end = last_end ? std::max(*last_end, *g.not_after) : *g.not_after;
    } else if (!valid) {
      valid = true;
      valid_until = g.not_after;
    } else if (valid_until) {
      valid_until = g.not_after ? std::optional(std::max(*valid_until, *g.not_after))
                                : std::nullopt;
    }
  }
  if (!any) return Status::Error("no grant for " + user.name + " on " + target.name);
  if (!valid) {
    if (next_start) return Status::Error("grant not yet valid (from " + formatRfc3339(*next_start) + ")");
    return Status::Error("grant expired at " + formatRfc3339(*last_end));
  }
  AccessGrant g;
  g.user = user.name;
  g.target = &target;
  g.not_after = valid_until;
  return g;
}

Result<AccessGrant> ConfigGatekeeper::admit(const std::string& user, const std::string& target,
                                            const std::string& secret,
                                            const std::string& client_addr) {
  constexpr Protocol kProto = Protocol::Rdp;
  const std::string host = clientHost(client_addr);
  if (auto locked = lockedOut(host, now()))
    return refuse(user, target, kProto, client_addr, *locked, false);
  const UserConfig* u = config_.findUser(user);
  if (!u) return refuse(user, target, kProto, client_addr, "unknown user", true);
  const TargetConfig* tc = config_.findTarget(target);
  if (!tc) return refuse(user, target, kProto, client_addr, "unknown target", true);

  std::string via, issuer;
  if (checkPassword(*u, secret)) {
    via = "password";
  } else if (normalizeCode(secret)) {
    auto code = codes_.redeem(secret, tc->name);
    if (!code.ok())
      return refuse(user, target, kProto, client_addr,
                    "wrong password or access code (" + code.message() + ")", true);
    if (code->user != u->name)
      return refuse(user, target, kProto, client_addr,
                    "access code was issued to another user (" + code->user +
                        "); it is now used up",
                    true);
    via = "access code";
    issuer = code->issued_by;
  } else {
    return refuse(user, target, kProto, client_addr, "wrong password or access code", true);
  }

  auto grant = grantFor(*u, *tc, now());
  if (!grant.ok()) return refuse(user, target, kProto, client_addr, grant.message(), true);
  grant->via = via;
  grant->code_issuer = issuer;
  noteSuccess(host);
  spdlog::info("connection admitted user={} target={} protocol=rdp addr={} via=\"{}\"", u->name,
               tc->name, printable(client_addr), via);
  return grant;
}

Result<AccessGrant> ConfigGatekeeper::admitVnc(const TargetConfig& target,
                                               const std::array<std::uint8_t, 16>& challenge,
                                               const std::array<std::uint8_t, 16>& response,
                                               const std::string& client_addr) {
  constexpr Protocol kProto = Protocol::Vnc;
  const std::string host = clientHost(client_addr);
  if (auto locked = lockedOut(host, now()))
    return refuse("", target.name, kProto, client_addr, *locked, false);
  // The grant must point into our Config, whatever copy the caller holds.
  const TargetConfig* tc = config_.findTarget(target.name);
  if (!tc) return refuse("", target.name, kProto, client_addr, "unknown target", true);
  auto code = codes_.redeemVnc(tc->name, challenge, response);
  if (!code.ok())
    return refuse("", tc->name, kProto, client_addr,
                  "wrong password or access code (" + code.message() + ")", true);
  const UserConfig* u = config_.findUser(code->user);
  if (!u)
    return refuse(code->user, tc->name, kProto, client_addr,
                  "unknown user (the access code's user is no longer configured)", true);
  auto grant = grantFor(*u, *tc, now());
  if (!grant.ok()) return refuse(u->name, tc->name, kProto, client_addr, grant.message(), true);
  grant->via = "access code";
  grant->code_issuer = code->issued_by;
  noteSuccess(host);
  spdlog::info("connection admitted user={} target={} protocol=vnc addr={} via=\"access code\"",
               u->name, tc->name, printable(client_addr));
  return grant;
}

}  // namespace vigil::gateway::auth
