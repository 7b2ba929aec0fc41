// Where a session's signed chain checkpoints live beside its events
// (docs/redis-schema.md `vigil:ck:{session}`), and the raw event order the
// chain was computed over. Implemented by RedisStore and MemoryStore.
// Thread-safe; may block on the network (never call from a relay thread).
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace vigil::storage {

class EvidenceStore {
 public:
  virtual ~EvidenceStore() = default;
  // Appends a checkpoint (Checkpoint::toJson()) to the session's list.
  virtual Status putCheckpoint(const std::string& session_id, const std::string& checkpoint_json) = 0;
  // Every checkpoint stored for the session, oldest first (empty when none).
  virtual Result<std::vector<std::string>> checkpoints(const std::string& session_id) = 0;
  // The session's events in append (sequence) order, unsorted and unfiltered.
  // An entry that cannot be read comes back as a `lifecycle` event whose text
  // starts "<unreadable", so a verifier counts it (and finds it changed).
  virtual Result<std::vector<Event>> eventsInAppendOrder(const std::string& session_id) = 0;
};

}  // namespace vigil::storage
