// `vigil bundle SESSION OUT.zip` (CONTRACT.md "Evidence"): the recording as
// recorded, its events, and a signed manifest, checkable with openssl and
// sha256sum alone (VERIFY.txt) or `vigil verify OUT.zip`.
#include <iostream>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "gateway/cli/cli.h"
#include "gateway/record_json.h"
#include "storage/key_ring.h"
#include "storage/evidence_bundle.h"
#include "storage/signing_key.h"

namespace vigil::cli {

int bundle(const Common& c, const std::string& session, const std::string& out) {
  auto env = openEnv(c);
  if (!env) return 1;
  auto* evidence = dynamic_cast<storage::EvidenceStore*>(env->store.get());
  if (!evidence) return fail("this store keeps no evidence");
  auto key = storage::SigningKey::load(env->config.state_dir);
  if (!key) return fail(key.message());
  auto rec = env->store->getSession(session);
  if (!rec) return fail(rec.message());
  if (!rec->has_value()) return fail("no session \"" + session + "\" (see `vigil sessions` for ids)");
  const std::string session_json = gateway::toJson(**rec).dump();
  auto recording_keys = storage::KeyRing::load(env->config.state_dir);
  if (!recording_keys) return fail(recording_keys.message());
  Status st = storage::writeBundle(*env->store, *evidence, env->config.recordings_dir, session, *key,
                                   out, session_json, *recording_keys);
  if (!st.ok()) return fail(st.message());
  (void)env->store->appendAudit({epochNowMs(), cliActor(), "bundle", session, out});
  if (c.json)
    std::cout << nlohmann::json{{"session_id", session}, {"file", out}}.dump(2) << "\n";
  else
    std::cerr << "wrote " << out << "\n";
  return 0;
}

}  // namespace vigil::cli
