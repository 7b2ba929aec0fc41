// Checks a session's recording and events against its signed hash chains
// (session_evidence.h) and names the first thing that differs. Used by
// `vigil verify`, bundles (bundle.h) and, later, GET /api/sessions/{id}/verify.
// Numbering in messages: fragment 0 is the recording's init segment, 1 the
// first moof+mdat; events count from 1 in the order they were stored.
// Thread-safe (no shared state); verifySession blocks on the store and disk.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "storage/evidence_store.h"
#include "storage/metadata_store.h"
#include "storage/recording_bytes.h"
#include "storage/signing_key.h"

namespace vigil::storage {

struct VerifyReport {
  // True when nothing differs from what was signed (exit 0): also for a
  // session that ended without a final signature (a crash), whose unsigned
  // tail is then reported, not treated as tampering.
  bool verified = false;
  bool complete = false;          // a final signature covers the whole session
  std::string detail;             // one line: "verified: ..." or the first difference
  std::uint64_t fragments = 0;    // items covered by the signature
  std::uint64_t events = 0;
  std::uint64_t fragment_bytes = 0;
  Millis signed_t_ms = 0;         // session time of the last signature
  std::uint64_t tail_fragments = 0, tail_events = 0;  // not (yet) signed
  double unsigned_tail_s = 0;
  std::string signer;             // fingerprint of the key checked against
  std::string toJson() const;     // {"verified","detail",...}
};

// What a verifier looks at, wherever it came from (Redis and files, or a bundle).
struct EvidenceSources {
  std::string session_id;
  std::vector<std::string> store_records;    // ChainRecord JSON, oldest first
  std::string store_name = "the store";      // where they came from, for messages
  std::vector<std::string> sidecar_records;  // the same from `<recording>.chain` (may be empty)
  RecordingBytes* recording = nullptr;       // null: no recording file (or none expected)
  // Set when the file is there but cannot be opened (a damaged sealed header,
  // a length word altered, a key that does not open it): named, not "missing".
  std::string recording_error;
  std::vector<Event> events;                 // append order
  bool live = false;                         // the session is still running
};

VerifyReport verifyEvidence(const EvidenceSources& in, const PublicKey& key);

// The sidecar's path for a recording path.
std::string chainSidecarPath(const std::string& recording_path);
// Its lines (empty when there is no sidecar).
std::vector<std::string> readChainSidecar(const std::string& recording_path);

// Reads the session (record, chain records, events, recording under
// `recordings_dir`, sidecar) and verifies it. An error only when the session
// cannot be read at all (unknown id, Redis down); differences are a report.
Result<VerifyReport> verifySession(MetadataStore& meta, EvidenceStore& evidence,
                                   const std::string& recordings_dir,
                                   const std::string& session_id, const PublicKey& key,
                                   const KeyRing& recording_keys = {});

}  // namespace vigil::storage
