// Delivers messages to one Transport in order, without ever making the
// caller wait: submit() puts a message on a bounded in-memory queue; one
// sender thread sends it, or keeps it in the on-disk Spool while the
// receiver is away and sends the spool first when it is back (reconnecting
// with backoff). Messages that fit nowhere are counted, logged, and reported
// in the stream itself by an overflow notice. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "gateway/siem/spool.h"
#include "gateway/siem/transport.h"

namespace vigil::siem {

struct ForwarderOptions {
  std::string name = "siem";   // in logs: "syslog", "webhook"
  std::string spool_dir;       // under the state dir
  std::uint64_t spool_max = 64ull << 20;
  std::size_t queue_max = 10'000;  // messages waiting in memory for the sender
  std::size_t batch_max = 256;     // messages per write
  std::chrono::milliseconds backoff_min{250}, backoff_max{2'000};
  // The message that reports `lost` messages dropped since the last notice
  // (the spool and the queue were full). Called on the sender thread.
  std::function<std::string(std::uint64_t lost)> overflow_notice;
  // Reports `refused` messages the receiver refused for good (`why`: its
  // last answer), at most every `refused_every`. Called on the sender
  // thread; not sent to the receiver, which refuses things already.
  std::function<void(std::uint64_t refused, const std::string& why)> on_refused;
  std::chrono::milliseconds refused_every{10'000};
};

struct ForwarderStats {
  std::uint64_t submitted = 0, sent = 0, spooled = 0, lost = 0, notices = 0, refused = 0;
  std::uint64_t spool_count = 0, spool_bytes = 0;
  bool connected = false;
};

class Forwarder {
 public:
  // Opens the spool (keeping what an earlier run left) and starts the sender.
  static Result<std::unique_ptr<Forwarder>> start(std::unique_ptr<Transport> transport,
                                                  ForwarderOptions options);
  ~Forwarder();  // stop()

  // Never blocks on the network or disk. False if the queue was full: the
  // message is counted as lost and reported by the next overflow notice.
  bool submit(std::string message);
  // Sends or spools what is queued (waiting at most `send_for` for a receiver
  // to take the spool), then ends the sender. What is left stays in the spool.
  void stop(std::chrono::milliseconds send_for = std::chrono::milliseconds(2000));
  ForwarderStats stats() const;
  // Waits until nothing is queued or spooled (tests, benchmarks).
  bool waitIdle(std::chrono::milliseconds timeout) const;

 private:
  Forwarder(std::unique_ptr<Transport> t, ForwarderOptions o, std::unique_ptr<Spool> s);
  void run();
  // Sender thread only:
  void keep(std::string&& m);            // into the spool, or counted as lost
  void noteLost(std::uint64_t n);
  void flushNotice(bool force);          // the overflow notice, once there is room
  bool connect(std::chrono::steady_clock::time_point now);
  void drainSpool(std::chrono::steady_clock::time_point deadline);
  void disconnected(const std::string& why);
  void growBackoff();
  void delivered(std::size_t n);
  void reportRefused(bool force);  // counts the transport's refusals, reports them when due

  std::unique_ptr<Transport> transport_;
  ForwarderOptions opt_;
  std::unique_ptr<Spool> spool_;  // sender thread only

  mutable std::mutex mu_;  // guards queue_, stopping_, dropped_in_queue_, the stats and idle_
  mutable std::condition_variable wake_, idle_cv_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  std::uint64_t dropped_in_queue_ = 0;
  ForwarderStats stats_;
  bool idle_ = true;
  std::chrono::milliseconds send_for_{2000};

  // Sender thread only:
  bool connected_ = false;
  std::uint64_t lost_pending_ = 0;  // not yet reported by a notice
  std::uint64_t refused_pending_ = 0;  // not yet reported to on_refused
  std::string last_refusal_;
  std::chrono::steady_clock::time_point last_refused_report_{};
  std::chrono::milliseconds backoff_{0};
  std::chrono::steady_clock::time_point next_try_{};
  std::string last_error_;
  std::thread thread_;
};

}  // namespace vigil::siem
