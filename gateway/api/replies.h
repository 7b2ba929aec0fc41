// Building replies: JSON bodies, {"error": ...} with a fitting status, and the
// security headers every response carries. Internal to vigil_gateway_api.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "gateway/api/http_types.h"

namespace vigil::gateway::api {

void addSecurityHeaders(http::fields& f, bool tls);
// `body` as JSON, keep-alive as the request asked.
StrResponse jsonReply(const Request& req, http::status st, const nlohmann::json& body, bool tls);
StrResponse errorReply(const Request& req, http::status st, const std::string& message, bool tls);
// For failures before a request exists (parse errors): HTTP/1.1, connection closes.
StrResponse plainError(http::status st, const std::string& message, bool tls);
// Serialises JSON, replacing invalid UTF-8 rather than throwing.
std::string dumpJson(const nlohmann::json& j);

}  // namespace vigil::gateway::api
