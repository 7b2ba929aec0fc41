// A bounded, ordered queue of messages on disk: segment files of
// length-prefixed records and a head file saying how far delivery got. It
// survives restarts (a record torn by a crash is cut off at open). Used by
// one thread; not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace vigil::siem {

class Spool {
 public:
  // Opens (creating) `dir`, keeping what an earlier run left in it.
  static Result<std::unique_ptr<Spool>> open(const std::string& dir, std::uint64_t max_bytes,
                                             std::uint64_t segment_bytes = 4u << 20);
  ~Spool();

  enum class Append { Ok, Full };
  // Appends at the tail. Full: it would pass max_bytes (`over_limit` lets a
  // small notice in anyway, so an overflow can be reported in order).
  Result<Append> append(std::string_view record, bool over_limit = false);
  // Up to `max` records from the head, oldest first, without removing them.
  Result<std::vector<std::string>> peek(std::size_t max);
  // Removes the first `n` records (those peek returned) and saves the head.
  Status pop(std::size_t n);

  bool empty() const { return count_ == 0; }
  std::uint64_t count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }  // on disk, not yet delivered
  // Makes appended records durable (fdatasync).
  Status sync();

 private:
  Spool(std::string dir, std::uint64_t max_bytes, std::uint64_t segment_bytes)
      : dir_(std::move(dir)), max_bytes_(max_bytes), segment_bytes_(segment_bytes) {}
  Status load();
  std::string segmentPath(std::uint64_t n) const;
  Status saveHead();
  Status openTail(std::uint64_t n);

  std::string dir_;
  std::uint64_t max_bytes_, segment_bytes_;
  struct Segment {
    std::uint64_t n;
    std::uint64_t size;
  };
  std::deque<Segment> segments_;  // oldest first; the last is the tail
  std::uint64_t head_offset_ = 0;  // into segments_.front()
  std::uint64_t count_ = 0, bytes_ = 0;
  int tail_fd_ = -1;  // owned, append-only
  int head_fd_ = -1;  // owned, the head segment for reading
  std::uint64_t head_fd_n_ = 0;
  int pos_fd_ = -1;   // owned, the head file
};

}  // namespace vigil::siem
