#include "gateway/api/replies.h"

namespace vigil::gateway::api {

std::string dumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void addSecurityHeaders(http::fields& f, bool tls) {
  f.set("Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  f.set("X-Content-Type-Options", "nosniff");
  f.set("X-Frame-Options", "DENY");
  f.set("Referrer-Policy", "no-referrer");
  f.set("Cross-Origin-Opener-Policy", "same-origin");
  f.set("Cross-Origin-Resource-Policy", "same-origin");
  if (tls) f.set("Strict-Transport-Security", "max-age=31536000");
  f.set(http::field::server, "vigil");
}

StrResponse jsonReply(const Request& req, http::status st, const nlohmann::json& body, bool tls) {
  StrResponse res{st, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res, tls);
  res.keep_alive(req.keep_alive());
  res.body() = dumpJson(body);
  res.prepare_payload();
  return res;
}

StrResponse errorReply(const Request& req, http::status st, const std::string& message, bool tls) {
  return jsonReply(req, st, {{"error", message}}, tls);
}

StrResponse plainError(http::status st, const std::string& message, bool tls) {
  StrResponse res{st, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res, tls);
  res.body() = dumpJson({{"error", message}});
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api
