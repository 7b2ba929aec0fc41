#include "gateway/record_json.h"

#include <algorithm>

#include "core/clock.h"

namespace vigil::gateway {

nlohmann::json toJson(const storage::SessionRecord& s, long long live_bytes) {
  nlohmann::json j = {{"id", s.id},
                      {"user", s.user},
                      {"target", s.target},
                      {"protocol", s.protocol},
                      {"state", s.state},
                      {"started_at", formatRfc3339(s.started_at)},
                      {"ended_at", s.ended_at ? nlohmann::json(formatRfc3339(s.ended_at)) : nlohmann::json()},
                      {"duration_ms", s.durationMs()},
                      {"width", s.width},
                      {"height", s.height},
                      {"video_bytes", std::max(s.video_bytes, live_bytes)},
                      {"end_reason", s.end_reason},
                      {"client_addr", s.client_addr},
                      {"node", s.node}};
  if (s.state == "refused") {
    j["refusals"] = s.refusals;
    j["claimed_users"] = s.claimed_users;
    j["claimed_targets"] = s.claimed_targets;
  }
  return j;
}

nlohmann::json toJson(const Event& e) {
  nlohmann::json j = {{"t_ms", e.t_ms}, {"kind", toString(e.kind)}, {"text", e.text}};
  if (!e.window.empty()) j["window"] = e.window;
  if (e.direction) j["direction"] = toString(*e.direction);
  return j;
}

nlohmann::json toJson(const storage::SearchHit& h) {
  nlohmann::json j = {{"session_id", h.session_id},       {"t_ms", h.event.t_ms},
                      {"kind", toString(h.event.kind)},   {"text", h.event.text},
                      {"user", h.user},                   {"target", h.target},
                      {"started_at", formatRfc3339(h.started_at)}};
  if (!h.event.window.empty()) j["window"] = h.event.window;
  if (h.event.direction) j["direction"] = toString(*h.event.direction);
  return j;
}

nlohmann::json toJson(const storage::AlertRecord& a) {
  return {{"session_id", a.session_id}, {"t_ms", a.t_ms},     {"rule", a.rule},
          {"severity", a.severity},     {"text", a.text},     {"user", a.user},
          {"target", a.target},         {"at", formatRfc3339(a.at)}};
}

nlohmann::json toJson(const storage::AuditEntry& a) {
  nlohmann::json j = {{"at", formatRfc3339(a.at)},
                      {"actor", a.actor},
                      {"action", a.action},
                      {"object", a.object},
                      {"detail", a.detail}};
  if (a.seq > 0) j["seq"] = a.seq;  // its place in the hash chain
  return j;
}

}  // namespace vigil::gateway
