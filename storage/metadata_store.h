// What Vigil keeps about sessions, in Redis (redis_store.h) or, for unit
// tests, in memory (memory_store.h). All methods are thread-safe and may
// block on the network: never call them from a relay thread — the gateway
// uses BatchedEventWriter for events.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"

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

  virtual Status appendAudit(const AuditEntry& a) = 0;
  virtual Result<std::vector<AuditEntry>> audit(std::size_t limit) = 0;
};

}  // namespace vigil::storage
