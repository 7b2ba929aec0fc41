// Fragmented MP4 writer for the session recorder. Internal to codecs/ (it
// speaks FFmpeg types); used only by recorder.cc on the recorder's worker.
//
// Why it holds one packet back: in a fragment the duration of the last sample
// is written before the next sample is known, and movenc then forces the next
// fragment to start exactly where that duration ended. With variable frame
// rate a guess would shift every later frame, so each packet stays held until
// the next one gives its exact duration; only when the screen stays unchanged
// (held longer than the flush interval) or at the end is the held packet
// written with a duration that reaches "now" (timelineEnd()); the caller then
// fills the gap up to the next frame with a repeat of the last picture.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "codecs/ffmpeg_owners.h"
#include "core/event.h"
#include "core/status.h"
#include "storage/key_ring.h"
#include "storage/sealed_file.h"

namespace vigil::codecs {

class Fmp4Muxer {
 public:
  using Steady = std::chrono::steady_clock::time_point;
  // Receives the init segment (ftyp+moov) once, then each moof+mdat fragment,
  // after the bytes reached the file. Always the plaintext MP4 bytes, sealed
  // or not on disk. Called on the muxer's thread.
  using ByteSink = std::function<void(bool is_init, const std::uint8_t* data, std::size_t n,
                                      bool starts_with_keyframe)>;

  // Creates the file now, so a session that cannot be recorded fails before it
  // starts. Without `overwrite` an existing file is an error (never clobber a
  // recording). `bytes` counts bytes written to the file; it must outlive this.
  // With `seal_keys`, the file is sealed (storage/sealed_file.h) under the
  // ring's current key: each write unit (init segment, fragment, trailer)
  // becomes one record when it is flushed; an empty ring is an error (fail
  // closed). The file stays empty until begin(), so "no bytes" still means
  // "nothing recorded".
  static Result<std::unique_ptr<Fmp4Muxer>> create(const std::string& path, bool overwrite,
                                                   std::chrono::milliseconds flush_interval,
                                                   std::atomic<std::uint64_t>& bytes,
                                                   const storage::KeyRing* seal_keys = nullptr);
  ~Fmp4Muxer();  // finishes (trailer) if begun and not finished; closes the file
  Fmp4Muxer(const Fmp4Muxer&) = delete;
  Fmp4Muxer& operator=(const Fmp4Muxer&) = delete;

  // When set, fragments are captured in memory for the sink as well.
  void setByteSink(ByteSink sink) { sink_ = std::move(sink); }
  bool begun() const { return header_written_; }
  // Writes ftyp + an empty moov for `enc` (opened, with global header).
  Status begin(const AVCodecContext& enc);
  // Takes a packet with pts == dts in milliseconds (> the previous one). A
  // keyframe starts a new fragment. Flushes written packets older than the
  // flush interval.
  Status add(AvPacketPtr pkt, Steady now);
  // Flushes what is due: written packets and a held packet older than the
  // flush interval (that one then lasts until `session_now`).
  Status onTimer(Steady now, Millis session_now);
  // When onTimer() should next run; nullopt while nothing is pending.
  std::optional<Steady> deadline() const;
  bool holding() const { return held_ != nullptr; }
  // End of the timeline on disk (pts + duration of the last written sample).
  Millis timelineEnd() const { return timeline_end_; }
  // Writes the held packet lasting until `end`, the trailer, and flushes.
  // Idempotent; after it only the destructor is valid.
  Status finish(Millis end);
  long long fragments() const { return fragments_; }
  const std::string& initSegment() const { return init_segment_; }

 private:
  Fmp4Muxer(int fd, std::chrono::milliseconds flush_interval, std::atomic<std::uint64_t>& bytes);
  static int writeCallback(void* opaque, compat::AvioWriteBuffer buf, int size);
  Status writeHeld();
  Status flushFragment();
  void deliverCaptured(bool is_init, bool starts_with_keyframe);
  // Sealed files: writes capture_ as one record (after the file header if it
  // is the first). Plain files: nothing (writeCallback wrote through).
  Status commitUnit(bool final);
  Status writeFd(const char* data, std::size_t n);

  int fd_;
  std::chrono::milliseconds interval_;
  std::atomic<std::uint64_t>& bytes_;
  int write_errno_ = 0;
  AVIOContext* pb_ = nullptr;  // owned; freed in the destructor after ctx_
  AvOutputCtxPtr ctx_;
  bool header_written_ = false;
  bool finished_ = false;
  AvPacketPtr held_;
  Steady held_since_{};
  int fragment_packets_ = 0;     // written to movenc, not yet flushed
  Steady fragment_since_{};      // when the oldest of those arrived
  bool fragment_starts_key_ = false;
  Millis timeline_end_ = 0;
  long long fragments_ = 0;
  ByteSink sink_;
  std::string capture_;
  std::string init_segment_;
  std::unique_ptr<storage::SealedWriter> sealer_;  // null: plain MP4 on disk
  std::string sealed_;                             // a record being written
};

}  // namespace vigil::codecs
