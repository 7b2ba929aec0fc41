// Server-side sign-in state: cookie sessions (random tokens, expiry, idle
// limit) and throttling of failed sign-ins per address and per user.
// Thread-safe (one mutex each). Internal to vigil_gateway_api.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace vigil::gateway::api {

using SteadyTime = std::chrono::steady_clock::time_point;

// 32 random bytes, hex (OpenSSL's CSPRNG).
std::string randomToken();
// SHA-256, hex.
std::string sha256Hex(const std::string& data);

class LoginSessions {
 public:
  LoginSessions(std::chrono::seconds ttl, std::chrono::seconds idle) : ttl_(ttl), idle_(idle) {}
  // Returns the new token (the cookie value). Only its hash is kept.
  std::string create(const std::string& user, SteadyTime now);
  // The user signed in with `token`, refreshing its idle timer.
  std::optional<std::string> lookup(const std::string& token, SteadyTime now);
  void remove(const std::string& token);
  std::size_t size();

 private:
  struct Entry {
    std::string user;
    SteadyTime created, last_used;
  };
  void pruneLocked(SteadyTime now);
  std::chrono::seconds ttl_, idle_;
  std::mutex mu_;
  std::map<std::string, Entry> by_hash_;
};

class LoginThrottle {
 public:
  LoginThrottle(int max_per_user, int max_per_address, std::chrono::seconds window)
      : max_user_(max_per_user), max_addr_(max_per_address), window_(window) {}
  // Seconds until `user` from `address` may try again; nullopt if it may now.
  std::optional<long long> blocked(const std::string& address, const std::string& user,
                                   SteadyTime now);
  void failure(const std::string& address, const std::string& user, SteadyTime now);
  void success(const std::string& address, const std::string& user);

 private:
  struct Count {
    int failures = 0;
    SteadyTime window_start;
  };
  std::optional<long long> check(std::map<std::string, Count>& m, const std::string& key, int max,
                                 SteadyTime now);
  void bump(std::map<std::string, Count>& m, const std::string& key, SteadyTime now);
  int max_user_, max_addr_;
  std::chrono::seconds window_;
  std::mutex mu_;
  std::map<std::string, Count> users_, addresses_;
};

}  // namespace vigil::gateway::api
