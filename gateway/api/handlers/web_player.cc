// The browser app: the sign-in page for strangers, the player for users.
#include "gateway/api/handlers/handlers.h"
#include "gateway/api/replies.h"

namespace vigil::gateway::api::handlers {

Reply webPlayer(Ctx& c) {
  if (c.req.method() == http::verb::post)
    return c.error(http::status::method_not_allowed, "method not allowed");
  const bool signed_in = c.svc.auth.cookieUser(c.req).has_value();
  std::string path = c.path;
  if (path == "/" || path == "/index.html") path = signed_in ? "/index.html" : "/login.html";
  const StaticFiles::File* file = c.svc.files.find(path);
  if (!file) return c.error(http::status::not_found, "not found");
  if (!signed_in && !StaticFiles::isPublic(path)) {
    // API clients may fetch the assets with Basic too.
    auto attempt = c.svc.auth.authenticate(c.req, c.remote);
    if (attempt.outcome != Authenticator::Outcome::Ok)
      return c.error(http::status::unauthorized, "sign in first");
  }
  StrResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, file->mime);
  res.set(http::field::cache_control, "no-cache");
  addSecurityHeaders(res, c.svc.tls);
  res.keep_alive(c.req.keep_alive());
  res.body() = file->content;
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api::handlers
