// One file per resource; each handler runs after the router has checked the
// caller's identity and role (Ctx::who is set, Ctx::id is a valid id).
// Handlers run on the API's worker threads and may block on Redis.
#pragma once

#include "gateway/api/context.h"

namespace vigil::gateway::api::handlers {

// auth.cc: sign-in, sign-out, who am I
Reply login(Ctx& c);
Reply logout(Ctx& c);
Reply me(Ctx& c);
// sessions.cc
Reply listSessions(Ctx& c);
Reply getSession(Ctx& c);
Reply sessionEvents(Ctx& c);
Reply terminate(Ctx& c);
// search.cc
Reply search(Ctx& c);
// video.cc: the recording, with Range
Reply video(Ctx& c);
// live.cc: the Live page's thumbnails and the live WebSocket
Reply thumbnail(Ctx& c);
Reply live(Ctx& c);
// evidence.cc: the evidence bundle and the integrity check
Reply bundle(Ctx& c);
Reply verifySession(Ctx& c);
// grants.cc
Reply issueGrant(Ctx& c);
// audit.cc
Reply auditLog(Ctx& c);
Reply verifyAuditLog(Ctx& c);
// alerts.cc: alerts raised by rules, across sessions
Reply listAlerts(Ctx& c);
// web_player.cc: the browser app's files
Reply webPlayer(Ctx& c);

}  // namespace vigil::gateway::api::handlers
