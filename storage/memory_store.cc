#include "storage/memory_store.h"

#include <algorithm>

#include "core/clock.h"
#include "storage/audit_chain.h"
#include "storage/search_query.h"
#include "storage/store_util.h"

namespace vigil::storage {

MemoryStore::MemoryStore(std::function<EpochMillis()> now, AuditOptions audit)
    : now_(std::move(now)), audit_opts_(std::move(audit)) {
  if (!now_) now_ = [] { return epochNowMs(); };
  if (!audit_opts_.now) audit_opts_.now = now_;
  audit_start_prev_ = audit_head_hash_ = kAuditGenesis;
}

Status MemoryStore::ping() { return Status::Ok(); }

Status MemoryStore::putSession(const SessionRecord& s) {
  if (s.id.empty()) return Status::Error("session record has no id");
  std::lock_guard lock(mu_);
  sessions_[s.id] = s;
  return Status::Ok();
}

Result<std::optional<SessionRecord>> MemoryStore::getSession(const std::string& id) {
  std::lock_guard lock(mu_);
  dropExpiredRefusals();
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return std::optional<SessionRecord>();
  return std::optional<SessionRecord>(it->second);
}

std::vector<const SessionRecord*> MemoryStore::orderedSessions(const SessionFilter& f) const {
  std::vector<const SessionRecord*> out;
  for (const auto& [id, s] : sessions_)
    if (sessionMatches(f, s)) out.push_back(&s);
  std::sort(out.begin(), out.end(), [](const SessionRecord* a, const SessionRecord* b) {
    return newerFirst(a->started_at, a->id, b->started_at, b->id);
  });
  return out;
}

Result<std::vector<SessionRecord>> MemoryStore::listSessions(const SessionFilter& f) {
  std::lock_guard lock(mu_);
  dropExpiredRefusals();
  std::vector<SessionRecord> out;
  const std::size_t limit = effectiveLimit(f.limit);
  for (const SessionRecord* s : orderedSessions(f)) {
    if (out.size() >= limit) break;
    out.push_back(*s);
  }
  return out;
}

Status MemoryStore::appendEvents(const std::string& session_id, const std::vector<Event>& events) {
  std::lock_guard lock(mu_);
  auto& list = events_[session_id];
  list.insert(list.end(), events.begin(), events.end());
  return Status::Ok();
}

Status MemoryStore::appendEventsAt(const std::string& session_id, std::uint64_t first_seq,
                                   const std::vector<Event>& events) {
  std::lock_guard lock(mu_);
  auto& list = events_[session_id];
  if (first_seq > list.size())
    return Status::Error("events of session " + session_id + ": " + std::to_string(list.size()) +
                         " stored, this batch starts at " + std::to_string(first_seq));
  const std::size_t skip = list.size() - static_cast<std::size_t>(first_seq);
  if (skip < events.size())
    list.insert(list.end(), events.begin() + static_cast<std::ptrdiff_t>(skip), events.end());
  return Status::Ok();
}

void MemoryStore::dropExpiredRefusals() {
  const EpochMillis now = now_();
  for (auto it = refusal_expiry_.begin(); it != refusal_expiry_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    sessions_.erase(it->first);
    events_.erase(it->first);
    it = refusal_expiry_.erase(it);
  }
}

Status MemoryStore::putRefusal(const RefusalRecord& r) {
  if (r.id.empty()) return Status::Error("refusal record has no id");
  if (r.retain.count() <= 0) return Status::Error("refusal " + r.id + " has no retention");
  std::lock_guard lock(mu_);
  dropExpiredRefusals();
  auto it = sessions_.find(r.id);
  const bool add = r.aggregate && it != sessions_.end();
  SessionRecord& s = sessions_[r.id];
  auto& evs = events_[r.id];
  if (add) {
    ++s.refusals;
    s.ended_at = r.at;
    s.end_reason = "refused: " + r.reason;
  } else {
    s = SessionRecord{};
    evs.clear();
    s.id = r.id;
    s.user = r.user;
    s.target = r.target;
    s.protocol = r.protocol;
    s.state = "refused";
    s.started_at = s.ended_at = r.at;
    s.end_reason = "refused: " + r.reason;
    s.node = r.node;
    s.client_addr = r.client_addr;
    s.refusals = 1;
    refusal_expiry_[r.id] = r.at + r.retain.count();
  }
  auto addName = [](std::vector<std::string>& list, const std::string& name) {
    if (name.empty() || list.size() >= kMaxClaimedNames) return;
    if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(name);
  };
  addName(s.claimed_users, r.user);
  addName(s.claimed_targets, r.target);
  const Millis t = std::max<Millis>(0, r.at - s.started_at);
  if (!r.aggregate) {
    evs.push_back({t, EventKind::Lifecycle, "connect from " + r.client_addr, {}});
    evs.push_back({t, EventKind::Lifecycle, "refused: " + r.reason, {}});
  } else if (evs.size() < kMaxAggregateEvents) {
    evs.push_back({t, EventKind::Lifecycle,
                   "refused from " + r.client_addr + (r.user.empty() ? "" : " as " + r.user) +
                       " to " + r.target + ": " + r.reason,
                   {}});
  }
  return Status::Ok();
}

Result<std::vector<Event>> MemoryStore::events(const std::string& session_id,
                                               const std::vector<EventKind>& kinds) {
  std::lock_guard lock(mu_);
  std::vector<Event> out;
  auto it = events_.find(session_id);
  if (it == events_.end()) return out;
  for (const Event& e : it->second)
    if (kinds.empty() || std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end())
      out.push_back(e);
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.t_ms < b.t_ms; });
  return out;
}

Result<std::vector<SearchHit>> MemoryStore::search(const std::string& query,
                                                   const SessionFilter& f) {
  auto q = parseSearchQuery(query);
  if (!q) return q.status();
  std::lock_guard lock(mu_);
  const std::size_t limit = effectiveLimit(f.limit);

  // Sessions without a record still have searchable events (as in Redis).
  struct Candidate {
    std::string id;
    const SessionRecord* rec;
    EpochMillis started_at;
  };
  std::vector<Candidate> order;
  for (const auto& [id, list] : events_) {
    auto s = sessions_.find(id);
    const SessionRecord* rec = s == sessions_.end() ? nullptr : &s->second;
    if (rec ? !sessionMatches(f, *rec) : (f.state || f.user || f.target)) continue;
    order.push_back({id, rec, rec ? rec->started_at : 0});
  }
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    return newerFirst(a.started_at, a.id, b.started_at, b.id);
  });

  std::vector<SearchHit> hits;
  for (const Candidate& c : order) {
    if (hits.size() >= limit) break;
    if (!c.rec && ((f.from && c.started_at < *f.from) || (f.to && c.started_at > *f.to))) continue;
    std::vector<const Event*> matched;
    for (const Event& e : events_.at(c.id))
      if (isSearchableKind(e.kind) && matchesQuery(*q, e.text)) matched.push_back(&e);
    std::stable_sort(matched.begin(), matched.end(),
                     [](const Event* a, const Event* b) { return a->t_ms < b->t_ms; });
    for (const Event* e : matched) {
      if (hits.size() >= limit) break;
      SearchHit h;
      h.session_id = c.id;
      h.event = *e;
      if (c.rec) {
        h.user = c.rec->user;
        h.target = c.rec->target;
      }
      h.started_at = c.started_at;
      hits.push_back(std::move(h));
    }
  }
  return hits;
}

Status MemoryStore::putCode(const CodeRecord& c) {
  if (c.id.empty()) return Status::Error("access code record has no id");
  if (c.expires_at <= now_()) return Status::Error("access code already expired; give a longer ttl");
  std::lock_guard lock(mu_);
  codes_[c.id] = c;
  return Status::Ok();
}

Result<std::optional<CodeRecord>> MemoryStore::takeCode(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = codes_.find(id);
  if (it == codes_.end()) return std::optional<CodeRecord>();
  CodeRecord c = std::move(it->second);
  codes_.erase(it);
  if (c.expires_at <= now_()) return std::optional<CodeRecord>();
  return std::optional<CodeRecord>(std::move(c));
}

Result<std::vector<CodeRecord>> MemoryStore::codesForTarget(const std::string& target) {
  std::lock_guard lock(mu_);
  const EpochMillis now = now_();
  std::vector<CodeRecord> out;
  for (auto it = codes_.begin(); it != codes_.end();) {
    if (it->second.expires_at <= now) {
      it = codes_.erase(it);
      continue;
    }
    if (it->second.target == target) out.push_back(it->second);
    ++it;
  }
  return out;
}

Status MemoryStore::appendAudit(const AuditEntry& a) {
  const EpochMillis now = audit_opts_.now();
  const EpochMillis cutoff = now - audit_opts_.retain.count();
  std::lock_guard lock(mu_);
  const ChainedAudit c = chainAudit(a, audit_head_seq_ + 1, audit_head_hash_, auditNonce());
  audit_.push_back(encodeAudit(c));
  audit_head_seq_ = c.entry.seq;
  audit_head_hash_ = c.hash;
  // As RedisStore: by age from the oldest end, never the newest entry.
  std::size_t drop = 0;
  while (drop + 1 < audit_.size() && drop < kAuditTrimPerAppend) {
    const auto old = decodeAudit(audit_[drop]);
    if (!old || old->entry.at >= cutoff) break;
    audit_start_seq_ = old->entry.seq + 1;
    audit_start_prev_ = old->hash;
    ++drop;
  }
  audit_.erase(audit_.begin(), audit_.begin() + static_cast<std::ptrdiff_t>(drop));
  if (audit_opts_.signer &&
      (!audit_checkpoint_ || now - audit_checkpoint_->signed_at >= kAuditCheckpointEvery.count()))
    audit_checkpoint_ = auditCheckpoint(audit_head_seq_, audit_head_hash_, now, *audit_opts_.signer);
  return Status::Ok();
}

Result<std::vector<AuditEntry>> MemoryStore::audit(std::size_t limit) {
  std::lock_guard lock(mu_);
  limit = effectiveLimit(limit);
  std::vector<AuditEntry> out;
  for (auto it = audit_.rbegin(); it != audit_.rend() && out.size() < limit; ++it)
    if (auto c = decodeAudit(*it)) out.push_back(std::move(c->entry));
  return out;
}

Status MemoryStore::putAlert(const AlertRecord& a) {
  std::lock_guard lock(mu_);
  alerts_.push_back(a);
  if (alerts_.size() > kAlertCap) alerts_.erase(alerts_.begin());
  return Status::Ok();
}

Result<std::vector<AlertRecord>> MemoryStore::alerts(EpochMillis since, std::size_t limit) {
  std::lock_guard lock(mu_);
  limit = effectiveLimit(limit);
  std::vector<AlertRecord> out;
  for (auto it = alerts_.rbegin(); it != alerts_.rend(); ++it)  // ties: the later put first
    if (it->at >= since) out.push_back(*it);
  std::stable_sort(out.begin(), out.end(),
                   [](const AlertRecord& x, const AlertRecord& y) { return x.at > y.at; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<AuditVerify> MemoryStore::verifyAudit() {
  std::lock_guard lock(mu_);
  std::optional<PublicKey> key = audit_opts_.verify_key;
  if (!key && audit_opts_.signer) key = audit_opts_.signer->publicKey();
  std::optional<std::pair<std::uint64_t, std::string>> signed_head;
  if (key && audit_checkpoint_) {
    if (!audit_checkpoint_->verify(*key)) {
      AuditVerify bad;
      bad.detail = "the audit log's signed checkpoint does not verify with the deployment key";
      return bad;
    }
    signed_head.emplace(audit_checkpoint_->events, toHex(audit_checkpoint_->event_head));
  }
  auto v = walkAudit(audit_start_seq_, audit_start_prev_,
                   [&](std::uint64_t pos, std::size_t n) -> Result<AuditPage> {
                     AuditPage p;
                     for (std::size_t i = pos; i < audit_.size() && i < pos + n; ++i)
                       p.items.push_back(audit_[i]);
                     p.head_seq = audit_head_seq_;
                     p.head_hash = audit_head_hash_;
                     return p;
                   },
                   signed_head);
  if (v.ok() && key) describeAuditSigning(*v, audit_checkpoint_);
  return v;
}

}  // namespace vigil::storage

namespace vigil::storage {

Status MemoryStore::putCheckpoint(const std::string& session_id, const std::string& checkpoint_json) {
  std::lock_guard lock(mu_);
  checkpoints_[session_id].push_back(checkpoint_json);
  return Status::Ok();
}

Result<std::vector<std::string>> MemoryStore::checkpoints(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = checkpoints_.find(session_id);
  if (it == checkpoints_.end()) return std::vector<std::string>{};
  return it->second;
}

Result<std::vector<Event>> MemoryStore::eventsInAppendOrder(const std::string& session_id) {
  std::lock_guard lock(mu_);
  auto it = events_.find(session_id);
  if (it == events_.end()) return std::vector<Event>{};
  return it->second;
}

}  // namespace vigil::storage
