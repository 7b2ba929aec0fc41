#include "gateway/api/router.h"

#include <string>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/http_util.h"
#include "gateway/api/request_guards.h"

namespace vigil::gateway::api {
namespace {

bool matches(std::string_view pattern, const std::vector<std::string_view>& parts,
             std::string_view& id) {
  const auto want = splitPath(pattern);
  if (want.size() != parts.size()) return false;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i] == "{id}") {
      id = parts[i];
    } else if (want[i] != parts[i]) {
      return false;
    }
  }
  return true;
}

bool allowed(Access a, const UserConfig& u) {
  switch (a) {
    case Access::Public:
    case Access::SignedIn:
      return true;
    case Access::Staff:
      return u.hasRole(Role::Auditor) || u.hasRole(Role::Security) || u.hasRole(Role::Admin);
    case Access::Security:
      return u.hasRole(Role::Security) || u.hasRole(Role::Admin);
    case Access::Admin:
      return u.hasRole(Role::Admin);
  }
  return false;
}

StrResponse unauthorized(const Ctx& c, const Authenticator::Attempt& a) {
  using O = Authenticator::Outcome;
  if (a.outcome == O::Throttled) {
    auto res = c.error(http::status::too_many_requests, "too many failed sign-ins; try again in " +
                                                            std::to_string(a.retry_after_s) + " s");
    res.set(http::field::retry_after, std::to_string(a.retry_after_s));
    return res;
  }
  if (a.outcome == O::AuditFailed) return c.auditFailed();
  auto res = c.error(http::status::unauthorized, a.outcome == O::Malformed ? "malformed Authorization header"
                                                 : a.outcome == O::Wrong   ? "wrong user name or password"
                                                                           : "sign in first");
  // Browsers' fetch() would pop a password dialog on a Basic challenge.
  auto mode = c.req["Sec-Fetch-Mode"];
  if (mode.empty() || mode == "navigate")
    res.set(http::field::www_authenticate, "Basic realm=\"vigil\", charset=\"UTF-8\"");
  return res;
}

Reply route(Ctx& c, const std::vector<Route>& routes) {
  const http::verb method = c.req.method() == http::verb::head ? http::verb::get : c.req.method();
  const Route* found = nullptr;
  std::string allow;
  std::string_view id;
  for (const Route& r : routes) {
    std::string_view rid;
    if (!matches(r.pattern, c.parts, rid)) continue;
    if (r.method == method) {
      found = &r;
      id = rid;
      break;
    }
    allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(r.method));
  }
  if (!found) {
    if (allow.empty()) return c.error(http::status::not_found, "no such route");
    auto res = c.error(http::status::method_not_allowed, "method not allowed; use " + allow);
    res.set(http::field::allow, allow);
    return res;
  }
  if (c.upgrade && !found->websocket)
    return c.error(http::status::bad_request, "no WebSocket here");

  if (found->access != Access::Public) {
    auto attempt = c.svc.auth.authenticate(c.req, c.remote);
    if (attempt.outcome != Authenticator::Outcome::Ok) return unauthorized(c, attempt);
    c.who = attempt.who;
    if (!allowed(found->access, *c.who.user))
      return c.error(http::status::forbidden, "your role may not do this");
  }
  if (crossSite(c.req, c.svc.tls))
    return c.error(http::status::forbidden, "cross-site request refused");
  if (found->body != Body::None) {
    const bool json_needed = found->body == Body::Json || !c.req.body().empty() ||
                             c.who.via_cookie;
    if (json_needed && !isJsonBody(c.req))
      return c.error(http::status::unsupported_media_type,
                     found->body == Body::Json || !c.req.body().empty()
                         ? "the body must be JSON with Content-Type: application/json"
                         : "signed-in browsers must send Content-Type: application/json");
  }
  if (found->pattern.find("{id}") != std::string_view::npos) {
    if (!isValidId(id)) return c.error(http::status::not_found, "no such session");
    c.id = std::string(id);
  }
  return found->handler(c);
}

}  // namespace

Reply dispatch(Ctx& c, const std::vector<Route>& routes) {
  auto host = c.req[http::field::host];
  if (!hostAllowed(std::string_view(host.data(), host.size()), c.svc.config))
    return c.error(http::status::misdirected_request,
                   "the Host header does not name this gateway; open it by its [web] listen "
                   "address or set [web] public_url");
  const auto method = c.req.method();
  if (method != http::verb::get && method != http::verb::head && method != http::verb::post) {
    auto res = c.error(http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET, HEAD, POST");
    return res;
  }
  Reply r = c.parts.empty() || c.parts[0] != "api" ? handlers::webPlayer(c) : route(c, routes);
  if (method != http::verb::head) return r;
  return std::visit(
      [](auto& m) -> Reply {
        HeadResponse h{m.result(), m.version()};
        for (const auto& f : m.base()) h.set(f.name_string(), f.value());
        h.keep_alive(m.keep_alive());
        return h;
      },
      r);
}

}  // namespace vigil::gateway::api
