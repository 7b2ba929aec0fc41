// Plaintext random access to a recording file, for verification and bundles.
// Today a plain file read; when recordings are encrypted at rest this is the
// one place that switches to storage::RecordingReader (same shape: size(),
// readAt()). Not thread-safe: one reader per user.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace vigil::storage {

class RecordingBytes {
 public:
  virtual ~RecordingBytes() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly n bytes at offset (an error past the end).
  virtual Status readAt(std::uint64_t offset, void* buf, std::size_t n) = 0;
};

// Opens the recording at `path` (absolute, or relative to the working dir).
Result<std::unique_ptr<RecordingBytes>> openRecordingBytes(const std::string& path);

// Bytes already in memory (a bundle's recording.mp4, tests).
std::unique_ptr<RecordingBytes> recordingBytesFromString(std::string bytes);

}  // namespace vigil::storage
