// Durations as people type them: `vigil grant --ttl 30m`.
#pragma once

#include <string>

#include "core/status.h"

namespace vigil::gateway::auth {

// "90s", "30m", "2h", "1d", "1h30m", or a bare number of seconds ("600").
// Returns milliseconds. Rejects empty, negative, unknown units and overflow.
Result<long long> parseDuration(const std::string& text);

}  // namespace vigil::gateway::auth
