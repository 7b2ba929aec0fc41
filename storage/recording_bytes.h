// Plaintext random access to a recording file, for verification and bundles:
// through storage::RecordingReader, so sealed (encrypted at rest) and plain
// recordings read alike. Not thread-safe: one reader per user.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::storage {

class RecordingBytes {
 public:
  virtual ~RecordingBytes() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly n bytes at offset (an error past the end).
  virtual Status readAt(std::uint64_t offset, void* buf, std::size_t n) = 0;
  // Bytes in the file after a sealed recording's final record: not part of
  // the recording, so only this tells that something was appended on disk.
  virtual std::uint64_t bytesAfterEnd() const { return 0; }
};

// Opens the recording at `path` (absolute, or relative to the working dir);
// `keys` unseal it (an empty ring opens plain recordings only).
Result<std::unique_ptr<RecordingBytes>> openRecordingBytes(const std::string& path,
                                                           const KeyRing& keys = {});

// Bytes already in memory (a bundle's recording.mp4, tests).
std::unique_ptr<RecordingBytes> recordingBytesFromString(std::string bytes);

}  // namespace vigil::storage
