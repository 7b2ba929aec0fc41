// `vigil verify SESSION` and `vigil verify BUNDLE.zip` (CONTRACT.md
// "Evidence"): checks a session's recording and events against its signed
// hash chain, or a bundle offline (no config, no Redis). 0 and `verified:
// ...` when intact (also a crash-ended session: its unsigned tail is
// reported), 1 and the first thing that differs otherwise.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "gateway/cli/cli.h"
#include "storage/key_ring.h"
#include "storage/evidence_bundle.h"
#include "storage/evidence_verify.h"
#include "storage/signing_key.h"

namespace vigil::cli {

namespace {

bool looksLikeBundle(const std::string& arg) {
  if (arg.size() > 4 && arg.compare(arg.size() - 4, 4, ".zip") == 0) return true;
  std::error_code ec;
  return std::filesystem::is_regular_file(arg, ec);
}

int report(const Common& c, const storage::VerifyReport& r) {
  if (c.json) std::cout << r.toJson() << "\n";
  if (r.verified) {
    if (!c.json) std::cout << r.detail << "\n";
    return 0;
  }
  std::cerr << "vigil: " << r.detail << "\n";
  return 1;
}

}  // namespace

int verify(const Common& c, const std::string& what, const std::string& pubkey_file) {
  std::optional<storage::PublicKey> pinned;
  if (!pubkey_file.empty()) {
    std::ifstream in(pubkey_file);
    if (!in) return fail("cannot read " + pubkey_file);
    std::stringstream ss;
    ss << in.rdbuf();
    auto k = storage::publicKeyFromPem(ss.str());
    if (!k) return fail(pubkey_file + ": " + k.message());
    pinned = *k;
  }
  if (looksLikeBundle(what)) {
    auto r = storage::verifyBundle(what, pinned ? &*pinned : nullptr);
    if (!r) return fail(r.message());
    return report(c, *r);
  }
  auto env = openEnv(c);
  if (!env) return 1;
  auto* evidence = dynamic_cast<storage::EvidenceStore*>(env->store.get());
  if (!evidence) return fail("this store keeps no evidence");
  storage::PublicKey key{};
  if (pinned) {
    key = *pinned;
  } else {
    auto k = storage::SigningKey::load(env->config.state_dir);
    if (!k) return fail(k.message() + " (or pass --pubkey FILE from `vigil pubkey`)");
    key = k->publicKey();
  }
  auto recording_keys = storage::KeyRing::load(env->config.state_dir);
  if (!recording_keys) return fail(recording_keys.message());
  auto r = storage::verifySession(*env->store, *evidence, env->config.recordings_dir, what, key,
                                  *recording_keys);
  if (!r) return fail(r.message());
  return report(c, *r);
}

}  // namespace vigil::cli
