// The deployment's signing key: Ed25519 (libsodium), kept as a 32-byte seed
// in `<state_dir>/signing.key` (0600), made on first use, shared by every node
// of a deployment like gateway.key. It signs the heads of session hash chains
// (hash_chain.h) and evidence bundles, and is meant for anything else Vigil
// must vouch for later (the audit log). Signatures are plain Ed25519 (RFC
// 8032): `openssl pkeyutl -verify -rawin` checks them with publicKeyPem().
//
// Stable API (issue 17): other parts build on it; extend, do not change.
// Thread-safe: a key is immutable once loaded.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil::storage {

using PublicKey = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 64>;

inline constexpr const char* kSigningKeyFile = "signing.key";

class SigningKey {
 public:
  // Reads `<state_dir>/signing.key`, or creates it (0600, atomically: nodes
  // starting together end up with the same key). Creates state_dir if absent.
  static Result<SigningKey> loadOrCreate(const std::string& state_dir);
  // Reads the existing key only (tools: `vigil pubkey`, `vigil bundle`).
  static Result<SigningKey> load(const std::string& state_dir);
  // From a 32-byte seed (tests).
  static SigningKey fromSeed(const std::array<std::uint8_t, 32>& seed);

  Signature sign(std::string_view message) const;
  const PublicKey& publicKey() const { return public_; }

 private:
  std::array<std::uint8_t, 64> secret_{};  // libsodium's seed || public key
  PublicKey public_{};
};

// True when `sig` is `key`'s Ed25519 signature of `message`.
bool verifySignature(const PublicKey& key, std::string_view message, const Signature& sig);

// SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----"), as openssl writes it.
std::string publicKeyPem(const PublicKey& key);
// Reads what publicKeyPem() writes (an Ed25519 SubjectPublicKeyInfo PEM).
Result<PublicKey> publicKeyFromPem(std::string_view pem);
// "SHA256:" + hex of SHA-256 of the raw public key: short enough to compare by eye.
std::string keyFingerprint(const PublicKey& key);

// Signature <-> string of 64 raw bytes / base64 (for JSON).
std::string toBase64(std::string_view bytes);
Result<std::string> fromBase64(std::string_view text);

}  // namespace vigil::storage
