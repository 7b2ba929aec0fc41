#include "gateway/api/login_state.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <utility>
#include <vector>

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

namespace {

// A user name or address as a key part: itself, or its SHA-256 when long, so
// that a key stays small whatever a client sends. The tag keeps a short name
// from ever equalling a long one's hash.
std::string keyPart(const std::string& s) {
  return s.size() <= 128 ? "=" + s : "#" + sha256Hex(s);
}

std::string pairKey(const std::string& address, const std::string& user) {
  std::string u = keyPart(user);
  return std::to_string(u.size()) + ':' + u + keyPart(address);
}

long long ceilSeconds(std::chrono::steady_clock::duration d) {
  return std::max<long long>(1, std::chrono::ceil<std::chrono::seconds>(d).count());
}

}  // namespace

int LoginThrottle::Table::failures(const std::string& key, SteadyTime now) {
  auto it = m_.find(key);
  if (it == m_.end()) return 0;
  if (expired(it->second, now)) {
    eraseIt(it);
    return 0;
  }
  return it->second.failures;
}

std::optional<long long> LoginThrottle::Table::blockedFor(const std::string& key,
                                                          SteadyTime now) {
  auto it = m_.find(key);
  if (it == m_.end()) return std::nullopt;
  if (expired(it->second, now)) {
    eraseIt(it);
    return std::nullopt;
  }
  if (it->second.failures < max_) return std::nullopt;
  return ceilSeconds(it->second.start + window_ - now);
}

void LoginThrottle::Table::add(const std::string& key, SteadyTime now) {
  auto it = m_.find(key);
  if (it != m_.end()) {
    if (expired(it->second, now)) it->second = Entry{0, now};
    ++it->second.failures;
    return;
  }
  if (m_.size() >= capacity_ && !makeRoom(now)) return;  // full of blocked entries
  m_.emplace(key, Entry{1, now});
}

void LoginThrottle::Table::erase(const std::string& key) {
  auto it = m_.find(key);
  if (it != m_.end()) eraseIt(it);
}

void LoginThrottle::Table::eraseIt(std::unordered_map<std::string, Entry>::iterator it) {
  m_.erase(it);
  full_until_.reset();  // a slot is free: the next full table is worth a sweep again
}

void LoginThrottle::Table::sweepExpired(SteadyTime now) {
  for (auto it = m_.begin(); it != m_.end();) {
    if (expired(it->second, now)) {
      it = m_.erase(it);
      full_until_.reset();
    } else {
      ++it;
    }
  }
}

bool LoginThrottle::Table::makeRoom(SteadyTime now) {
  // Nothing can have changed since a sweep found only blocked entries, unless
  // one was erased (which clears full_until_) or the first of them expired.
  if (full_until_ && now < *full_until_) return false;
  full_until_.reset();
  sweepExpired(now);
  // Evict down to a little below capacity so that one O(n) sweep serves many
  // inserts; oldest window first, never a blocked entry.
  const std::size_t target = capacity_ - std::max<std::size_t>(1, capacity_ / 16);
  if (m_.size() > target) {
    std::vector<std::pair<SteadyTime, std::unordered_map<std::string, Entry>::iterator>> open;
    for (auto it = m_.begin(); it != m_.end(); ++it)
      if (!isBlocked(it->second, now)) open.emplace_back(it->second.start, it);
    const std::size_t k = std::min(m_.size() - target, open.size());
    if (k > 0) {
      auto by_start = [](const auto& a, const auto& b) { return a.first < b.first; };
      std::nth_element(open.begin(), open.begin() + static_cast<std::ptrdiff_t>(k - 1), open.end(),
                       by_start);
      for (std::size_t i = 0; i < k; ++i) m_.erase(open[i].second);
    }
  }
  if (m_.size() < capacity_) return true;
  // Every entry is blocked: no room until the first of them expires.
  SteadyTime first = SteadyTime::max();
  for (const auto& [key, e] : m_) first = std::min(first, e.start + window_);
  full_until_ = first;
  return false;
}

LoginThrottle::LoginThrottle(LoginThrottleOptions options)
    : opt_(options),
      bucket_width_(std::max<std::chrono::steady_clock::duration>(
          std::chrono::steady_clock::duration(1),
          std::chrono::duration_cast<std::chrono::steady_clock::duration>(opt_.window) / kBuckets)),
      pairs_(opt_.max_per_pair, opt_.window, std::max<std::size_t>(1, opt_.max_entries)),
      addresses_(opt_.max_per_address, opt_.window, std::max<std::size_t>(1, opt_.max_entries)) {}

LoginThrottle::LoginThrottle(int max_per_user, int max_per_address, std::chrono::seconds window)
    : LoginThrottle(LoginThrottleOptions{
          .max_per_pair = max_per_user, .max_per_address = max_per_address, .window = window}) {}

long long LoginThrottle::epochOf(SteadyTime t) const {
  const auto n = t.time_since_epoch().count();
  const auto w = bucket_width_.count();
  return static_cast<long long>(n / w - (n % w < 0 ? 1 : 0));  // floor
}

int LoginThrottle::globalCountLocked(SteadyTime now) const {
  const long long cur = epochOf(now);
  int n = 0;
  for (const Bucket& b : global_)
    if (b.epoch > cur - kBuckets && b.epoch <= cur) n += b.count;
  return n;
}

long long LoginThrottle::globalWaitLocked(SteadyTime now) const {
  // The rate falls below the cap when enough of the oldest buckets have left
  // the window; bucket e leaves it when epoch e + kBuckets begins.
  const long long cur = epochOf(now);
  std::array<Bucket, kBuckets> live{};
  std::size_t n = 0;
  int total = 0;
  for (const Bucket& b : global_)
    if (b.epoch > cur - kBuckets && b.epoch <= cur) {
      live[n++] = b;
      total += b.count;
    }
  std::sort(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(n),
            [](const Bucket& a, const Bucket& b) { return a.epoch < b.epoch; });
  for (std::size_t i = 0; i < n; ++i) {
    total -= live[i].count;
    if (total < opt_.max_global)
      return ceilSeconds(SteadyTime((live[i].epoch + kBuckets) * bucket_width_) - now);
  }
  return ceilSeconds(bucket_width_);  // cannot happen while over the cap
}

std::optional<long long> LoginThrottle::blocked(const std::string& address,
                                                const std::string& user, SteadyTime now) {
  const std::string pk = pairKey(address, user), ak = keyPart(address);
  std::lock_guard lock(mu_);
  std::optional<long long> wait = pairs_.blockedFor(pk, now);
  if (auto a = addresses_.blockedFor(ak, now)) wait = std::max(wait.value_or(0), *a);
  if (opt_.max_global > 0 && globalCountLocked(now) >= opt_.max_global &&
      (addresses_.failures(ak, now) > 0 || pairs_.failures(pk, now) > 0))
    wait = std::max(wait.value_or(0), globalWaitLocked(now));
  return wait;
}

void LoginThrottle::failure(const std::string& address, const std::string& user,
                            SteadyTime now) {
  const std::string pk = pairKey(address, user), ak = keyPart(address);
  std::lock_guard lock(mu_);
  if (now >= next_sweep_) {  // once per window: O(n), so amortised O(1)
    pairs_.sweepExpired(now);
    addresses_.sweepExpired(now);
    next_sweep_ = now + opt_.window;
  }
  pairs_.add(pk, now);
  addresses_.add(ak, now);
  const long long cur = epochOf(now);
  Bucket& b = global_[static_cast<std::size_t>(((cur % kBuckets) + kBuckets) % kBuckets)];
  if (b.epoch != cur) b = Bucket{cur, 0};
  ++b.count;
}

void LoginThrottle::success(const std::string& address, const std::string& user) {
  const std::string pk = pairKey(address, user);
  std::lock_guard lock(mu_);
  pairs_.erase(pk);  // the address keeps counting: it may hold many users
}

LoginThrottle::Sizes LoginThrottle::sizes() {
  std::lock_guard lock(mu_);
  return Sizes{pairs_.size(), addresses_.size()};
}

int LoginThrottle::globalFailures(SteadyTime now) {
  std::lock_guard lock(mu_);
  return globalCountLocked(now);
}

}  // namespace vigil::gateway::api
