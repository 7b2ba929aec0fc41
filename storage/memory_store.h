// MetadataStore in memory, for unit tests elsewhere: the same semantics as
// RedisStore (ordering, search, single-use codes, audit newest first).
// Thread-safe: one mutex guards everything. Code expiry uses `now`
// (epoch ms; defaults to the wall clock) so tests can pass a fake one.
#pragma once

#include <functional>
#include <map>
#include <mutex>

#include "storage/metadata_store.h"

namespace vigil::storage {

class MemoryStore : public MetadataStore {
 public:
  explicit MemoryStore(std::function<EpochMillis()> now = {});

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

 private:
  std::vector<const SessionRecord*> orderedSessions(const SessionFilter& f) const;
  void dropExpiredRefusals();  // needs mu_

  std::function<EpochMillis()> now_;
  mutable std::mutex mu_;
  std::map<std::string, SessionRecord> sessions_;
  std::map<std::string, std::vector<Event>> events_;
  std::map<std::string, EpochMillis> refusal_expiry_;  // refusal id -> expires at
  std::map<std::string, CodeRecord> codes_;
  std::vector<AuditEntry> audit_;  // oldest first
  std::vector<AlertRecord> alerts_;  // in the order put
};

}  // namespace vigil::storage
