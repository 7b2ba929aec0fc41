// Checks on where a request comes from, before any handler runs. Pure
// functions; thread-safe. Internal to vigil_gateway_api.
#pragma once

#include <string_view>

#include "core/config.h"
#include "gateway/api/http_types.h"

namespace vigil::gateway::api {

// The Host header names this gateway: the [web] listen host, the host of
// [web] public_url, localhost when listening on loopback, or an IP literal.
// A DNS name of someone else's (DNS rebinding onto a loopback-only API) is
// refused. The port is not compared: proxies change it.
bool hostAllowed(std::string_view host_header, const Config& config);

// A browser says the request comes from another site: an Origin that is not
// ours, or Sec-Fetch-Site cross-site / same-site. Tools (curl) send neither.
bool crossSite(const Request& req, bool tls);

// Content-Type is application/json (parameters such as charset allowed).
bool isJsonBody(const Request& req);

}  // namespace vigil::gateway::api
