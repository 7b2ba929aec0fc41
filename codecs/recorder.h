// The session recorder: frames → H.264 in a fragmented MP4 written while the
// session runs (see docs/recording.md for format, keyframes, crash safety).
//
// Threads: onFrame()/onResize() may be called from any thread (normally the
// target leg's relay thread) and never wait on encoding or disk: they copy the
// damaged pixels into a CoalescingSlot and return. A worker thread owned by
// the Recorder encodes; when it falls behind, damage is merged (fewer frames,
// final state kept). close(), stats(), bytesWritten(), healthy(), lastError()
// and setFragmentListener() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/coalescing_slot.h"
#include "core/sinks.h"
#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::codecs {

struct RecorderOptions {
  // x264 constant quantizer of P-frames (lower = better, bigger); keyframes
  // get 2 less. With trellis and no deblocking (recorder.cc) 30 kept text as
  // legible as 27 did without them; 32 is 9 % smaller than 30 and still
  // reads as well (docs/recording.md, "the quantizer"); 33 takes dense text
  // under 35 dB. A constant QP rather than crf: with no AQ and qcomp=1, crf
  // gave exactly these QPs but paid for a half-size copy of every frame and
  // a cost estimate on it (~20 % of encoder CPU).
  int qp = 32;
  std::string preset = "veryfast";        // x264 preset
  // Keyframes (IDR), decided when a frame arrives: one is due after
  // keyframe_interval_ms of session time once the frames since the last
  // keyframe weigh keyframe_bytes_ratio × its size, and always after
  // keyframe_max_interval_ms. Ratio 0 and keyframe_fresh_share 0 = purely by
  // time. See docs/recording.md for the measurements.
  Millis keyframe_interval_ms = 30000;
  double keyframe_bytes_ratio = 3.0;
  // The ratios apply to at least this many bytes per pixel: a session that
  // starts on a blank desktop has a tiny first keyframe, which says nothing
  // of what seeking through its later screens of text costs.
  double keyframe_floor_bytes_per_pixel = 0.05;
  Millis keyframe_max_interval_ms = 300000;
  // Where a due keyframe lands. A keyframe codes the whole screen: on a
  // frame that brings most of what the screen shows anew (a page of output
  // over a page, a pager left, a window of text opened) it costs little more
  // than that frame's P-frame would; on a typed character it costs a whole
  // screen for nothing. So a due keyframe waits for a frame whose new content
  // is at least keyframe_fresh_share of the screen's content (FreshContent:
  // scrolled text is not new), and is forced anyway once the frames since
  // the last keyframe weigh keyframe_wait_bytes_ratio × its size (the seek
  // bound) or at keyframe_max_interval_ms. 0 = key as soon as due.
  double keyframe_fresh_share = 0.5;
  double keyframe_wait_bytes_ratio = 4.0;
  Millis flush_interval_ms = 1000;        // max age of encoded video not yet on disk
  // At most one frame per this interval: changes in between merge into the
  // next frame, stamped with the newest change's time (the latest screen is
  // always recorded). 100 ms = at most 10 fps: a burst (a scrolling page)
  // costs a tenth of its 30-60 updates/s of 1080p encoding; anything on
  // screen for 100 ms or more is in the video. 0 = every change.
  Millis min_frame_interval_ms = 100;
  // A screen still for this long frees its encoder (x264 holds ~20 MB at
  // 1280x800); the next change resumes with a keyframe of the last picture,
  // so at most one keyframe per this interval is added (as the keyframe
  // interval above allows anyway). 0 = never.
  Millis park_encoder_after_ms = 30000;
  int threads = 1;                        // x264 threads (sliced, so no added latency)
  std::string x264_params;                // extra x264 options "k=v:k=v" (measurements)
  bool overwrite = false;                 // false: an existing file is an error
  // Encryption at rest ([recordings] encrypt): set, the file is sealed
  // (storage/sealed_file.h) under the ring's current key, and open() fails
  // when the ring has none (the session must not proceed unrecorded). Null:
  // a plain MP4. Readers open either with storage::RecordingReader.
  std::shared_ptr<const storage::KeyRing> seal_keys;
};

struct RecorderStats {
  long long frames_encoded = 0;    // video frames in the file (including gap repeats)
  long long frames_merged = 0;     // publishes merged into a later one before encoding
  long long frames_unchanged = 0;  // damage that changed no pixel: nothing encoded
  long long repeats = 0;           // repeats of the last picture after an idle flush
  long long keyframes = 0;
  long long parks = 0;             // times the encoder was freed on a still screen
  long long fragments = 0;
  std::uint64_t bytes_written = 0;  // on disk (sealed: records and header included)
  double encode_ms_total = 0;      // worker time spent converting + encoding

  // Publishes the worker has taken (encoded, merged or found unchanged):
  // a caller that publishes and waits for this to grow makes every publish
  // a frame (measurements, tests).
  long long publishesHandled() const {
    return frames_encoded - repeats + frames_unchanged + frames_merged;
  }
};

// One fragment of the live file, for a live viewer (MSE). `init_segment` is
// ftyp+moov (the same for the whole session); `data` is one moof+mdat, valid
// only during the call. A viewer that joins late starts with the init segment
// and the first fragment that starts with a keyframe.
struct LiveFragment {
  const std::string& init_segment;
  const std::uint8_t* data;
  std::size_t size;
  bool starts_with_keyframe;
};
using FragmentListener = std::function<void(const LiveFragment&)>;

class RecorderEngine;  // worker-side state (FFmpeg), defined in recorder.cc

class Recorder final : public FrameSink {
 public:
  // Creates `path` now (fails if it cannot: the session must not proceed
  // unrecorded); the encoder starts at the first frame, whose size becomes the
  // video's size (rounded up to even by padding).
  static Result<std::unique_ptr<Recorder>> open(const std::string& path, RecorderOptions opts = {});
  ~Recorder() override;  // close()
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  // FrameSink. `t` is the session clock; the first frame is shown from 0.
  // A frame of another size than the first is scaled to fit and letterboxed.
  void onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) override;
  void onResize(int width, int height, Millis t) override;

  // The latest screen published to this recorder, for other readers of the
  // same frames (title OCR) so they need no copy of their own. Thread-safe;
  // valid as long as this Recorder.
  CoalescingSlot& screen() { return slot_; }

  // Encodes the pending state, ends the video at the session's current time,
  // writes the trailer and closes the file. Idempotent; blocks until done.
  // Must not be called from a FragmentListener. Errors: see lastError().
  void close();

  // False once writing failed (disk full, encoder error); the session should
  // then end (fail closed). lastError() says why.
  bool healthy() const;
  std::string lastError() const;
  Status status() const;

  std::uint64_t bytesWritten() const { return bytes_.load(std::memory_order_relaxed); }
  RecorderStats stats() const;

  // Live tap: called on the worker thread after each fragment reached the
  // file; must be quick and must not call back into this Recorder. Pass an
  // empty function to stop.
  void setFragmentListener(FragmentListener listener);

 private:
  Recorder(std::string path, RecorderOptions opts);
  void run();
  void fail(const Status& st);
  void deliverFragment(bool is_init, const std::uint8_t* data, std::size_t n, bool key);

  const std::string path_;
  const RecorderOptions opts_;
  CoalescingSlot slot_;
  std::unique_ptr<RecorderEngine> engine_;  // used by the worker thread only

  // Wakes the worker for new frames, timers and close.
  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  long long published_ = 0;  // guarded by wake_mu_
  bool closing_ = false;     // guarded by wake_mu_

  std::mutex close_mu_;  // serialises close()
  bool closed_ = false;  // guarded by close_mu_

  mutable std::mutex state_mu_;  // guards error_, stats_, listener_
  Status error_;
  RecorderStats stats_;
  FragmentListener listener_;
  std::atomic<bool> tap_{false};

  std::atomic<std::uint64_t> bytes_{0};
  std::thread worker_;
};

}  // namespace vigil::codecs
