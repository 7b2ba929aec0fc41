// Batches one session's events into MetadataStore::appendEvents on a worker
// thread, so the relay never waits on Redis.
//
// onEvent() never blocks on the store and never drops: events queue in memory
// and a worker stores them at least every 200 ms (sooner once 256 are queued).
// When the store fails, the worker keeps everything queued and retries with
// backoff (100 ms doubling to 2 s); once more than `unhealthy_backlog` events
// are stuck, or events have waited `unhealthy_after` without being stored,
// healthy() turns false so the gateway can end the session (fail closed).
// Each event is stored exactly once: batches go through
// MetadataStore::appendEventsAt with the events' sequence numbers, so a
// retry of a write that timed out here but was applied by the server skips
// what is already stored. The writer must be its session's only appender.
// All methods are thread-safe. The store must outlive the writer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/event.h"
#include "core/status.h"
#include "storage/metadata_store.h"

namespace vigil::storage {

struct BatchedEventWriterOptions {
  std::chrono::milliseconds flush_interval{200};
  std::size_t batch_trigger = 256;     // queue this long wakes the worker early
  std::size_t max_batch = 2048;        // events per appendEvents call
  std::size_t unhealthy_backlog = 100000;
  // Unhealthy once a batch has been failing (or one call hanging) this long.
  std::chrono::milliseconds unhealthy_after{30000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // Called on the worker thread with each batch once it is stored, in
  // sequence order, each event exactly once, before flush() sees it stored
  // (the session's hash chain, SessionEvidence::onEventsStored).
  std::function<void(const std::vector<Event>&)> on_stored;
};

class BatchedEventWriter final : public EventSink {
 public:
  BatchedEventWriter(MetadataStore& store, std::string session_id,
                     BatchedEventWriterOptions options = {});
  // close() with the default timeout.
  ~BatchedEventWriter() override;

  // Queues a copy; returns at once. Ignored (logged) after close().
  void onEvent(const Event& e) override;

  // Blocks until every event queued before the call is stored, or `timeout`
  // passes (error saying how many are still waiting and the last store error).
  Status flush(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // flush(timeout), then stops the worker. Events still unstored after the
  // timeout are abandoned (the error says how many). Idempotent.
  Status close(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // False while more than `unhealthy_backlog` events wait on a failing store,
  // or while the oldest unstored batch has been tried for `unhealthy_after`.
  bool healthy() const;
  std::size_t pending() const;      // queued, not yet stored
  std::uint64_t stored() const;     // stored so far

 private:
  void run();
  std::string waitingError() const;  // needs mu_

  MetadataStore& store_;
  const std::string session_id_;
  const BatchedEventWriterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;     // worker: work, flush request, close
  std::condition_variable progress_; // flushers: something was stored
  std::deque<Event> queue_;
  std::uint64_t enqueued_ = 0;       // total ever queued
  std::uint64_t stored_ = 0;         // total stored (a prefix of the queue order)
  std::uint64_t flush_target_ = 0;   // flushers want stored_ >= this
  bool stopping_ = false;
  bool closed_ = false;
  bool failing_ = false;
  // Start of the first attempt at the batch not stored yet; unset when none.
  std::optional<std::chrono::steady_clock::time_point> trying_since_;
  bool reported_overdue_ = false;
  std::string last_error_;
  std::thread worker_;
};

}  // namespace vigil::storage
