// User passwords: argon2id (libsodium), in the PHC string form that
// `vigil hash-password` prints and the config holds.
#pragma once

#include <string>

#include "core/status.h"

namespace vigil::gateway::auth {

// Thread-safe. Takes ~0.1 s and 64 MiB by design.
Result<std::string> hashPassword(const std::string& password);
// Constant-time; false for a malformed hash.
bool verifyPassword(const std::string& hash, const std::string& password);

}  // namespace vigil::gateway::auth
