// The recordings' key-encryption keys (KEKs): 32-byte secrets under
// `<state_dir>/recording-keys/<id>.key` (folder 0700, files 0600), never in
// the recordings dir. Each recording's own random key is wrapped with the
// current (highest-id) KEK; older KEKs stay for reading sessions sealed
// before a rotation (docs/security.md, "Recordings at rest").
//
// Thread-safety: a KeyRing is immutable after it is built; const methods may
// be called from any thread. Key bytes are wiped when the ring goes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace vigil::storage {

struct RecordingKey {
  std::uint32_t id = 0;
  std::array<std::uint8_t, 32> bytes{};
};

class KeyRing {
 public:
  KeyRing() = default;  // empty: opens plain (unencrypted) recordings only
  ~KeyRing();
  KeyRing(const KeyRing&) = default;
  KeyRing& operator=(const KeyRing&) = default;
  KeyRing(KeyRing&&) = default;
  KeyRing& operator=(KeyRing&&) = default;

  // Loads every KEK; creates the first one (id 1) if there is none. Refuses a
  // state dir at or inside `recordings_dir` (the key would sit beside what it
  // protects). `vigil serve` calls it at start: no key, no sessions.
  static Result<KeyRing> loadOrCreate(const std::string& state_dir,
                                      const std::string& recordings_dir);
  // Loads without creating (readers: export, bundle, the API). A missing
  // folder gives an empty ring (then only plain recordings open).
  static Result<KeyRing> load(const std::string& state_dir);
  // Adds a new KEK (id = highest + 1), which becomes current for new
  // sessions; the old ones are kept. Returns the new id.
  static Result<std::uint32_t> rotate(const std::string& state_dir,
                                      const std::string& recordings_dir);

  // For tests and tools: adds a key (replacing one with the same id).
  void add(const RecordingKey& key);
  // The key new recordings are sealed with (highest id); null when empty.
  const RecordingKey* current() const;
  const RecordingKey* find(std::uint32_t id) const;
  bool empty() const { return keys_.empty(); }
  std::vector<std::uint32_t> ids() const;

  // `<state_dir>/recording-keys`.
  static std::string folder(const std::string& state_dir);

 private:
  std::vector<RecordingKey> keys_;  // sorted by id
};

}  // namespace vigil::storage
