// The API's routing table and the one pipeline every request passes:
//   Host check → route match (404) → method (405) → authentication (401) →
//   role (403) → cross-site guard (403) → content check (415) → handler.
// Who may do what is decided before anything about the request's content is
// looked at, so a caller without the role always gets 403. Internal.
#pragma once

#include <string_view>
#include <vector>

#include "gateway/api/context.h"

namespace vigil::gateway::api {

enum class Access { Public, SignedIn, Staff, Security, Admin };
enum class Body {
  None,      // GET
  Json,      // a JSON body is required (Content-Type: application/json)
  Optional,  // bodyless POST: fine for HTTP Basic clients; cookie sessions and
             // any request with a body must send JSON
};
using Handler = Reply (*)(Ctx&);

struct Route {
  http::verb method;
  std::string_view pattern;  // "/api/sessions/{id}/video"; {id} is a session id
  Access access;
  Body body;
  Handler handler;
  bool websocket = false;  // the route accepts a WebSocket upgrade
};

// Every /api route (CONTRACT.md "HTTP API"), in routes.cc.
const std::vector<Route>& apiRoutes();

// Runs the pipeline for one request. Paths outside /api are the web player.
Reply dispatch(Ctx& c, const std::vector<Route>& routes);

}  // namespace vigil::gateway::api
