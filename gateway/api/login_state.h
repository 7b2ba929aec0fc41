// Server-side sign-in state: cookie sessions (random tokens, expiry, idle
// limit) and throttling of failed sign-ins per (user, address), per address
// and overall.
// Thread-safe (one mutex each). Internal to vigil_gateway_api.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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

// Failed sign-ins are throttled on three scales, so that nobody can lock a
// user out from somewhere else and nobody can guess at leisure:
//  - per (user, address): `max_per_pair` failures within `window` (counted
//    from the pair's first failure) block that pair until the window ends; a
//    success clears it. An attacker failing on "admin" from A does not touch
//    "admin" from B (the old per-user lock let anyone lock the admin out).
//  - per address, all users: `max_per_address` failures block the address, so
//    one address cannot spray many user names. A success does not clear it.
//  - everywhere: when `max_global` failures fell within the last `window`
//    (a sliding window in steps of window/10), an address that failed within
//    its window is refused until the rate falls; an address with no recent
//    failure still gets its attempt, so a distributed attack on the admin's
//    name never locks the real admin (on a clean address) out.
// Residual risk: an attacker with many fresh addresses still gets about one
// try per address per window while the global cap holds (more if the
// address table churns past `max_entries`); strong passwords and argon2 are
// what bound that. A user's one typo while the cap holds means waiting too.
//
// Memory: each table (pairs, addresses) holds at most `max_entries`. When a
// new key finds it full, entries whose window ended go first, then the
// oldest entries that are not blocked (a batch of max_entries/16, so that
// one O(n) sweep pays for many inserts); a blocked entry is never evicted.
// If a table is full of blocked entries, the new key is not stored (its
// failure still counts toward the global cap) until the first of them
// expires. With the global cap on, that cannot happen with sane settings:
// once the cap holds, only first failures of clean pairs are admitted, so
// at most about 2 * max_global / (max_per_pair - 1) pairs (and
// 2 * max_global / (max_per_address - 1) addresses) get blocked per window,
// far below max_entries with the defaults. Expired entries are also swept
// once per window. User names and addresses longer than 128 bytes are kept
// as their SHA-256, so a key costs little whatever the client sends.
//
// The caller must treat a sign-in with an unknown user name like a wrong
// password: call failure() the same way, and spend the same argon2 cost
// (verify the password against a real or dummy hash) so that timing does not
// tell which names exist. This class cannot do that part; the API does.
//
// Thread-safe (one mutex); time is a parameter.
struct LoginThrottleOptions {
  int max_per_pair = 5;        // failures of one user from one address per window
  int max_per_address = 20;    // failures from one address, all users, per window
  int max_global = 300;        // failures everywhere per window; <= 0: no global cap
  std::chrono::seconds window{300};
  std::size_t max_entries = 10000;  // per table (pairs, addresses)
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottleOptions options = {});
  // The API's former shape: max_per_user now counts per (user, address);
  // the global cap and table size keep their defaults.
  LoginThrottle(int max_per_user, int max_per_address, std::chrono::seconds window);

  // Seconds until `user` from `address` may try again (>= 1); nullopt if it
  // may now.
  std::optional<long long> blocked(const std::string& address, const std::string& user,
                                   SteadyTime now);
  // A failed attempt (wrong password or unknown user).
  void failure(const std::string& address, const std::string& user, SteadyTime now);
  // A good password: clears the (user, address) pair, not the address.
  void success(const std::string& address, const std::string& user);

  // For tests and metrics.
  struct Sizes {
    std::size_t pairs = 0, addresses = 0;
  };
  Sizes sizes();
  int globalFailures(SteadyTime now);  // failures counted in the global window

 private:
  // Failure counts per key with fixed windows, bounded in size.
  class Table {
   public:
    Table(int max, std::chrono::seconds window, std::size_t capacity)
        : max_(max), window_(window), capacity_(capacity) {}
    int failures(const std::string& key, SteadyTime now);  // 0 if none or expired
    std::optional<long long> blockedFor(const std::string& key, SteadyTime now);
    void add(const std::string& key, SteadyTime now);  // may not store (see above)
    void erase(const std::string& key);
    void sweepExpired(SteadyTime now);
    std::size_t size() const { return m_.size(); }

   private:
    struct Entry {
      int failures = 0;
      SteadyTime start;
    };
    bool expired(const Entry& e, SteadyTime now) const { return now - e.start >= window_; }
    bool isBlocked(const Entry& e, SteadyTime now) const {
      return e.failures >= max_ && !expired(e, now);
    }
    bool makeRoom(SteadyTime now);  // true if a new key may be stored
    void eraseIt(std::unordered_map<std::string, Entry>::iterator it);

    int max_;
    std::chrono::seconds window_;
    std::size_t capacity_;
    std::unordered_map<std::string, Entry> m_;
    std::optional<SteadyTime> full_until_;  // full of blocked entries: no sweep before
  };

  static constexpr int kBuckets = 10;
  struct Bucket {
    long long epoch = std::numeric_limits<long long>::min();
    int count = 0;
  };
  long long epochOf(SteadyTime t) const;
  int globalCountLocked(SteadyTime now) const;
  long long globalWaitLocked(SteadyTime now) const;

  LoginThrottleOptions opt_;
  std::chrono::steady_clock::duration bucket_width_;
  std::mutex mu_;
  Table pairs_, addresses_;
  std::array<Bucket, kBuckets> global_{};
  SteadyTime next_sweep_{};
};

}  // namespace vigil::gateway::api
