// `vigil pubkey`: the deployment's signing public key as PEM (Ed25519
// SubjectPublicKeyInfo, which openssl reads), to check bundles and
// signatures against. Reads state_dir/signing.key; needs no Redis.
#include <iostream>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli.h"
#include "storage/signing_key.h"

namespace vigil::cli {

int pubkey(const Common& c) {
  Config config;
  try {
    config = Config::load(c.config_path);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }
  auto key = storage::SigningKey::load(config.state_dir);
  if (!key) return fail(key.message() + " (`vigil serve` creates it on first start)");
  const std::string pem = storage::publicKeyPem(key->publicKey());
  if (c.json)
    std::cout << nlohmann::json{{"pem", pem}, {"fingerprint", storage::keyFingerprint(key->publicKey())}}.dump(2)
              << "\n";
  else
    std::cout << pem;
  return 0;
}

}  // namespace vigil::cli
