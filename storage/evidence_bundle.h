// Evidence bundles (CONTRACT.md "Evidence", `vigil bundle` / `vigil verify
// BUNDLE.zip`): one zip holding
//   recording.mp4   the recording as recorded (plaintext)
//   events.jsonl    the events in the order they were stored (the chain's order),
//                   one {"seq","t_ms","kind","text"[,"window"]} per line
//   chain.jsonl     the session's signed chain records (session_evidence.h)
//   manifest.json   session record, SHA-256 and size of each file above and of
//                   VERIFY.txt and signer.pem, the last signed chain heads
//   manifest.sig    Ed25519 over manifest.json, raw 64 bytes
//   SHA256SUMS      `sha256sum -c` input for the data files; SHA256SUMS.sig its signature
//   signer.pem      the signing public key; VERIFY.txt the openssl/sha256sum commands
// Verification of a bundle needs nothing but the zip: no Redis, no config.
// Thread-safe (no shared state); blocks on disk and the store.
#pragma once

#include <string>

#include "core/status.h"
#include "storage/evidence_store.h"
#include "storage/evidence_verify.h"
#include "storage/metadata_store.h"
#include "storage/signing_key.h"

namespace vigil::storage {

// Writes the bundle of `session_id` to `out_path` (through out_path.partial,
// renamed when complete). The recording is hashed, verified and zipped from
// its reader, never held whole: memory stays bounded (a few MB) whatever its
// size. `session_json` is the session record as the API
// shows it (CONTRACT.md); empty: made here from the record's fields.
Status writeBundle(MetadataStore& meta, EvidenceStore& evidence, const std::string& recordings_dir,
                   const std::string& session_id, const SigningKey& key,
                   const std::string& out_path, const std::string& session_json = "",
                   const KeyRing& recording_keys = {});

// Checks a bundle offline: manifest signature, the recording and events
// against the signed chain (naming the first difference), every file's
// SHA-256 and SHA256SUMS. The key is the bundle's signer.pem, which must
// equal `pinned` when given. An error only when the zip cannot be read.
Result<VerifyReport> verifyBundle(const std::string& zip_path, const PublicKey* pinned = nullptr);

}  // namespace vigil::storage
