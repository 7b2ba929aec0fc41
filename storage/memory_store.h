// MetadataStore in memory, for unit tests elsewhere: the same semantics as
// RedisStore (ordering, search, single-use codes, audit newest first).
// Thread-safe: one mutex guards everything. Code expiry uses `now`
// (epoch ms; defaults to the wall clock) so tests can pass a fake one.
#pragma once

#include <functional>
#include <map>
#include <mutex>

#include "storage/hash_chain.h"
#include "storage/evidence_store.h"
#include "storage/metadata_store.h"

namespace vigil::storage {

class MemoryStore : public MetadataStore, public EvidenceStore {
 public:
  // `audit.now` defaults to `now`.
  explicit MemoryStore(std::function<EpochMillis()> now = {}, AuditOptions audit = {});

  Status ping() override;
  Status putSession(const SessionRecord& s) override;
  Result<std::optional<SessionRecord>> getSession(const std::string& id) override;
  Result<std::vector<SessionRecord>> listSessions(const SessionFilter& f) override;
  Status appendEvents(const std::string& session_id, const std::vector<Event>& events) override;
  Status appendEventsAt(const std::string& session_id, std::uint64_t first_seq,
                        const std::vector<Event>& events) override;
  Status putRefusal(const RefusalRecord& r) override;
  Result<std::vector<Event>> events(const std::string& session_id,
                                    const std::vector<EventKind>& kinds) override;
  Result<std::vector<SearchHit>> search(const std::string& query, const SessionFilter& f) override;
  Status putCode(const CodeRecord& c) override;
  Result<std::optional<CodeRecord>> takeCode(const std::string& id) override;
  Result<std::vector<CodeRecord>> codesForTarget(const std::string& target) override;
  Status appendAudit(const AuditEntry& a) override;
  Result<std::vector<AuditEntry>> audit(std::size_t limit) override;
  Status putAlert(const AlertRecord& a) override;
  Result<std::vector<AlertRecord>> alerts(EpochMillis since, std::size_t limit) override;
  Result<AuditVerify> verifyAudit() override;
  Status putCheckpoint(const std::string& session_id, const std::string& checkpoint_json) override;
  Result<std::vector<std::string>> checkpoints(const std::string& session_id) override;
  Result<std::vector<Event>> eventsInAppendOrder(const std::string& session_id) override;
  // Tests: the session's events as stored, to tamper with.
  std::vector<Event>& rawEvents(const std::string& session_id) { return events_[session_id]; }

 private:
  std::vector<const SessionRecord*> orderedSessions(const SessionFilter& f) const;
  void dropExpiredRefusals();  // needs mu_

  std::function<EpochMillis()> now_;
  mutable std::mutex mu_;
  std::map<std::string, SessionRecord> sessions_;
  std::map<std::string, std::vector<Event>> events_;
  std::map<std::string, EpochMillis> refusal_expiry_;  // refusal id -> expires at
  std::map<std::string, CodeRecord> codes_;
  AuditOptions audit_opts_;
  std::vector<std::string> audit_;  // the chain as RedisStore keeps it (JSON), oldest first
  std::uint64_t audit_start_seq_ = 1;
  std::string audit_start_prev_;
  std::uint64_t audit_head_seq_ = 0;
  std::string audit_head_hash_;
  std::optional<Checkpoint> audit_checkpoint_;  // newest signed (with audit_opts_.signer)
  std::map<std::string, std::vector<std::string>> checkpoints_;
  std::vector<AlertRecord> alerts_;  // in the order put
};

}  // namespace vigil::storage
