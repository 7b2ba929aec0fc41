#include "gateway/api/context.h"

#include <spdlog/spdlog.h>

#include "gateway/api/replies.h"

namespace vigil::gateway::api {

std::optional<std::string> Ctx::param(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

StrResponse Ctx::json(http::status st, const nlohmann::json& body) const {
  return jsonReply(req, st, body, svc.tls);
}

StrResponse Ctx::error(http::status st, const std::string& message) const {
  return errorReply(req, st, message, svc.tls);
}

StrResponse Ctx::unavailable(const std::string& what, const Status& s) const {
  spdlog::error("web api: {} failed: {}", what, s.message());
  auto res = error(http::status::service_unavailable, what + " unavailable; try again shortly");
  res.set(http::field::retry_after, "5");
  return res;
}

StrResponse Ctx::auditFailed() const {
  return error(http::status::service_unavailable,
               "the audit log cannot be written, so this was not done; check Redis and retry");
}

}  // namespace vigil::gateway::api
