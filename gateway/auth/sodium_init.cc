#include "gateway/auth/sodium_init.h"

#include <sodium.h>

namespace vigil::gateway::auth {

Status ensureSodium() {
  // 0 = initialised now, 1 = already initialised, -1 = failure.
  if (sodium_init() < 0)
    return Status::Error("libsodium failed to initialise (is /dev/urandom available?)");
  return Status::Ok();
}

}  // namespace vigil::gateway::auth
