// GET /api/search?q=...: a query with no words is the caller's mistake (400),
// a store that fails is an outage (503).
#include "gateway/api/handlers/handlers.h"
#include "gateway/api/handlers/params.h"
#include "gateway/record_json.h"
#include "storage/search_query.h"

namespace vigil::gateway::api::handlers {

Reply search(Ctx& c) {
  auto q = c.param("q");
  if (!q) return c.error(http::status::bad_request, "q (the search words) is required");
  if (auto parsed = storage::parseSearchQuery(*q); !parsed.ok())
    return c.error(http::status::bad_request, "q: " + parsed.message());
  storage::SessionFilter f;
  if (auto err = parseFilter(c, f)) return std::move(*err);
  std::string scope;
  if (f.user) scope += "user=" + *f.user + " ";
  if (f.target) scope += "target=" + *f.target + " ";
  // Audited before the store is asked: a search nobody can account for never runs.
  if (!c.svc.audit.record(c.user(), "search", *q, scope + "from " + c.remote).ok())
    return c.auditFailed();
  auto hits = c.svc.deps.store.search(*q, f);
  if (!hits.ok()) return c.unavailable("search", hits.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& h : hits.value()) arr.push_back(toJson(h));
  return c.json(http::status::ok, {{"hits", arr}});
}

}  // namespace vigil::gateway::api::handlers
