// Query parameters several resources share (filters, limits), validated so
// bad input is a 400 that says what is wrong.
#pragma once

#include <optional>

#include "gateway/api/context.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::api::handlers {

// limit=1..1000 (default `def`); an error reply if malformed.
std::optional<StrResponse> parseLimit(const Ctx& c, std::size_t def, std::size_t& out);
// user, target, from, to (RFC 3339), limit.
std::optional<StrResponse> parseFilter(const Ctx& c, storage::SessionFilter& f);

}  // namespace vigil::gateway::api::handlers
