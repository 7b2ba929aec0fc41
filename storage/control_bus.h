// Cross-node control over Redis pub/sub (channel "vigil:control") and node
// liveness keys ("vigil:node:<name>", with a TTL). See docs/redis-schema.md.
//
// publishTerminate() may be called from any thread. The terminate handler
// runs on the subscriber thread started by start(): keep it short (it should
// hand the work to the session and return). The subscriber has its own
// connection and reconnects (backoff up to 2 s) after errors.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"

namespace vigil::storage {

namespace redis {
class Pool;
struct Url;
}  // namespace redis

class ControlBus {
 public:
  using TerminateHandler = std::function<void(std::string session_id, std::string by)>;

  // Same URL forms as RedisStore::connect; connects once to check the URL.
  static Result<std::unique_ptr<ControlBus>> connect(const std::string& url);
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

  // Marks `node` alive for ttl_s seconds; call every ttl_s/3 or so.
  Status heartbeat(const std::string& node, int ttl_s);
  // Whether `node`'s heartbeat key still exists. A live session whose node is
  // not alive was interrupted (its gateway died).
  Result<bool> nodeAlive(const std::string& node);

 private:
  explicit ControlBus(std::unique_ptr<redis::Url> url);
  void run();
  bool subscribeOnce();  // one connection's lifetime; false when stopping

  std::unique_ptr<redis::Url> url_;
  std::unique_ptr<redis::Pool> pool_;
  std::mutex handler_mu_;
  TerminateHandler handler_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> subscribed_{false};
  std::thread thread_;
};

}  // namespace vigil::storage
