// The audit log's hash chain (docs/redis-schema.md "Audit log"), shared by
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

#include "storage/metadata_store.h"

namespace vigil::storage {

// The prev hash of the very first entry (seq 1): 32 zero bytes, hex.
inline const std::string kAuditGenesis(64, '0');

// An entry as stored: the fields, its place in the chain and its hash.
struct ChainedAudit {
  AuditEntry entry;   // entry.seq: 1, 2, ... in append order
  std::string nonce;  // random per append: two equal entries still differ,
                      // and a retried append recognises its own entry
  std::string prev;   // hex hash of entry seq-1 (kAuditGenesis for seq 1)
  std::string hash;   // hex SHA-256(prev bytes || auditEntryBytes)
};

// The bytes an entry's hash covers: seq, at (decimal), actor, action,
// object, detail, nonce, each preceded by its length (u32 big-endian).
std::string auditEntryBytes(const AuditEntry& e, std::string_view nonce);
// Hex SHA-256(prev || bytes), prev given as 64 hex digits.
std::string auditChainHash(std::string_view prev_hex, std::string_view bytes);
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
Result<AuditVerify> walkAudit(std::uint64_t start_seq, const std::string& start_prev,
                              const AuditPager& pager);

}  // namespace vigil::storage
