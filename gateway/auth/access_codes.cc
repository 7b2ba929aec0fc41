#include "gateway/auth/access_codes.h"

#include "core/unique_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/clock.h"
#include "gateway/auth/file_modes.h"
#include "gateway/auth/sodium_init.h"
#include "gateway/auth/vnc_des.h"

namespace vigil::gateway::auth {
namespace {

using Key = std::array<std::uint8_t, 32>;

using Fd = UniqueFd;

std::string errnoText(int e) { return std::strerror(e); }

// The hash key and the sealing key are derived separately from the one
// stored key, so no key serves two primitives.
enum class Purpose : std::uint64_t { Lookup = 1, Seal = 2 };

Key subkey(const Key& master, Purpose p) {
  Key out{};
  static_assert(crypto_kdf_KEYBYTES == 32);
  crypto_kdf_derive_from_key(out.data(), out.size(), static_cast<std::uint64_t>(p), "vigilcod",
                             master.data());
  return out;
}

std::string toHex(const std::uint8_t* data, std::size_t n) {
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), data, n);
  hex.pop_back();
  return hex;
}

std::string codeId(const Key& master, const std::string& code) {
  const Key k = subkey(master, Purpose::Lookup);
  std::array<std::uint8_t, 32> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(code.data()),
                     code.size(), k.data(), k.size());
  return toHex(h.data(), h.size());
}

std::string seal(const Key& master, const std::string& code) {
  const Key k = subkey(master, Purpose::Seal);
  std::vector<std::uint8_t> box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES +
                                code.size());
  randombytes_buf(box.data(), crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(box.data() + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(code.data()), code.size(),
                        box.data(), k.data());
  std::string b64(sodium_base64_encoded_len(box.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), box.data(), box.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.pop_back();  // the terminating NUL
  return b64;
}

// The code inside `rec.sealed`, if it opens with our key and belongs to
// `rec.id` (a record whose seal and id disagree was not made by us).
std::optional<std::string> unseal(const Key& master, const storage::CodeRecord& rec) {
  constexpr std::size_t kBoxLen =
      crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + kCodeLength;
  std::array<std::uint8_t, kBoxLen> box{};
  std::size_t len = 0;
  if (rec.sealed.size() > 4 * kBoxLen ||
      sodium_base642bin(box.data(), box.size(), rec.sealed.data(), rec.sealed.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      len != kBoxLen)
    return std::nullopt;
  const Key k = subkey(master, Purpose::Seal);
  std::string code(kCodeLength, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(code.data()),
                                 box.data() + crypto_secretbox_NONCEBYTES,
                                 kBoxLen - crypto_secretbox_NONCEBYTES, box.data(),
                                 k.data()) != 0)
    return std::nullopt;
  if (!normalizeCode(code) || codeId(master, code) != rec.id) return std::nullopt;
  return code;
}

Result<Key> readKeyFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok())
    return Status::Error("cannot read the gateway key " + path + ": " + errnoText(errno) +
                         " (run vigil as the user that owns it)");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0)
    return Status::Error("cannot read the gateway key " + path + ": " + errnoText(errno));
  if (!S_ISREG(st.st_mode) || st.st_size != 32)
    return Status::Error("the gateway key " + path + " holds " + std::to_string(st.st_size) +
                         " bytes, not 32: restore it from another gateway node, or delete it to "
                         "make a new one (codes issued with the old key stop working)");
  if (st.st_mode & 077)
    spdlog::warn("gateway key {} is readable by other users; run chmod 600 on it", path);
  Key key{};
  std::size_t got = 0;
  while (got < key.size()) {
    const ssize_t n = ::read(fd.get(), key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status::Error("cannot read the gateway key " + path + ": " +
                           (n < 0 ? errnoText(errno) : std::string("file is short")));
    got += static_cast<std::size_t>(n);
  }
  return key;
}

// Writes a fresh key under a temporary name and links it into place, so a
// concurrent starter never sees a half-written key: whoever links first wins
// and the other reads the winner's key.
Result<Key> createKeyFile(const std::string& path) {
  std::array<std::uint8_t, 8> rnd{};
  randombytes_buf(rnd.data(), rnd.size());
  const std::string tmp = path + ".tmp-" + toHex(rnd.data(), rnd.size());
  Key key{};
  randombytes_buf(key.data(), key.size());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.ok())
      return Status::Error("cannot create the gateway key in " +
                           std::filesystem::path(path).parent_path().string() + ": " +
                           errnoText(errno));
    std::size_t put = 0;
    while (put < key.size()) {
      const ssize_t n = ::write(fd.get(), key.data() + put, key.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return Status::Error("cannot write the gateway key " + tmp + ": " + errnoText(e));
      }
      put += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return Status::Error("cannot write the gateway key " + tmp + ": " + errnoText(e));
    }
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int e = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (e == EEXIST) return readKeyFile(path);
    return Status::Error("cannot create the gateway key " + path + ": " + errnoText(e));
  }
  spdlog::info("created gateway key path={}", path);
  return key;
}

}  // namespace

Result<SecretKey> SecretKey::loadOrCreate(const std::string& state_dir) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  if (state_dir.empty())
    return Status::Error("the state directory is empty: set [gateway] state_dir in the config");
  // Made owner-only: it holds the keys.
  if (std::string err; !createPrivateDirectories(state_dir, err))
    return Status::Error("cannot create the state directory " + state_dir + ": " + err);
  const std::string path = (std::filesystem::path(state_dir) / "gateway.key").string();
  Result<Key> key = Status::Error("unset");
  if (::access(path.c_str(), F_OK) == 0 || errno != ENOENT)
    key = readKeyFile(path);
  else
    key = createKeyFile(path);
  if (!key.ok()) return key.status();
  SecretKey out;
  out.bytes_ = *key;
  sodium_memzero(key->data(), key->size());
  return out;
}

Result<SecretKey> SecretKey::load(const std::string& state_dir) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  const std::string path = (std::filesystem::path(state_dir) / "gateway.key").string();
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT)
    return Status::Error("no gateway key at " + path +
                         ": run this where `vigil serve` runs (same [gateway] state_dir), or copy "
                         "gateway.key from a gateway node (chmod 600)");
  Result<Key> key = readKeyFile(path);
  if (!key.ok()) return key.status();
  SecretKey out;
  out.bytes_ = *key;
  sodium_memzero(key->data(), key->size());
  return out;
}

std::array<std::uint8_t, 32> SecretKey::controlBusKey() const {
  Key out{};
  crypto_kdf_derive_from_key(out.data(), out.size(), 1, "vigilbus", bytes_.data());
  return out;
}

std::optional<std::string> normalizeCode(std::string_view typed) {
  if (typed.size() > 64) return std::nullopt;
  std::string code;
  for (char c : typed) {
    if (c == ' ' || c == '-' || c == '\t') continue;
    const char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (kCodeAlphabet.find(up) == std::string_view::npos) return std::nullopt;
    code.push_back(up);
  }
  if (code.size() != kCodeLength) return std::nullopt;
  return code;
}

AccessCodes::AccessCodes(storage::MetadataStore& store, SecretKey key,
                         std::function<EpochMillis()> now)
    : store_(store), key_(key), now_(std::move(now)) {}

EpochMillis AccessCodes::now() const { return now_ ? now_() : epochNowMs(); }

Result<IssuedCode> AccessCodes::issue(const std::string& user, const std::string& target,
                                      long long ttl_ms, const std::string& issued_by) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  if (user.empty() || target.empty())
    return Status::Error("an access code needs a user and a target");
  if (ttl_ms < kMinCodeTtlMs)
    return Status::Error("ttl " + std::to_string(ttl_ms / 1000) +
                         " s is too short: an access code lives at least 1 minute (e.g. --ttl 30m)");
  if (ttl_ms > kMaxCodeTtlMs)
    return Status::Error("ttl " + std::to_string(ttl_ms / 1000) +
                         " s is too long: an access code lives at most 7 days (--ttl 7d)");
  std::string code(kCodeLength, '\0');
  for (char& c : code)
    c = kCodeAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kCodeAlphabet.size()))];
  storage::CodeRecord rec;
  rec.id = codeId(key_.bytes(), code);
  rec.user = user;
  rec.target = target;
  rec.expires_at = now() + ttl_ms;
  rec.sealed = seal(key_.bytes(), code);
  rec.issued_by = issued_by;
  if (Status s = store_.putCode(rec); !s.ok())
    return Status::Error("storing the access code failed: " + s.message());
  spdlog::info("access code issued user={} target={} expires_at={} by={}", user, target,
               formatRfc3339(rec.expires_at), issued_by.empty() ? "unknown" : issued_by);
  return IssuedCode{std::move(code), rec.expires_at};
}

Result<storage::CodeRecord> AccessCodes::redeem(const std::string& typed,
                                                const std::string& target) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  const auto code = normalizeCode(typed);
  if (!code)
    return Status::Error("not an access code (codes are 8 letters and digits 2-9)");
  auto taken = store_.takeCode(codeId(key_.bytes(), *code));
  if (!taken.ok()) return Status::Error("checking the access code failed: " + taken.message());
  if (!taken->has_value()) return Status::Error("access code unknown, already used or expired");
  storage::CodeRecord rec = std::move(**taken);
  if (rec.expires_at <= now())
    return Status::Error("access code expired at " + formatRfc3339(rec.expires_at));
  if (rec.target != target)
    return Status::Error("access code was issued for target " + rec.target + ", not " + target +
                         "; it is now used up");
  return rec;
}

Result<storage::CodeRecord> AccessCodes::redeemVnc(const std::string& target,
                                                   const std::array<std::uint8_t, 16>& challenge,
                                                   const std::array<std::uint8_t, 16>& response) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  auto listed = store_.codesForTarget(target);
  if (!listed.ok()) return Status::Error("listing access codes failed: " + listed.message());
  const EpochMillis t = now();
  const storage::CodeRecord* match = nullptr;
  for (const storage::CodeRecord& rec : *listed) {
    auto code = unseal(key_.bytes(), rec);
    if (!code) continue;  // sealed with another key: not a code we can check
    // Every case spelling of the letters; digits have only one.
    std::vector<std::size_t> letters;
    for (std::size_t i = 0; i < code->size(); ++i)
      if (std::isalpha(static_cast<unsigned char>((*code)[i]))) letters.push_back(i);
    bool hit = false;
    for (std::uint32_t mask = 0; mask < (1u << letters.size()); ++mask) {
      std::string variant = *code;
      for (std::size_t b = 0; b < letters.size(); ++b)
        if (mask & (1u << b))
          variant[letters[b]] = static_cast<char>(std::tolower(static_cast<unsigned char>(variant[letters[b]])));
      const VncBlock expect = vncResponse(variant, challenge);
      hit |= sodium_memcmp(expect.data(), response.data(), response.size()) == 0;
      sodium_memzero(variant.data(), variant.size());
    }
    sodium_memzero(code->data(), code->size());
    if (hit && rec.expires_at > t && rec.target == target && !match) match = &rec;
  }
  if (!match)
    return Status::Error("the VNC password matches no access code for " + target +
                         " (wrong, already used or expired)");
  auto taken = store_.takeCode(match->id);
  if (!taken.ok()) return Status::Error("checking the access code failed: " + taken.message());
  if (!taken->has_value())
    return Status::Error("access code already used (another connection took it first)");
  storage::CodeRecord rec = std::move(**taken);
  if (rec.expires_at <= now())
    return Status::Error("access code expired at " + formatRfc3339(rec.expires_at));
  if (rec.target != target)
    return Status::Error("access code was issued for target " + rec.target + ", not " + target);
  return rec;
}

}  // namespace vigil::gateway::auth
