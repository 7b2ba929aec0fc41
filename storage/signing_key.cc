#include "storage/signing_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vigil::storage {

namespace {

using Seed = std::array<std::uint8_t, 32>;

void initSodium() {
  static const int once = sodium_init();  // thread-safe, idempotent
  (void)once;
}

std::string errnoText(int e) { return std::strerror(e); }

struct Fd {
  explicit Fd(int f) : fd(f) {}
  ~Fd() { if (fd >= 0) ::close(fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int fd;
};

Result<Seed> readSeed(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.fd < 0)
    return Status::Error("cannot read the signing key " + path + ": " + errnoText(errno) +
                         " (run vigil as the user that owns it)");
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0)
    return Status::Error("cannot read the signing key " + path + ": " + errnoText(errno));
  if (!S_ISREG(st.st_mode) || st.st_size != 32)
    return Status::Error("the signing key " + path + " holds " + std::to_string(st.st_size) +
                         " bytes, not 32: restore it from another gateway node (a new key "
                         "cannot vouch for what the old one signed)");
  if (st.st_mode & 077)
    spdlog::warn("signing key {} is readable by other users; run chmod 600 on it", path);
  Seed seed{};
  std::size_t got = 0;
  while (got < seed.size()) {
    const ssize_t n = ::read(fd.fd, seed.data() + got, seed.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return Status::Error("cannot read the signing key " + path + ": " +
                           (n < 0 ? errnoText(errno) : std::string("file is short")));
    got += static_cast<std::size_t>(n);
  }
  return seed;
}

// Written under a temporary name and linked into place: nodes starting
// together all end up with whichever key was linked first.
Result<Seed> createSeed(const std::string& path) {
  std::array<std::uint8_t, 8> rnd{};
  randombytes_buf(rnd.data(), rnd.size());
  std::string tmp = path + ".tmp-";
  for (auto b : rnd) tmp += "0123456789abcdef"[b >> 4], tmp += "0123456789abcdef"[b & 15];
  Seed seed{};
  randombytes_buf(seed.data(), seed.size());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.fd < 0)
      return Status::Error("cannot create the signing key in " +
                           std::filesystem::path(path).parent_path().string() + ": " +
                           errnoText(errno));
    std::size_t put = 0;
    while (put < seed.size()) {
      const ssize_t n = ::write(fd.fd, seed.data() + put, seed.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        return Status::Error("cannot write the signing key " + tmp + ": " + errnoText(e));
      }
      put += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.fd) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return Status::Error("cannot write the signing key " + tmp + ": " + errnoText(e));
    }
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int e = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (e == EEXIST) return readSeed(path);
    return Status::Error("cannot create the signing key " + path + ": " + errnoText(e));
  }
  spdlog::info("created signing key path={}", path);
  return seed;
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE {
// SEQUENCE { OID 1.3.101.112 }, BIT STRING (32 bytes) }.
constexpr std::uint8_t kSpkiPrefix[12] = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                          0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

}  // namespace

SigningKey SigningKey::fromSeed(const Seed& seed) {
  initSodium();
  SigningKey k;
  crypto_sign_seed_keypair(k.public_.data(), k.secret_.data(), seed.data());
  return k;
}

Result<SigningKey> SigningKey::load(const std::string& state_dir) {
  auto seed = readSeed(state_dir + "/" + kSigningKeyFile);
  if (!seed) return seed.status();
  return fromSeed(*seed);
}

Result<SigningKey> SigningKey::loadOrCreate(const std::string& state_dir) {
  initSodium();
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  const std::string path = state_dir + "/" + kSigningKeyFile;
  auto seed = ::access(path.c_str(), F_OK) == 0 ? readSeed(path) : createSeed(path);
  if (!seed) return seed.status();
  return fromSeed(*seed);
}

Signature SigningKey::sign(std::string_view message) const {
  Signature sig{};
  crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const unsigned char*>(message.data()),
                       message.size(), secret_.data());
  return sig;
}

bool verifySignature(const PublicKey& key, std::string_view message, const Signature& sig) {
  initSodium();
  return crypto_sign_verify_detached(sig.data(),
                                     reinterpret_cast<const unsigned char*>(message.data()),
                                     message.size(), key.data()) == 0;
}

std::string toBase64(std::string_view bytes) {
  initSodium();
  const auto variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Result<std::string> fromBase64(std::string_view text) {
  initSodium();
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), " \t\r\n", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return Status::Error("not valid base64");
  out.resize(len);
  return out;
}

std::string publicKeyPem(const PublicKey& key) {
  std::string der(reinterpret_cast<const char*>(kSpkiPrefix), sizeof kSpkiPrefix);
  der.append(reinterpret_cast<const char*>(key.data()), key.size());
  return "-----BEGIN PUBLIC KEY-----\n" + toBase64(der) + "\n-----END PUBLIC KEY-----\n";
}

Result<PublicKey> publicKeyFromPem(std::string_view pem) {
  constexpr std::string_view kBegin = "-----BEGIN PUBLIC KEY-----";
  constexpr std::string_view kEnd = "-----END PUBLIC KEY-----";
  const auto b = pem.find(kBegin);
  const auto e = pem.find(kEnd);
  if (b == std::string_view::npos || e == std::string_view::npos || e < b)
    return Status::Error("not a PEM public key (no BEGIN/END PUBLIC KEY lines)");
  auto der = fromBase64(pem.substr(b + kBegin.size(), e - b - kBegin.size()));
  if (!der) return Status::Error("not a PEM public key: " + der.message());
  if (der->size() != sizeof kSpkiPrefix + 32 ||
      std::memcmp(der->data(), kSpkiPrefix, sizeof kSpkiPrefix) != 0)
    return Status::Error("not an Ed25519 public key");
  PublicKey k{};
  std::memcpy(k.data(), der->data() + sizeof kSpkiPrefix, k.size());
  return k;
}

std::string keyFingerprint(const PublicKey& key) {
  initSodium();
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> h{};
  crypto_hash_sha256(h.data(), key.data(), key.size());
  std::string out = "SHA256:";
  for (auto b : h) out += "0123456789abcdef"[b >> 4], out += "0123456789abcdef"[b & 15];
  return out;
}

}  // namespace vigil::storage
