// POST /api/grants {"user","target","ttl_s"}: a one-time access code for a
// grant the config already holds, inside that grant's window.
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "gateway/api/handlers/handlers.h"

namespace vigil::gateway::api::handlers {
namespace {

// Some of the code's life [now, now + ttl] lies inside the grant's window;
// the gatekeeper still checks the window when the code is used.
bool overlapsWindow(const GrantConfig& g, EpochMillis now, long long ttl_ms) {
  if (g.not_before && now + ttl_ms < *g.not_before) return false;
  if (g.not_after && now >= *g.not_after) return false;
  return true;
}

}  // namespace

Reply issueGrant(Ctx& c) {
  auto body = nlohmann::json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return c.error(http::status::bad_request,
                   "body must be a JSON object {\"user\",\"target\",\"ttl_s\"}");
  auto user_it = body.find("user"), target_it = body.find("target"), ttl_it = body.find("ttl_s");
  if (user_it == body.end() || !user_it->is_string() || target_it == body.end() ||
      !target_it->is_string())
    return c.error(http::status::bad_request, "user and target must be strings");
  long long ttl_s = 1800;
  if (ttl_it != body.end()) {
    if (!ttl_it->is_number_integer())
      return c.error(http::status::bad_request, "ttl_s must be a whole number of seconds");
    ttl_s = ttl_it->get<long long>();
    if (ttl_s < 60 || ttl_s > 7 * 24 * 3600)
      return c.error(http::status::bad_request, "ttl_s must be from 60 to 604800");
  }
  const std::string user = user_it->get<std::string>(), target = target_it->get<std::string>();
  const Config& cfg = c.svc.config;
  if (!cfg.findUser(user)) return c.error(http::status::not_found, "no such user: " + user);
  if (!cfg.findTarget(target)) return c.error(http::status::not_found, "no such target: " + target);
  const EpochMillis now = epochNowMs();
  bool granted = false, in_window = false;
  for (const GrantConfig& g : cfg.grants) {
    if (g.user != user || g.target != target) continue;
    granted = true;
    in_window = in_window || overlapsWindow(g, now, ttl_s * 1000);
  }
  if (!granted)
    return c.error(http::status::conflict, "the config has no grant for " + user + " on " + target +
                                               "; add a [[grants]] entry");
  if (!in_window)
    return c.error(http::status::conflict, "the grant for " + user + " on " + target +
                                               " is outside its not_before/not_after window");
  if (!c.svc.audit.record(c.user(), "grant", user + "#" + target,
                          "ttl_s=" + std::to_string(ttl_s) + " from " + c.remote)
           .ok())
    return c.auditFailed();
  auto issued = c.svc.deps.issue_code(user, target, ttl_s * 1000);
  if (!issued.ok()) return c.unavailable("issuing a code", issued.status());
  spdlog::info("access code issued via web for user={} target={} by={}", user, target, c.user());
  return c.json(http::status::ok, {{"code", issued.value().code},
                                   {"expires_at", formatRfc3339(issued.value().expires_at)}});
}

}  // namespace vigil::gateway::api::handlers
