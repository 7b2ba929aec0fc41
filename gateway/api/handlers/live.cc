// GET /api/sessions/{id}/thumbnail (the Live page's cards) and
// GET /api/sessions/{id}/live (the WebSocket; the connection takes over once
// this handler has set Ctx::live).
#include <spdlog/spdlog.h>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/replies.h"

namespace vigil::gateway::api::handlers {

Reply thumbnail(Ctx& c) {
  if (!c.svc.deps.sessions.find(c.id))
    return c.error(http::status::not_found, "no live session with this id here");
  if (!c.svc.audit.recordRepeated(c.user(), "thumbnail", c.id, "live page").ok())
    return c.auditFailed();
  std::string jpeg;
  switch (c.svc.thumbnails.latest(c.id, 480, c.svc.options.jpeg_quality, jpeg)) {
    case Thumbnails::Status::NotLive:
      return c.error(http::status::not_found, "no live session with this id here");
    case Thumbnails::Status::NoPictureYet: {
      auto res = c.error(http::status::service_unavailable, "no picture from this session yet");
      res.set(http::field::retry_after, "1");
      return res;
    }
    case Thumbnails::Status::Ok:
      break;
  }
  StrResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "image/jpeg");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res, c.svc.tls);
  res.keep_alive(c.req.keep_alive());
  res.body() = std::move(jpeg);
  res.prepare_payload();
  return res;
}

Reply live(Ctx& c) {
  if (!c.upgrade) {
    auto res = c.error(http::status::upgrade_required, "this is a WebSocket endpoint");
    res.set(http::field::upgrade, "websocket");
    return res;
  }
  auto session = c.svc.deps.sessions.find(c.id);
  if (!session) return c.error(http::status::not_found, "no live session with this id here");
  if (!c.svc.audit.record(c.user(), "live", c.id, "from " + c.remote).ok()) return c.auditFailed();
  c.live = std::move(session);
  return StrResponse{http::status::switching_protocols, c.req.version()};
}

}  // namespace vigil::gateway::api::handlers
