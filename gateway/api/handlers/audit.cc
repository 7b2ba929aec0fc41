// GET /api/audit: who viewed, searched, exported or terminated what, when.
#include "gateway/api/handlers/handlers.h"
#include "gateway/api/handlers/params.h"
#include "gateway/record_json.h"

namespace vigil::gateway::api::handlers {

Reply auditLog(Ctx& c) {
  std::size_t limit = 0;
  if (auto err = parseLimit(c, 200, limit)) return std::move(*err);
  auto entries = c.svc.deps.store.audit(limit);
  if (!entries.ok()) return c.unavailable("the audit log", entries.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& a : entries.value()) arr.push_back(toJson(a));
  return c.json(http::status::ok, {{"entries", arr}});
}

}  // namespace vigil::gateway::api::handlers
