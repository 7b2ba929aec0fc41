// POST /api/login, POST /api/logout, GET /api/me.
#include <nlohmann/json.hpp>

#include "gateway/api/handlers/handlers.h"

namespace vigil::gateway::api::handlers {
namespace {

nlohmann::json rolesOf(const UserConfig& u) {
  nlohmann::json roles = nlohmann::json::array();
  for (Role r : u.roles) roles.push_back(std::string(toString(r)));
  return roles;
}

std::string cookie(const Ctx& c, const std::string& value, long long max_age) {
  return std::string(kSessionCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(max_age) + (c.svc.tls ? "; Secure" : "");
}

}  // namespace

Reply login(Ctx& c) {
  auto body = nlohmann::json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return c.error(http::status::bad_request, "body must be a JSON object {\"user\",\"password\"}");
  auto user_it = body.find("user"), pw_it = body.find("password");
  if (user_it == body.end() || pw_it == body.end() || !user_it->is_string() || !pw_it->is_string())
    return c.error(http::status::bad_request, "user and password must be strings");
  auto attempt = c.svc.auth.login(user_it->get<std::string>(), pw_it->get<std::string>(), c.remote);
  using O = Authenticator::Outcome;
  switch (attempt.outcome) {
    case O::Ok:
      break;
    case O::Malformed:
      return c.error(http::status::bad_request, "user or password has a bad length");
    case O::Throttled: {
      auto res = c.error(http::status::too_many_requests,
                         "too many failed sign-ins; try again in " +
                             std::to_string(attempt.retry_after_s) + " s");
      res.set(http::field::retry_after, std::to_string(attempt.retry_after_s));
      return res;
    }
    case O::AuditFailed:
      return c.auditFailed();
    default:
      return c.error(http::status::unauthorized, "wrong user name or password");
  }
  auto res = c.json(http::status::ok,
                    {{"user", attempt.who.user->name}, {"roles", rolesOf(*attempt.who.user)}});
  res.set(http::field::set_cookie,
          cookie(c, attempt.token, c.svc.auth.options().login_ttl.count()));
  return res;
}

Reply logout(Ctx& c) {
  c.svc.auth.logout(c.req, c.remote);
  auto res = c.json(http::status::ok, {{"status", "signed out"}});
  res.set(http::field::set_cookie, cookie(c, "", 0));
  return res;
}

Reply me(Ctx& c) {
  return c.json(http::status::ok, {{"user", c.user()}, {"roles", rolesOf(*c.who.user)}});
}

}  // namespace vigil::gateway::api::handlers
