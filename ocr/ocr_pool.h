// A small pool of OCR workers shared by every session of a gateway. Each
// worker thread owns one TitleReader (one long-lived Tesseract instance);
// jobs may be scheduled for later, which is how sessions rate-limit
// themselves without timers of their own.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "core/status.h"
#include "ocr/title_reader.h"

namespace vigil::ocr {

class OcrPool {
 public:
  using Clock = std::chrono::steady_clock;
  // Runs on a worker thread. `reader` is that worker's reader, or nullptr if
  // it could not start (status() says why): jobs must cope.
  using Job = std::function<void(TitleReader* reader)>;

  static constexpr std::size_t kMaxQueued = 1024;

  // threads <= 0: one worker per two cores, at least one. Workers load
  // their traineddata in the background (~0.1-0.5 s).
  explicit OcrPool(int threads = 0, ReaderOptions options = {});
  ~OcrPool();  // close()
  OcrPool(const OcrPool&) = delete;
  OcrPool& operator=(const OcrPool&) = delete;

  // Waits until every worker has tried to start its reader; ok if all did.
  Status waitReady() const;
  int threads() const { return static_cast<int>(workers_.size()); }

  // Queues `job` to run at or after `due` (now if in the past). Never
  // blocks on OCR work; false when closed or kMaxQueued jobs are waiting.
  // Thread-safe.
  bool submit(Job job, Clock::time_point due = Clock::time_point{});

  // Stops the workers after their current job; queued jobs are dropped.
  // Thread-safe; idempotent. Not from a job.
  void close();

 private:
  void run(int index);

  ReaderOptions options_;
  mutable std::mutex mu_;  // guards everything below
  mutable std::condition_variable cv_;
  std::multimap<Clock::time_point, Job> queue_;
  bool closed_ = false;
  int started_ = 0;                  // workers that finished start-up
  std::vector<std::string> errors_;  // their start-up failures
  std::vector<std::thread> workers_;
};

}  // namespace vigil::ocr
