#include "gateway/api/handlers/handlers.h"
#include "gateway/api/router.h"

namespace vigil::gateway::api {

const std::vector<Route>& apiRoutes() {
  using V = http::verb;
  namespace h = handlers;
  static const std::vector<Route> kRoutes = {
      {V::post, "/api/login", Access::Public, Body::Json, h::login},
      {V::post, "/api/logout", Access::SignedIn, Body::Optional, h::logout},
      {V::get, "/api/me", Access::SignedIn, Body::None, h::me},
      {V::get, "/api/sessions", Access::Staff, Body::None, h::listSessions},
      {V::get, "/api/sessions/{id}", Access::Staff, Body::None, h::getSession},
      {V::get, "/api/sessions/{id}/events", Access::Staff, Body::None, h::sessionEvents},
      {V::get, "/api/sessions/{id}/video", Access::Staff, Body::None, h::video},
      {V::get, "/api/sessions/{id}/thumbnail", Access::Security, Body::None, h::thumbnail},
      {V::get, "/api/sessions/{id}/live", Access::Security, Body::None, h::live, true},
      {V::get, "/api/sessions/{id}/bundle", Access::Staff, Body::None, h::bundle},
      {V::get, "/api/sessions/{id}/verify", Access::Staff, Body::None, h::verifySession},
      {V::post, "/api/sessions/{id}/terminate", Access::Security, Body::Optional, h::terminate},
      {V::get, "/api/search", Access::Staff, Body::None, h::search},
      {V::post, "/api/grants", Access::Security, Body::Json, h::issueGrant},
      {V::get, "/api/alerts", Access::Security, Body::None, h::listAlerts},
      {V::get, "/api/audit", Access::Admin, Body::None, h::auditLog},
      {V::get, "/api/audit/verify", Access::Admin, Body::None, h::verifyAuditLog},
  };
  return kRoutes;
}

}  // namespace vigil::gateway::api
