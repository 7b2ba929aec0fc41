#include "gateway/api/login_state.h"

#include <array>
#include <stdexcept>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gateway/api/http_util.h"

namespace vigil::gateway::api {
namespace {
constexpr std::size_t kMaxEntries = 10000;  // bounds memory under a spray of names
}

std::string randomToken() {
  std::array<unsigned char, 32> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed");  // no entropy: cannot go on safely
  return toHex(b.data(), b.size());
}

std::string sha256Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &n, EVP_sha256(), nullptr);
  return toHex(md.data(), n);
}

std::string LoginSessions::create(const std::string& user, SteadyTime now) {
  std::string token = randomToken();
  std::lock_guard lock(mu_);
  pruneLocked(now);
  by_hash_[sha256Hex(token)] = Entry{user, now, now};
  return token;
}

std::optional<std::string> LoginSessions::lookup(const std::string& token, SteadyTime now) {
  if (token.size() != 64) return std::nullopt;
  const std::string h = sha256Hex(token);
  std::lock_guard lock(mu_);
  auto it = by_hash_.find(h);
  if (it == by_hash_.end()) return std::nullopt;
  if (now - it->second.created > ttl_ || now - it->second.last_used > idle_) {
    by_hash_.erase(it);
    return std::nullopt;
  }
  it->second.last_used = now;
  return it->second.user;
}

void LoginSessions::remove(const std::string& token) {
  const std::string h = sha256Hex(token);
  std::lock_guard lock(mu_);
  by_hash_.erase(h);
}

std::size_t LoginSessions::size() {
  std::lock_guard lock(mu_);
  return by_hash_.size();
}

void LoginSessions::pruneLocked(SteadyTime now) {
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    if (now - it->second.created > ttl_ || now - it->second.last_used > idle_)
      it = by_hash_.erase(it);
    else
      ++it;
  }
  // Still full: drop the least recently used.
  while (by_hash_.size() >= kMaxEntries) {
    auto oldest = by_hash_.begin();
    for (auto it = by_hash_.begin(); it != by_hash_.end(); ++it)
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    by_hash_.erase(oldest);
  }
}

std::optional<long long> LoginThrottle::check(std::map<std::string, Count>& m,
                                              const std::string& key, int max, SteadyTime now) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  const auto elapsed = now - it->second.window_start;
  if (elapsed >= window_) {
    m.erase(it);
    return std::nullopt;
  }
  if (it->second.failures < max) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(window_ - elapsed).count() + 1;
}

void LoginThrottle::bump(std::map<std::string, Count>& m, const std::string& key,
                         SteadyTime now) {
  if (m.size() >= kMaxEntries) {
    for (auto it = m.begin(); it != m.end();)
      it = now - it->second.window_start >= window_ ? m.erase(it) : std::next(it);
    if (m.size() >= kMaxEntries) m.erase(m.begin());
  }
  auto [it, inserted] = m.try_emplace(key, Count{0, now});
  if (!inserted && now - it->second.window_start >= window_) it->second = Count{0, now};
  ++it->second.failures;
}

std::optional<long long> LoginThrottle::blocked(const std::string& address,
                                                const std::string& user, SteadyTime now) {
  std::lock_guard lock(mu_);
  auto a = check(addresses_, address, max_addr_, now);
  auto u = check(users_, user, max_user_, now);
  if (a && u) return std::max(*a, *u);
  return a ? a : u;
}

void LoginThrottle::failure(const std::string& address, const std::string& user,
                            SteadyTime now) {
  std::lock_guard lock(mu_);
  bump(addresses_, address, now);
  bump(users_, user, now);
}

void LoginThrottle::success(const std::string& address, const std::string& user) {
  (void)address;  // an address may hold many users: keep counting its failures
  std::lock_guard lock(mu_);
  users_.erase(user);
}

}  // namespace vigil::gateway::api
