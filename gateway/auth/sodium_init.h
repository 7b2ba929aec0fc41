// libsodium must be initialised before use. sodium_init() is itself
// idempotent and thread-safe, so this keeps no state of its own.
#pragma once

#include "core/status.h"

namespace vigil::gateway::auth {

// Ok once libsodium is usable; an error (no usable random source) otherwise.
Status ensureSodium();

}  // namespace vigil::gateway::auth
