// MetadataStore in Redis (key layout and search design: docs/redis-schema.md).
// Thread-safe: calls borrow a connection from a small pool; a connection that
// fails is dropped and the call retried once on a fresh one, so a restarted
// server is picked up without help. Connect timeout 2 s, command timeout 5 s:
// no call hangs forever. Errors name the server and what to check.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "storage/evidence_store.h"
#include "storage/metadata_store.h"

namespace vigil::storage {

namespace redis {
class Pool;
}
struct SearchQuery;

class RedisStore final : public MetadataStore, public EvidenceStore {
 public:
  // url: redis://[:password@]host[:port][/db] or unix:///path.sock[?db=N].
  // Connects once and PINGs, so a wrong URL fails here, not later.
  // `audit`: the audit log's retention ([retention] audit_days) and clock.
  static Result<std::unique_ptr<RedisStore>> connect(const std::string& url,
                                                     AuditOptions audit = {});
  ~RedisStore() override;

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
  Result<std::vector<AuditEntry>> findAudit(const AuditFilter& f) override;
  Result<AuditVerify> verifyAudit() override;
  // Signs and stores a checkpoint of the audit chain's head when it moved
  // past the newest stored checkpoint (needs AuditOptions::signer, else an
  // error). appendAudit does this itself when the newest is 10 s old; the
  // gateway also calls it every 10 s so the last entries of a burst are
  // signed without waiting for another append.
  Status checkpointAudit();

  // EvidenceStore: `vigil:ck:{session}` (list) and a raw LRANGE of the events.
  Status putCheckpoint(const std::string& session_id, const std::string& checkpoint_json) override;
  Result<std::vector<std::string>> checkpoints(const std::string& session_id) override;
  Result<std::vector<Event>> eventsInAppendOrder(const std::string& session_id) override;

  // Words a search prefix may expand to; a broader prefix is only checked on
  // candidates found through the query's other words (docs/redis-schema.md).
  static constexpr std::size_t kMaxPrefixExpansions = 256;

 private:
  RedisStore(std::unique_ptr<redis::Pool> pool, AuditOptions audit);
  // first_seq < 0: append at the end (not idempotent).
  Status appendImpl(const std::string& session_id, long long first_seq,
                    const std::vector<Event>& events);
  Result<std::vector<SearchHit>> scanSearch(const SearchQuery& q, const SessionFilter& f,
                                            std::size_t limit);

  std::unique_ptr<redis::Pool> pool_;
  const AuditOptions audit_;
  // The chain head as this node last saw it: an append tries it first and,
  // when another node appended meanwhile, gets the real head back and retries.
  std::mutex head_mu_;
  std::uint64_t head_seq_ = 0;
  std::string head_hash_;
  EpochMillis last_checkpoint_ = 0;  // when this store last signed one

  Status storeCheckpoint(std::uint64_t seq, const std::string& hash, EpochMillis now);
  EpochMillis now() const;
};

}  // namespace vigil::storage
