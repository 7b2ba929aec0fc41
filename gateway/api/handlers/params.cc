#include "gateway/api/handlers/params.h"

#include <algorithm>

#include "core/clock.h"

namespace vigil::gateway::api::handlers {
namespace {
constexpr std::size_t kMaxLimit = 1000;
}

std::optional<StrResponse> parseLimit(const Ctx& c, std::size_t def, std::size_t& out) {
  auto v = c.param("limit");
  if (!v) {
    out = def;
    return std::nullopt;
  }
  const bool digits = v->size() <= 6 && std::all_of(v->begin(), v->end(), [](char ch) {
                        return ch >= '0' && ch <= '9';
                      });
  const std::size_t n = digits ? std::stoul(*v) : 0;
  if (n < 1 || n > kMaxLimit)
    return c.error(http::status::bad_request, "limit must be a whole number from 1 to 1000");
  out = n;
  return std::nullopt;
}

std::optional<StrResponse> parseFilter(const Ctx& c, storage::SessionFilter& f) {
  for (const char* key : {"user", "target"}) {
    auto v = c.param(key);
    if (!v) continue;
    if (v->size() > 128) return c.error(http::status::bad_request, std::string(key) + " is too long");
    (std::string_view(key) == "user" ? f.user : f.target) = *v;
  }
  for (const char* key : {"from", "to"}) {
    auto v = c.param(key);
    if (!v) continue;
    auto t = parseRfc3339(*v);
    if (!t)
      return c.error(http::status::bad_request,
                     std::string(key) + " must be an RFC 3339 time such as 2026-11-22T14:03:05Z");
    (std::string_view(key) == "from" ? f.from : f.to) = *t;
  }
  if (f.from && f.to && *f.from > *f.to)
    return c.error(http::status::bad_request, "from is after to");
  return parseLimit(c, 100, f.limit);
}

}  // namespace vigil::gateway::api::handlers
