#include "ocr/ocr_pool.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

#include "core/thread_name.h"

namespace vigil::ocr {

OcrPool::OcrPool(int threads, ReaderOptions options) : options_(std::move(options)) {
  if (threads <= 0) threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  for (int i = 0; i < threads; ++i) workers_.emplace_back([this, i] { run(i); });
}

OcrPool::~OcrPool() { close(); }

Status OcrPool::waitReady() const {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return started_ >= static_cast<int>(workers_.size()) || closed_; });
  if (errors_.empty()) return Status::Ok();
  return Status::Error(errors_.front());
}

bool OcrPool::submit(Job job, Clock::time_point due) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || queue_.size() >= kMaxQueued) return false;
    queue_.emplace(due, std::move(job));
  }
  cv_.notify_all();
  return true;
}

void OcrPool::close() {
  {
    std::lock_guard lock(mu_);
    if (closed_ && workers_.empty()) return;
    closed_ = true;
    queue_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : workers_)
    if (t.joinable()) t.join();
}

void OcrPool::run(int index) {
  nameThisThread("ocr-" + std::to_string(index));
  lowerThisThreadPriority();  // titles can wait; the relay cannot
  auto created = TitleReader::create(options_);
  std::unique_ptr<TitleReader> reader;
  {
    std::lock_guard lock(mu_);
    if (created.ok()) {
      reader = std::move(*created);
      spdlog::debug("ocr pool worker={} lang={} ready", index, reader->language());
    } else {
      errors_.push_back(created.message());
      spdlog::warn("ocr pool worker={} error={}", index, created.message());
    }
    ++started_;
  }
  cv_.notify_all();

  std::unique_lock lock(mu_);
  for (;;) {
    if (closed_) return;
    if (queue_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const auto due = queue_.begin()->first;
    if (due > Clock::now()) {
      cv_.wait_until(lock, due);
      continue;
    }
    Job job = std::move(queue_.begin()->second);
    queue_.erase(queue_.begin());
    lock.unlock();
    job(reader.get());
    lock.lock();
  }
}

}  // namespace vigil::ocr
