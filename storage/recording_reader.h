// Reading a recording file as its plaintext fragmented MP4, whether it was
// sealed (storage/sealed_file.h) or written plain (encryption off, or a
// recording from before encryption at rest). Random access for HTTP Range,
// FFmpeg seeking, export and bundles.
//
// open() scans the record headers once (one 4-byte read per fragment) into an
// in-memory index, so readAt() costs one pread + one decryption of the record
// it lands in (the last decrypted record is cached). The file is read as it
// was at open(): a live recording's later fragments need a new reader.
//
// Thread-safety: readAt() may be called from any thread; calls on one reader
// serialise on its mutex. size(), sealed(), complete(), records() are const
// after open().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::storage {

class RecordingReader {
 public:
  // Opens `path` (a regular file, not through a symlink). A sealed file needs the KEK it names in `keys`; a plain MP4
  // opens with any ring, even an empty one. A torn last record (crash) is
  // left out. Errors name the file and what to do (missing key, wrong key,
  // damaged header).
  static Result<std::unique_ptr<RecordingReader>> open(const std::string& path, const KeyRing& keys);
  ~RecordingReader();
  RecordingReader(const RecordingReader&) = delete;
  RecordingReader& operator=(const RecordingReader&) = delete;

  // Plaintext bytes: the MP4 as the muxer wrote it (crash-cut tail excluded).
  std::uint64_t size() const { return size_; }
  // Copies up to n plaintext bytes from `offset` into buf; fewer only at the
  // end (0 at or past size()). Error when a record fails authentication
  // ("record 17 of FILE does not authenticate ...") or the file cannot be read.
  Result<std::size_t> readAt(std::uint64_t offset, void* buf, std::size_t n);

  bool sealed() const { return sealed_; }
  // Sealed: the final record (trailer) is present, the recording was closed
  // normally. Plain files: true.
  bool complete() const { return complete_; }
  // Sealed and complete: file bytes after the final record (appended to the
  // file: they are never read); otherwise 0.
  std::uint64_t bytesAfterEnd() const { return after_end_; }
  // Sealed: the number of whole records (0 = init segment); plain: 0.
  std::size_t records() const { return index_.size(); }
  // Sealed: the id of the KEK that wraps this file's key; plain: 0.
  std::uint32_t keyId() const { return key_id_; }

 private:
  struct Record {
    std::uint64_t file_offset;   // of the ciphertext (after the length word)
    std::uint64_t plain_offset;  // in the plaintext stream
    std::uint32_t plain_len;
    bool final;
  };
  RecordingReader() = default;
  Status scan();
  Status loadRecord(std::size_t i);  // into cache_ (mu_ held)

  std::string path_;
  int fd_ = -1;
  bool sealed_ = false;
  bool complete_ = true;
  std::uint32_t key_id_ = 0;
  std::uint64_t size_ = 0;
  std::uint64_t file_size_ = 0;
  std::uint64_t after_end_ = 0;
  std::vector<Record> index_;
  std::array<std::uint8_t, 32> key_{};  // this recording's key (sealed); wiped on close

  std::mutex mu_;  // guards cache_*, scratch_
  std::size_t cache_index_ = SIZE_MAX;
  std::vector<std::uint8_t> cache_;
  std::vector<std::uint8_t> scratch_;
};

}  // namespace vigil::storage
