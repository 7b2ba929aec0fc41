// The audit log's hash chain (docs/redis-schema.md "Audit log"), a
// hash_chain.h chain of kind 'A' whose items are auditEntryBytes; shared by
// RedisStore and MemoryStore: how an entry is hashed, stored as JSON, and how
// a stored log is walked to find the first changed, missing, reordered or
// inserted entry. Internal to vigil_storage. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/hash_chain.h"
#include "storage/metadata_store.h"

namespace vigil::storage {

// The prev hash of the very first entry (seq 1): 32 zero bytes, hex.
inline const std::string kAuditGenesis(64, '0');

// Entries dropped by age in one append at most (a backlog drains over a
// few appends; each append stays short).
inline constexpr std::size_t kAuditTrimPerAppend = 64;

// An entry as stored: the fields, its place in the chain and its hash.
struct ChainedAudit {
  AuditEntry entry;   // entry.seq: 1, 2, ... in append order
  std::string nonce;  // random per append: two equal entries still differ,
                      // and a retried append recognises its own entry
  std::string prev;   // hex hash of entry seq-1 (kAuditGenesis for seq 1)
  std::string hash;   // hex HashChain::next(prev, Audit, seq - 1, SHA-256(auditEntryBytes))
};

// The bytes an entry's hash covers: seq, at (decimal), actor, action,
// object, detail, nonce, each preceded by its length (u32 big-endian).
std::string auditEntryBytes(const AuditEntry& e, std::string_view nonce);
// The chain step of hash_chain.h (kind 'A', index seq - 1) as hex; prev as
// 64 hex digits. Empty when prev is not a hash (then it matches nothing).
std::string auditChainHash(std::string_view prev_hex, std::uint64_t seq, std::string_view bytes);
// `e` (text made valid UTF-8, so that what is hashed is what JSON stores)
// placed after `prev` as entry `seq`.
ChainedAudit chainAudit(AuditEntry e, std::uint64_t seq, const std::string& prev,
                        std::string nonce);
std::string auditNonce();  // 16 random hex digits

// Compact JSON {"seq","at","actor","action","object","detail","nonce","prev","hash"}.
std::string encodeAudit(const ChainedAudit& c);
std::optional<ChainedAudit> decodeAudit(std::string_view json);
// An entry written before the chain (JSON without seq): seq 0.
std::optional<AuditEntry> decodeLegacyAudit(std::string_view json);

// Stored entries at list positions [pos, pos + n) (oldest kept = 0), and the
// chain head read in the same atomic step.
struct AuditPage {
  std::vector<std::string> items;
  std::uint64_t head_seq = 0;
  std::string head_hash;
};
using AuditPager = std::function<Result<AuditPage>(std::uint64_t pos, std::size_t n)>;

// Walks the stored log from its start (the first kept entry is `start_seq`,
// chained to `start_prev`) to the head and names the first problem:
// "audit entry 42 changed", "audit entry 42 missing", "audit entry 42 out of
// order (found after entry 43)", "an entry was inserted before audit entry
// 42", ... A pager error is returned as is.
// `signed_head` (seq, hex hash) from a signed checkpoint: that entry must
// be reached and have that hash.
Result<AuditVerify> walkAudit(
    std::uint64_t start_seq, const std::string& start_prev, const AuditPager& pager,
    const std::optional<std::pair<std::uint64_t, std::string>>& signed_head = std::nullopt);

// The checkpoint that signs the audit chain's head: hash_chain.h Checkpoint
// with subject "audit", events = head seq, event_head = head hash.
// Adds what the newest signed checkpoint covers (none yet: nullopt) to the
// result of a walk.
void describeAuditSigning(AuditVerify& v, const std::optional<Checkpoint>& cp);

Checkpoint auditCheckpoint(std::uint64_t head_seq, const std::string& head_hash,
                           EpochMillis now, const SigningKey& key);

}  // namespace vigil::storage
