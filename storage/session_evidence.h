// A live session's evidence (CONTRACT.md "Evidence"; docs/security.md):
// two SHA-256 chains (hash_chain.h), one over the recording's fragments as
// the muxer wrote them (init segment, each moof+mdat, then the trailer) and
// one over the events in the order they were stored, signed with the
// deployment key every second until the recording's first fragment is
// signed, then every `sign_interval` while anything is new, and at the end.
//
// Each signature is stored as a ChainRecord: the checkpoint plus the size
// and SHA-256 of each item added since the previous record, so a verifier
// can name the first item that differs, not only say that a head differs.
// Records go to the EvidenceStore (Redis `vigil:ck:{session}`) and are
// appended to a sidecar file beside the recording (`<recording>.chain`), so
// a crash, or a Redis write that failed, still leaves the last signed prefix.
//
// Threads: onFragment() on the recorder's worker (the live tap),
// onEventsStored() on the event writer's worker; both only hash and queue
// (no I/O). A thread of this object ("evidence") signs and stores. finish()
// from the session's closing thread. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "storage/evidence_store.h"
#include "storage/hash_chain.h"
#include "storage/signing_key.h"

namespace vigil::storage {

// One stored signature: the checkpoint and the items it added.
struct ChainRecord {
  Checkpoint checkpoint;
  std::uint64_t first_fragment = 0;  // chain index of fragments[0]
  std::vector<std::pair<std::uint64_t, Digest>> fragments;  // {size, SHA-256} of each
  std::uint64_t first_event = 0;     // chain index of events[0]
  std::vector<Digest> events;        // SHA-256 of eventBytes() of each

  std::string toJson() const;  // one line
  static Result<ChainRecord> fromJson(std::string_view json);
};

struct SessionEvidenceOptions {
  std::chrono::milliseconds sign_interval{10000};  // CONTRACT: at least every 10 s while live
  // Until a checkpoint covers a fragment, sign this often (when anything is new).
  std::chrono::milliseconds first_sign_after{1000};
};

class SessionEvidence {
 public:
  // `clock` gives the session time (ms since its start); `sidecar_path` is
  // where records are appended ("" = none). Key and store must outlive this.
  SessionEvidence(EvidenceStore& store, const SigningKey& key, std::string session_id,
                  std::function<Millis()> clock, std::string sidecar_path,
                  SessionEvidenceOptions options = {});
  ~SessionEvidence();  // stops signing; no final record unless finish() ran
  SessionEvidence(const SessionEvidence&) = delete;
  SessionEvidence& operator=(const SessionEvidence&) = delete;

  // The recorder's live tap: `init_segment` is hashed before the first
  // fragment, then `data` (one moof+mdat as written).
  void onFragment(std::string_view init_segment, const std::uint8_t* data, std::size_t n);
  // The event writer's on_stored: events in sequence order, each once.
  void onEventsStored(const std::vector<Event>& events);

  // Chains `trailer` (the file's bytes after the last fragment: the mfra
  // box; may be empty), signs the final checkpoint and stores it (sidecar,
  // then the store). Call after the recorder and the event writer closed.
  Status finish(std::string_view trailer);

  // The recording bytes chained so far (the offset of the trailer at the end).
  std::uint64_t fragmentBytes() const;
  // The latest record signed (checkpoint counts 0 before the first).
  Checkpoint lastCheckpoint() const;

 private:
  void run();
  // Signs what is new into a record and stores it with the pending ones; needs
  // sign_mu_ (not mu_).
  Status signAndStore(bool final);

  EvidenceStore& store_;
  const SigningKey& key_;
  const std::string session_id_;
  const std::function<Millis()> clock_;
  const std::string sidecar_path_;
  const SessionEvidenceOptions options_;

  mutable std::mutex mu_;  // guards the chains and the items not yet signed, stop_
  std::condition_variable wake_;
  HashChain fragments_{ChainKind::Fragment};
  HashChain events_{ChainKind::Event};
  std::uint64_t fragment_bytes_ = 0;
  std::vector<std::pair<std::uint64_t, Digest>> new_fragments_;
  std::vector<Digest> new_events_;
  bool stop_ = false;

  Checkpoint last_;      // guarded by mu_
  bool finished_ = false;  // guarded by mu_: the final checkpoint is made

  std::mutex sign_mu_;  // serialises signing and storing; guards unsent_*
  ChainRecord unsent_;  // items signed but not yet in the store (it failed)
  bool unsent_valid_ = false;
  std::thread worker_;
};

}  // namespace vigil::storage
