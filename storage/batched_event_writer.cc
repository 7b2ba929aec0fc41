#include "storage/batched_event_writer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "core/thread_name.h"

namespace vigil::storage {

BatchedEventWriter::BatchedEventWriter(MetadataStore& store, std::string session_id,
                                       BatchedEventWriterOptions options)
    : store_(store), session_id_(std::move(session_id)), options_(options) {
  worker_ = std::thread([this] { run(); });
}

BatchedEventWriter::~BatchedEventWriter() {
  if (Status st = close(); !st.ok()) spdlog::error("event writer session={} {}", session_id_, st.message());
}

void BatchedEventWriter::onEvent(const Event& e) {
  std::lock_guard lock(mu_);
  if (closed_) {
    spdlog::warn("event writer session={} event after close ignored kind={}", session_id_,
                 toString(e.kind));
    return;
  }
  queue_.push_back(e);
  ++enqueued_;
  if (queue_.size() == options_.batch_trigger) wake_.notify_one();
}

std::string BatchedEventWriter::waitingError() const {
  return std::to_string(enqueued_ - stored_) + " events of session " + session_id_ +
         " are not stored yet" +
         (last_error_.empty() ? std::string() : "; last store error: " + last_error_);
}

Status BatchedEventWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  if (stored_ >= target) return Status::Ok();
  if (!worker_.joinable() || stopping_) return Status::Error(waitingError() + " (writer stopped)");
  flush_target_ = std::max(flush_target_, target);
  wake_.notify_one();
  if (progress_.wait_for(lock, timeout, [&] { return stored_ >= target; })) return Status::Ok();
  return Status::Error(waitingError());
}

Status BatchedEventWriter::close(std::chrono::milliseconds timeout) {
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Ok();
    closed_ = true;
  }
  Status flushed = flush(timeout);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (!flushed.ok()) return Status::Error("closing: " + flushed.message() + " — abandoned");
  return Status::Ok();
}

bool BatchedEventWriter::healthy() const {
  std::lock_guard lock(mu_);
  if (failing_ && queue_.size() > options_.unhealthy_backlog) return false;
  return !(trying_since_ &&
           std::chrono::steady_clock::now() - *trying_since_ >= options_.unhealthy_after);
}

std::size_t BatchedEventWriter::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::uint64_t BatchedEventWriter::stored() const {
  std::lock_guard lock(mu_);
  return stored_;
}

void BatchedEventWriter::run() {
  nameThisThread("events");
  std::unique_lock lock(mu_);
  std::chrono::milliseconds backoff = options_.min_backoff;
  while (true) {
    wake_.wait_for(lock, options_.flush_interval, [&] {
      return stopping_ || queue_.size() >= options_.batch_trigger || flush_target_ > stored_;
    });
    // close() sets stopping_ only after its flush succeeded or timed out.
    if (stopping_ || queue_.empty()) {
      if (stopping_) break;
      continue;
    }
    const std::size_t n = std::min(queue_.size(), options_.max_batch);
    std::vector<Event> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    // stored_ is the sequence number of the queue's first event.
    const std::uint64_t first_seq = stored_;
    if (!trying_since_) trying_since_ = std::chrono::steady_clock::now();
    lock.unlock();
    Status st = store_.appendEventsAt(session_id_, first_seq, batch);
    if (st.ok() && options_.on_stored) options_.on_stored(batch);
    lock.lock();
    if (st.ok()) {
      trying_since_.reset();
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      stored_ += n;
      if (failing_)
        spdlog::info("event writer session={} store recovered pending={}", session_id_, queue_.size());
      failing_ = false;
      reported_overdue_ = false;
      last_error_.clear();
      backoff = options_.min_backoff;
      progress_.notify_all();
      continue;
    }
    const bool overdue = std::chrono::steady_clock::now() - *trying_since_ >= options_.unhealthy_after;
    if (overdue && !std::exchange(reported_overdue_, true))
      spdlog::error("event writer session={} events not stored for {} s, ending the session "
                    "(fail closed) pending={} error={}",
                  session_id_, options_.unhealthy_after.count() / 1000, queue_.size(), st.message());
    else if (!failing_ || last_error_ != st.message())
      spdlog::warn("event writer session={} store failed, retrying pending={} error={}", session_id_,
                   queue_.size(), st.message());
    failing_ = true;
    last_error_ = st.message();
    progress_.notify_all();
    wake_.wait_for(lock, backoff, [&] { return stopping_; });
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace vigil::storage
