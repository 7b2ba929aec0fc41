#include "gateway/auth/password.h"

#include <sodium.h>

#include "gateway/auth/sodium_init.h"

namespace vigil::gateway::auth {
namespace {
// Far above any real password; bounds the work a hostile client can ask for.
constexpr std::size_t kMaxPasswordBytes = 4096;
}  // namespace

Result<std::string> hashPassword(const std::string& password) {
  if (Status s = ensureSodium(); !s.ok()) return s;
  if (password.empty()) return Status::Error("the password is empty");
  if (password.size() > kMaxPasswordBytes)
    return Status::Error("the password is longer than 4096 bytes");
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0)
    return Status::Error("hashing the password failed: not enough memory (argon2id needs 64 MiB)");
  return std::string(out);
}

bool verifyPassword(const std::string& hash, const std::string& password) {
  if (!ensureSodium().ok()) return false;
  // libsodium reads a NUL-terminated string that fits crypto_pwhash_STRBYTES.
  if (hash.empty() || hash.size() >= crypto_pwhash_STRBYTES ||
      hash.find('\0') != std::string::npos)
    return false;
  if (password.size() > kMaxPasswordBytes) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace vigil::gateway::auth
