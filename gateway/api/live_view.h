// Live view: a session's screen and events streamed to one WebSocket viewer.
// The relay thread only copies damage into a CoalescingSlot; a feed thread
// per viewer turns it into JPEG tiles at up to `fps`, skipping ticks while the
// socket is backed up (the viewer loses frames, never the final state).
// Internal to vigil_gateway_api.
//
// Binary frame message (little endian):
//   u8 type=1, u8 flags (bit 0: full frame), u16 width, u16 height,
//   u16 tile_count, f64 t_ms (session clock),
//   tile_count × { u16 x, u16 y, u16 w, u16 h, u32 jpeg_len, jpeg bytes }
// Text messages are JSON: {"type":"hello"|"event"|"ended", ...}.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/coalescing_slot.h"
#include "core/sinks.h"
#include "gateway/session_manager.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::api {

// Encodes what changed since the previous call as JPEG tiles. Not thread-safe.
class TileEncoder {
 public:
  static constexpr int kTile = 64;
  explicit TileEncoder(int quality) : quality_(quality) {}
  // The whole screen on the first call or after a resize, else only the
  // tiles of `damage` whose pixels differ from what was last sent. Empty if
  // nothing changed.
  std::string encode(const Frame& fb, const DirtyRegion& damage, Millis t);
  void reset() { sent_ = Frame(); }

 private:
  int quality_;
  Frame sent_;  // what the viewer has now
};

// Downscaled JPEG of a frame (width ≤ max_width).
std::string encodeThumbnail(const Frame& fb, int max_width, int quality);

struct LiveMessage {
  bool binary = false;
  std::string data;
};

class LiveFeed final : public FrameSink, public EventSink {
 public:
  struct Out {
    std::function<void(LiveMessage)> send;  // queues for the socket; never blocks
    std::function<std::size_t()> backlog;   // messages queued, not yet written
    std::function<void()> close;            // ends the socket (after queued messages)
  };
  LiveFeed(std::shared_ptr<Session> session, SessionManager& sessions,
           storage::MetadataStore& store, Out out, int fps, int quality);
  ~LiveFeed() override;

  void start();  // subscribes to the session and starts the feed thread
  // Unsubscribes and joins. Idempotent; never from the feed's own callbacks.
  void stop();

  void onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) override;
  void onEvent(const Event& e) override;

 private:
  void run();
  bool sessionEnded(std::string& reason);
  void sendEvent(const Event& e);

  std::shared_ptr<Session> session_;
  SessionManager& sessions_;
  storage::MetadataStore& store_;
  Out out_;
  int fps_;
  TileEncoder encoder_;
  CoalescingSlot slot_;

  std::mutex stop_mu_;  // serializes start() and stop() callers
  std::mutex mu_;       // guards events_, stop_
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool stop_ = false;
  bool subscribed_ = false;
  std::thread thread_;
};

// Keeps the latest screen of one session for thumbnails. Thread-safe.
class ThumbnailWatcher final : public FrameSink {
 public:
  void onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) override {
    slot_.publish(fb, changed, t);
  }
  // Brings `frame_` up to date; false if no frame has ever arrived.
  bool latest(Frame& out);

 private:
  CoalescingSlot slot_;
  std::mutex mu_;
  Frame frame_;
};

}  // namespace vigil::gateway::api
