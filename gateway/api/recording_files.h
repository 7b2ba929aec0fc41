// Where a session's recording is on disk, refusing anything that would lead
// outside the recordings directory (absolute paths, "..", symlinks), since a
// SessionRecord comes from Redis and Redis is writable by more than Vigil.
#pragma once

#include <filesystem>
#include <optional>

#include "storage/metadata_store.h"

namespace vigil::gateway::api {

class RecordingFiles {
 public:
  explicit RecordingFiles(const std::string& recordings_dir);
  // The recording's path inside the recordings directory, or nullopt.
  std::optional<std::filesystem::path> pathOf(const storage::SessionRecord& s) const;
  // Bytes on disk so far for a live session (its record is updated at the end).
  long long liveBytes(const storage::SessionRecord& s) const;

 private:
  std::filesystem::path root_;
};

}  // namespace vigil::gateway::api
