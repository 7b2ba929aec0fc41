#include "storage/metadata_store.h"

#include "core/clock.h"
#include "storage/store_util.h"

namespace vigil::storage {

long long SessionRecord::durationMs() const {
  if (started_at <= 0) return 0;
  const EpochMillis end = ended_at > 0 ? ended_at : epochNowMs();
  return end > started_at ? end - started_at : 0;
}

bool auditMatches(const AuditFilter& f, const AuditEntry& a) {
  return (!f.since || a.at >= *f.since) && (!f.actor || a.actor == *f.actor) &&
         (!f.action || a.action == *f.action);
}

Result<std::vector<AuditEntry>> MetadataStore::findAudit(const AuditFilter& f) {
  auto all = audit(kMaxLimit);
  if (!all.ok()) return all.status();
  const std::size_t limit = effectiveLimit(f.limit);
  std::vector<AuditEntry> out;
  for (AuditEntry& a : *all) {
    if (out.size() >= limit) break;
    if (auditMatches(f, a)) out.push_back(std::move(a));
  }
  return out;
}

}  // namespace vigil::storage
