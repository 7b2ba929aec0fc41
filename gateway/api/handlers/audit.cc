// GET /api/audit?since=&actor=&action=&limit=: who viewed, searched,
// exported or terminated what, when (newest first).
// GET /api/audit/verify: the log's hash chain and signed checkpoint checked now.
#include "core/clock.h"
#include "gateway/api/handlers/handlers.h"
#include "gateway/api/handlers/params.h"
#include "gateway/record_json.h"

namespace vigil::gateway::api::handlers {

Reply auditLog(Ctx& c) {
  storage::AuditFilter f;
  if (auto err = parseLimit(c, 200, f.limit)) return std::move(*err);
  if (auto since = c.param("since")) {
    f.since = parseRfc3339(*since);
    if (!f.since)
      return c.error(http::status::bad_request,
                     "since must be an RFC 3339 time such as 2026-11-22T14:03:05Z");
  }
  f.actor = c.param("actor");
  f.action = c.param("action");
  auto entries = c.svc.deps.store.findAudit(f);
  if (!entries.ok()) return c.unavailable("the audit log", entries.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& a : entries.value()) arr.push_back(toJson(a));
  return c.json(http::status::ok, {{"entries", arr}});
}

Reply verifyAuditLog(Ctx& c) {
  auto v = c.svc.deps.store.verifyAudit();
  if (!v.ok()) return c.unavailable("the audit log", v.status());
  const auto& r = v.value();
  return c.json(http::status::ok, {{"verified", r.intact},
                                   {"detail", r.detail},
                                   {"first_seq", r.first_seq},
                                   {"last_seq", r.last_seq},
                                   {"entries", r.entries},
                                   {"signature_checked", r.signature_checked}});
}

}  // namespace vigil::gateway::api::handlers
