// GET /api/sessions, /api/sessions/{id}, /api/sessions/{id}/events and
// POST /api/sessions/{id}/terminate.
#include <spdlog/spdlog.h>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/handlers/params.h"
#include "gateway/record_json.h"

namespace vigil::gateway::api::handlers {
namespace {

// The session's record, or the reply that says why there is none.
std::variant<storage::SessionRecord, StrResponse> findSession(const Ctx& c) {
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  return *rec.value();
}

}  // namespace

Reply listSessions(Ctx& c) {
  storage::SessionFilter f;
  if (auto err = parseFilter(c, f)) return std::move(*err);
  if (auto state = c.param("state")) {
    if (*state != "live" && *state != "ended" && *state != "refused")
      return c.error(http::status::bad_request, "state must be live, ended or refused");
    f.state = *state;
  }
  auto list = c.svc.deps.store.listSessions(f);
  if (!list.ok()) return c.unavailable("the session store", list.status());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& s : list.value()) arr.push_back(toJson(s, c.svc.recordings.liveBytes(s)));
  return c.json(http::status::ok, {{"sessions", arr}});
}

Reply getSession(Ctx& c) {
  auto found = findSession(c);
  if (auto* err = std::get_if<StrResponse>(&found)) return std::move(*err);
  const auto& s = std::get<storage::SessionRecord>(found);
  if (!c.svc.audit.recordRepeated(c.user(), "view", c.id, "session details").ok())
    return c.auditFailed();
  return c.json(http::status::ok, toJson(s, c.svc.recordings.liveBytes(s)));
}

Reply sessionEvents(Ctx& c) {
  std::vector<EventKind> kinds;
  if (auto list = c.param("kind")) {
    std::string_view rest = *list;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      auto k = parseEventKind(rest.substr(0, comma));
      if (!k)
        return c.error(http::status::bad_request,
                       "kind must be a comma list of key, title, clipboard, alert, lifecycle");
      kinds.push_back(*k);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  auto found = findSession(c);
  if (auto* err = std::get_if<StrResponse>(&found)) return std::move(*err);
  auto events = c.svc.deps.store.events(c.id, kinds);
  if (!events.ok()) return c.unavailable("the event store", events.status());
  if (!c.svc.audit.recordRepeated(c.user(), "view", c.id, "events").ok()) return c.auditFailed();
  nlohmann::json arr = nlohmann::json::array();
  for (const Event& e : events.value()) arr.push_back(toJson(e));
  return c.json(http::status::ok, {{"events", arr}});
}

Reply terminate(Ctx& c) {
  auto found = findSession(c);
  if (auto* err = std::get_if<StrResponse>(&found)) return std::move(*err);
  if (std::get<storage::SessionRecord>(found).state != "live")
    return c.error(http::status::conflict, "the session has already ended");
  if (!c.svc.audit.record(c.user(), "terminate", c.id, "from " + c.remote).ok())
    return c.auditFailed();
  if (Status s = c.svc.deps.sessions.terminate(c.id, c.user()); !s.ok()) {
    spdlog::error("terminate failed session={} by={}: {}", c.id, c.user(), s.message());
    (void)c.svc.audit.record(c.user(), "terminate_failed", c.id, s.message());
    return c.error(http::status::bad_gateway, "could not terminate: " + s.message());
  }
  spdlog::info("session terminated via web session={} by={}", c.id, c.user());
  return c.json(http::status::accepted, {{"status", "terminating"}, {"id", c.id}});
}

}  // namespace vigil::gateway::api::handlers
