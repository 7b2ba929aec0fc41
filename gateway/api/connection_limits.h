// Connection slots of the web API: a total and a per-address cap, so one
// address holding slow connections cannot take the slots everyone else
// needs to watch or terminate a session. Thread-safe.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

namespace vigil::gateway::api {

class ConnectionLimits {
 public:
  ConnectionLimits(std::size_t total, std::size_t per_address)
      : total_(total), per_address_(per_address) {}
  // Takes a slot for `address`; false when either cap is reached.
  bool acquire(const std::string& address);
  void release(const std::string& address);
  std::size_t open() const;

 private:
  std::size_t total_, per_address_;
  mutable std::mutex mu_;
  std::size_t open_ = 0;
  std::map<std::string, std::size_t> by_address_;
};

}  // namespace vigil::gateway::api
