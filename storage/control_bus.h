// Cross-node control over Redis pub/sub (channel "vigil:control") and node
// liveness keys ("vigil:node:<name>", with a TTL). See docs/redis-schema.md.
//
// Every message carries an HMAC-SHA256 keyed by the bus key (derived from
// the deployment's gateway key), a timestamp and a random nonce; receivers
// drop, with a warning naming the channel, messages without a valid MAC,
// older or newer than kMaxMessageAgeMs, or already seen (replays). So Redis
// access alone does not let anyone end sessions under any name.
//
// publishTerminate() may be called from any thread. The terminate handler
// runs on the subscriber thread started by start(): keep it short (it should
// hand the work to the session and return). The subscriber has its own
// connection and reconnects (backoff up to 2 s) after errors.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/event.h"
#include "core/status.h"

namespace vigil::storage {

namespace redis {
class Pool;
struct Url;
}  // namespace redis

// Authenticates control messages. Every node and `vigil terminate` must use
// the same one: gateway::auth::controlBusKey() derives it from gateway.key.
using BusKey = std::array<std::uint8_t, 32>;

// A message whose timestamp is further than this from the receiver's clock
// is dropped (nodes' clocks must agree within it: run NTP).
inline constexpr EpochMillis kMaxMessageAgeMs = 60'000;

class ControlBus {
 public:
  using TerminateHandler = std::function<void(std::string session_id, std::string by)>;

  // Same URL forms as RedisStore::connect; connects once to check the URL.
  // `now` is the wall clock (epoch ms) for timestamps; tests pass a fake one.
  static Result<std::unique_ptr<ControlBus>> connect(const std::string& url, const BusKey& key,
                                                     std::function<EpochMillis()> now = {});
  ~ControlBus();  // stop()

  // Asks whichever node holds the session to end it. Error when Redis fails
  // or when no node is subscribed (no gateway is running).
  Status publishTerminate(const std::string& session_id, const std::string& by);

  // Set before start(); replaces any earlier handler.
  void onTerminate(TerminateHandler handler);
  void start();  // idempotent
  void stop();   // joins the subscriber thread; idempotent
  // True while the subscriber is subscribed (messages published now arrive).
  bool subscribed() const { return subscribed_.load(); }
  // Messages dropped so far (no valid MAC, stale, replayed, malformed).
  std::uint64_t dropped() const { return dropped_.load(); }

  // Marks `node` alive for ttl_s seconds; call every ttl_s/3 or so.
  Status heartbeat(const std::string& node, int ttl_s);
  // Whether `node`'s heartbeat key still exists. A live session whose node is
  // not alive was interrupted (its gateway died).
  Result<bool> nodeAlive(const std::string& node);

 private:
  ControlBus(std::unique_ptr<redis::Url> url, const BusKey& key, std::function<EpochMillis()> now);
  void run();
  bool subscribeOnce();  // one connection's lifetime; false when stopping
  void onMessage(std::string_view payload);  // subscriber thread
  void drop(std::string_view why);
  EpochMillis now() const;

  std::unique_ptr<redis::Url> url_;
  BusKey key_;
  std::function<EpochMillis()> now_;
  // Nonces of accepted messages until they are too old to pass the age
  // check anyway. Subscriber thread only.
  std::unordered_map<std::string, EpochMillis> seen_;
  std::atomic<std::uint64_t> dropped_{0};
  std::unique_ptr<redis::Pool> pool_;
  std::mutex handler_mu_;
  TerminateHandler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
};

}  // namespace vigil::storage
