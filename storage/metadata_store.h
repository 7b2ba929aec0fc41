// What Vigil keeps about sessions, in Redis (redis_store.h) or, for unit
// tests, in memory (memory_store.h). All methods are thread-safe and may
// block on the network: never call them from a relay thread — the gateway
// uses BatchedEventWriter for events.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "storage/signing_key.h"

namespace vigil::storage {

struct SessionRecord {
  std::string id;
  std::string user;
  std::string target;
  std::string protocol;     // "rdp" | "vnc"
  std::string state;        // "live" | "ended" | "refused" (kept apart: see putRefusal)
  EpochMillis started_at = 0;
  EpochMillis ended_at = 0;  // 0 while live
  int width = 0, height = 0;
  long long video_bytes = 0;
  std::string end_reason;   // "client disconnected", "terminated by alice", ...
  std::string node;         // gateway node holding it while live
  std::string client_addr;
  std::string video_path;   // recording file, relative to [recordings] dir
  // Refusals only: how many connections the record stands for (1, or more for
  // an address's aggregate while it is throttled) and the distinct user and
  // target names they claimed (at most kMaxClaimedNames each, first ones kept).
  long long refusals = 0;
  std::vector<std::string> claimed_users, claimed_targets;
  long long durationMs() const;  // ended_at - started_at, or so far while live
};

inline constexpr std::size_t kMaxClaimedNames = 16;
// Alerts kept for listing across sessions (each also stays an event of its session).
inline constexpr std::size_t kAlertCap = 100'000;
// Lifecycle events kept for one aggregate refusal record (the first ones).
inline constexpr std::size_t kMaxAggregateEvents = 32;

// A refused connection, for putRefusal. Names are as the client claimed them
// (already cut short and made printable by the gatekeeper), never a secret.
struct RefusalRecord {
  std::string id;           // record id: fresh per refusal, or one per aggregate
  bool aggregate = false;   // true: add to the record `id` (count, names, last reason)
  std::string user, target, protocol, client_addr, node, reason;
  EpochMillis at = 0;       // when it was refused
  std::chrono::milliseconds retain{0};  // the record expires `retain` after its first refusal
};

// Without `state`, live and ended sessions (refusals only with state "refused").
struct SessionFilter {
  std::optional<std::string> state, user, target;
  std::optional<EpochMillis> from, to;  // on started_at, inclusive
  std::size_t limit = 100;
};

struct SearchHit {
  std::string session_id;
  Event event;
  std::string user, target;
  EpochMillis started_at = 0;
};

struct AuditEntry {
  EpochMillis at = 0;
  std::string actor;    // user name
  std::string action;   // "view", "search", "export", "terminate", "grant", "live"
  std::string object;   // session id, query, ...
  std::string detail;
  // Set by the store: the entry's place in the hash chain, 1, 2, ... in
  // append order over the log's whole life (0: written before the chain).
  std::uint64_t seq = 0;
};

// The audit log is append-only and hash-chained (docs/redis-schema.md
// "Audit log"); entries older than `retain` are dropped from the oldest end
// as new ones are appended (never by count), and the chain's start moves
// with them, so what is kept still verifies.
inline constexpr std::chrono::milliseconds kDefaultAuditRetention{365LL * 24 * 3600 * 1000};
// While entries are appended, the chain head is signed at least this often.
inline constexpr std::chrono::milliseconds kAuditCheckpointEvery{10000};
struct AuditOptions {
  std::chrono::milliseconds retain = kDefaultAuditRetention;  // [retention] audit_days
  std::function<EpochMillis()> now;                           // empty: the wall clock
  // The deployment key (signing_key.h): appends sign a checkpoint of the
  // chain head (hash_chain.h Checkpoint, subject "audit") when the newest is
  // kAuditCheckpointEvery old. Null: no signing.
  std::shared_ptr<const SigningKey> signer;
  // verifyAudit checks the newest checkpoint with this key; unset, with the
  // signer's public key, and without either it checks the chain alone.
  std::optional<PublicKey> verify_key;
};

// What verifyAudit found.
struct AuditVerify {
  bool intact = false;
  std::uint64_t first_seq = 0;  // the oldest entry kept (the chain's start after trimming)
  std::uint64_t last_seq = 0;   // the newest entry that verified
  std::uint64_t entries = 0;    // entries that verified
  std::uint64_t bad_seq = 0;    // when not intact: the entry `detail` names
  // "audit log intact: entries 1..500" or the first problem, e.g. "audit
  // entry 42 changed", "audit entry 42 missing", "audit entry 42 out of
  // order (found after entry 43)", "an entry was inserted before audit entry 42".
  std::string detail;
  // The newest signed checkpoint, when a key was given to check it: it
  // verified and the chain reaches it with the signed hash (else not intact).
  bool signature_checked = false;
  std::uint64_t signed_seq = 0;  // entries up to this one are signed
  EpochMillis signed_at = 0;
};

// An alert raised by a rule (CONTRACT.md `GET /api/alerts`): the session's
// `alert` event, kept also apart so recent alerts across sessions list in one
// read. `text` is the alert event's text (rule name and what matched, masked).
struct AlertRecord {
  std::string session_id;
  Millis t_ms = 0;     // on the session's clock, as its `alert` event
  EpochMillis at = 0;  // wall clock, when it was raised
  std::string rule, severity, text, user, target;
  bool operator==(const AlertRecord&) const = default;
};

// A one-time access code. Stored under a keyed hash of the code; `sealed`
// is the code encrypted with the gateway key (VNC's challenge-response needs
// the code itself). The plain code is never stored.
struct CodeRecord {
  std::string id;        // keyed hash of the code, hex
  std::string user;
  std::string target;
  EpochMillis expires_at = 0;
  std::string sealed;    // base64 secretbox of the code
  std::string issued_by; // who issued it: a web user's name, "cli:<login>"; "" unknown
};

// For findAudit: every given condition must hold.
struct AuditFilter {
  std::optional<EpochMillis> since;          // at >= since
  std::optional<std::string> actor, action;  // exact
  std::size_t limit = 100;                   // 0: 100; at most 10 000
  bool matches(const AuditEntry& a) const {
    return (!since || a.at >= *since) && (!actor || a.actor == *actor) &&
           (!action || a.action == *action);
  }
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  virtual Status ping() = 0;

  // Creates or replaces the record.
  virtual Status putSession(const SessionRecord& s) = 0;
  virtual Result<std::optional<SessionRecord>> getSession(const std::string& id) = 0;
  // Newest first.
  virtual Result<std::vector<SessionRecord>> listSessions(const SessionFilter& f) = 0;

  // Appends in order; `key`, `title`, `clipboard` and `alert` events are indexed
  // for search in the same round trip.
  virtual Status appendEvents(const std::string& session_id, const std::vector<Event>& events) = 0;
  // As appendEvents, but idempotent: `events` are the session's events number
  // first_seq, first_seq + 1, ... (0-based, append order). Those already
  // stored are skipped, so a call retried after a timeout (applied by the
  // server or not) stores each event exactly once; a gap (first_seq beyond
  // what is stored) is an error. For the session's single writer
  // (BatchedEventWriter). Default: appendEvents (stores without this check).
  virtual Status appendEventsAt(const std::string& session_id, std::uint64_t /*first_seq*/,
                                const std::vector<Event>& events) {
    return appendEvents(session_id, events);
  }
  // Time order. Empty `kinds` means all.
  virtual Result<std::vector<Event>> events(const std::string& session_id,
                                            const std::vector<EventKind>& kinds) = 0;

  // CONTRACT.md search: every word (case-insensitive word prefix) and every
  // "quoted phrase"; newest session first, then by t_ms.
  virtual Result<std::vector<SearchHit>> search(const std::string& query,
                                                const SessionFilter& f) = 0;

  // Access codes: put with a TTL; take is atomic, so a code works once.
  virtual Status putCode(const CodeRecord& c) = 0;
  virtual Result<std::optional<CodeRecord>> takeCode(const std::string& id) = 0;
  // Unexpired codes for a target (for VNC auth, which cannot look up by hash).
  virtual Result<std::vector<CodeRecord>> codesForTarget(const std::string& target) = 0;

  // Records a refused connection apart from sessions (listed only with state
  // "refused"): a fresh record with lifecycle events "connect from ADDR" and
  // "refused: REASON", or, with r.aggregate, one more refusal counted on the
  // record r.id (created by the first). Record, events and index entries go
  // away `r.retain` after the record's first refusal. Default: an error.
  virtual Status putRefusal(const RefusalRecord& r) {
    return Status::Error("this store cannot record refusal " + r.id);
  }

  // Alerts across sessions. putAlert keeps the newest kAlertCap; alerts()
  // lists those raised at or after `since` (epoch ms), newest first.
  // Default: an error.
  virtual Status putAlert(const AlertRecord& a) {
    return Status::Error("this store cannot record alerts (session " + a.session_id + ")");
  }
  virtual Result<std::vector<AlertRecord>> alerts(EpochMillis since, std::size_t limit) {
    (void)since, (void)limit;
    return Status::Error("this store cannot list alerts");
  }

  // Appends to the hash chain (a.seq is ignored: the store numbers entries).
  // Entries from several gateway nodes appending at once form one chain.
  virtual Status appendAudit(const AuditEntry& a) = 0;
  // Newest first, with their seq.
  virtual Result<std::vector<AuditEntry>> audit(std::size_t limit) = 0;
  // Newest first, only entries matching `f`. Default: filters the newest
  // 10 000 (audit()); RedisStore reads further back, page by page, until
  // `since` is passed (with 5 minutes' slack for nodes' clocks).
  virtual Result<std::vector<AuditEntry>> findAudit(const AuditFilter& f) {
    auto all = audit(10000);
    if (!all.ok()) return all.status();
    const std::size_t limit = f.limit == 0 ? 100 : std::min<std::size_t>(f.limit, 10000);
    std::vector<AuditEntry> out;
    for (AuditEntry& a : *all)
      if (out.size() < limit && f.matches(a)) out.push_back(std::move(a));
    return out;
  }
  // Walks the whole kept log and checks every link up to the head. An error
  // only when the store cannot be read; a broken chain is intact = false.
  virtual Result<AuditVerify> verifyAudit() {
    return Status::Error("this store cannot verify the audit log");
  }
};

}  // namespace vigil::storage
