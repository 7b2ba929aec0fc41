// GET /api/alerts?since=&limit=: alerts raised by rules across sessions,
// newest first. `since` is an RFC 3339 time (bad: 400); a store that fails
// is an outage (503).
#include "core/clock.h"
#include "gateway/api/handlers/handlers.h"
#include "gateway/api/handlers/params.h"
#include "gateway/record_json.h"

namespace vigil::gateway::api::handlers {

Reply listAlerts(Ctx& c) {
  EpochMillis since = 0;
  if (auto v = c.param("since")) {
    auto t = parseRfc3339(*v);
    if (!t)
      return c.error(http::status::bad_request,
                     "since must be an RFC 3339 time such as 2026-11-22T14:03:05Z");
    since = *t;
  }
  std::size_t limit = 0;
  if (auto err = parseLimit(c, 100, limit)) return std::move(*err);
  auto alerts = c.svc.deps.store.alerts(since, limit);
  if (!alerts.ok()) return c.unavailable("alerts", alerts.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& a : alerts.value()) arr.push_back(toJson(a));
  return c.json(http::status::ok, {{"alerts", arr}});
}

}  // namespace vigil::gateway::api::handlers
