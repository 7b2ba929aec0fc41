// What a request handler sees: the request, who sent it (after the router's
// authentication and role step), and the services the handlers share.
// Internal to vigil_gateway_api.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "gateway/api/api_server.h"
#include "gateway/api/audit_trail.h"
#include "gateway/api/authenticator.h"
#include "gateway/api/http_types.h"
#include "gateway/api/recording_files.h"
#include "gateway/api/static_files.h"
#include "gateway/api/thumbnails.h"

namespace vigil::gateway::api {

// Owned by the server; shared by every request. Each member is thread-safe.
struct Services {
  const Config& config;
  ApiDeps& deps;
  const ApiOptions& options;
  Authenticator& auth;
  AuditTrail& audit;
  Thumbnails& thumbnails;
  const RecordingFiles& recordings;
  const StaticFiles& files;
  bool tls = false;
};

struct Ctx {
  Services& svc;
  const Request& req;
  std::string remote;  // the client's address
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> query;
  std::vector<std::string_view> parts;  // path segments
  bool upgrade = false;                 // a WebSocket upgrade request
  Principal who;                        // set by the router before any handler
  std::string id;                       // the route's {id}, a valid session id
  std::shared_ptr<Session> live;        // set by the live handler: accept the WebSocket

  const std::string& user() const { return who.user->name; }
  // The query parameter, if present and not empty.
  std::optional<std::string> param(const std::string& name) const;
  StrResponse json(http::status st, const nlohmann::json& body) const;
  StrResponse error(http::status st, const std::string& message) const;
  // The store failed (an outage, not the caller's fault): logged, 503.
  StrResponse unavailable(const std::string& what, const Status& s) const;
  // The audit entry for this action could not be written: 503, not done.
  StrResponse auditFailed() const;
};

}  // namespace vigil::gateway::api
