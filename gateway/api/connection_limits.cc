#include "gateway/api/connection_limits.h"

namespace vigil::gateway::api {

bool ConnectionLimits::acquire(const std::string& address) {
  std::lock_guard lock(mu_);
  if (open_ >= total_) return false;
  std::size_t& n = by_address_[address];
  if (n >= per_address_) return false;
  ++n;
  ++open_;
  return true;
}

void ConnectionLimits::release(const std::string& address) {
  std::lock_guard lock(mu_);
  auto it = by_address_.find(address);
  if (it == by_address_.end()) return;
  if (--it->second == 0) by_address_.erase(it);
  --open_;
}

std::size_t ConnectionLimits::open() const {
  std::lock_guard lock(mu_);
  return open_;
}

}  // namespace vigil::gateway::api
