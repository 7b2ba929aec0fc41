#include "gateway/siem/forwarder.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "core/thread_name.h"

namespace vigil::siem {

using Clock = std::chrono::steady_clock;

Result<std::unique_ptr<Forwarder>> Forwarder::start(std::unique_ptr<Transport> transport,
                                                    ForwarderOptions options) {
  auto spool = Spool::open(options.spool_dir, options.spool_max);
  if (!spool) return spool.status();
  if ((*spool)->count() > 0)
    spdlog::info("event=siem_spool_resumed output={} messages={} bytes={}", options.name, (*spool)->count(),
                 (*spool)->bytes());
  std::unique_ptr<Forwarder> f(new Forwarder(std::move(transport), std::move(options), std::move(spool.value())));
  f->thread_ = std::thread([p = f.get()] { p->run(); });
  return f;
}

Forwarder::Forwarder(std::unique_ptr<Transport> t, ForwarderOptions o, std::unique_ptr<Spool> s)
    : transport_(std::move(t)), opt_(std::move(o)), spool_(std::move(s)) {
  stats_.spool_count = spool_->count();
  stats_.spool_bytes = spool_->bytes();
  idle_ = spool_->empty();
}

Forwarder::~Forwarder() { stop(); }

bool Forwarder::submit(std::string message) {
  {
    std::lock_guard lock(mu_);
    ++stats_.submitted;
    if (stopping_ || queue_.size() >= opt_.queue_max) {
      ++dropped_in_queue_;
      return false;
    }
    queue_.push_back(std::move(message));
    idle_ = false;
  }
  wake_.notify_one();
  return true;
}

void Forwarder::stop(std::chrono::milliseconds send_for) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    send_for_ = send_for;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

ForwarderStats Forwarder::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool Forwarder::waitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return idle_ && queue_.empty(); });
}

void Forwarder::noteLost(std::uint64_t n) {
  if (n == 0) return;
  if (lost_pending_ == 0)
    spdlog::error("event=siem_overflow output={} reason=\"spool full ({} bytes) or queue full; messages "
                  "are being dropped and will be reported\"",
                  opt_.name, opt_.spool_max);
  lost_pending_ += n;
  std::lock_guard lock(mu_);
  stats_.lost += n;
}

void Forwarder::flushNotice(bool force) {
  if (lost_pending_ == 0 || !opt_.overflow_notice) return;
  // Made only once it has a place (it is an alert, reported once): sent
  // now, or in the spool where the gap is (notices are small: ~1 KiB).
  constexpr std::uint64_t kNoticeRoom = 2048;
  const bool direct = spool_->empty() && connected_;
  if (!direct && !force && spool_->bytes() + kNoticeRoom > opt_.spool_max) return;
  const std::uint64_t lost = lost_pending_;
  std::string notice = opt_.overflow_notice(lost);
  lost_pending_ = 0;
  spdlog::error("event=siem_overflow_reported output={} lost={}", opt_.name, lost);
  {
    std::lock_guard lock(mu_);
    ++stats_.notices;
  }
  if (direct) {
    const std::string one[] = {notice};
    if (transport_->send(one).ok()) {
      delivered(1);
      return;
    }
    disconnected("send failed");
  }
  auto r = spool_->append(notice, /*over_limit=*/true);
  if (!r) spdlog::error("event=siem_spool_failed output={} error=\"{}\"", opt_.name, r.message());
}

void Forwarder::keep(std::string&& m) {
  flushNotice(false);  // the notice goes where the gap is, before what follows it
  auto r = spool_->append(m);
  if (!r) {
    spdlog::error("event=siem_spool_failed output={} error=\"{}\"", opt_.name, r.message());
    noteLost(1);
  } else if (*r == Spool::Append::Full) {
    noteLost(1);
  } else {
    std::lock_guard lock(mu_);
    ++stats_.spooled;
  }
}

bool Forwarder::connect(Clock::time_point now) {
  if (connected_) return true;
  if (now < next_try_) return false;
  Status st = transport_->open();
  if (st.ok()) {
    connected_ = true;
    if (!last_error_.empty())
      spdlog::info("event=siem_connected output={} to={} spooled={}", opt_.name, transport_->describe(),
                   spool_->count());
    last_error_.clear();
    return true;
  }
  growBackoff();
  next_try_ = now + backoff_;
  if (st.message() != last_error_)
    spdlog::warn("event=siem_unreachable output={} error=\"{}\" retry_ms={} spooled={}", opt_.name, st.message(),
                 backoff_.count(), spool_->count());
  last_error_ = st.message();
  return false;
}

void Forwarder::growBackoff() {
  backoff_ = backoff_.count() == 0 ? opt_.backoff_min : std::min(backoff_ * 2, opt_.backoff_max);
}

void Forwarder::delivered(std::size_t n) {
  backoff_ = std::chrono::milliseconds(0);
  std::string why;
  const std::uint64_t refused = transport_->takeRefused(why);
  if (refused > 0) {
    if (refused_pending_ == 0)
      spdlog::error("event=siem_refused output={} to={} reason=\"{}\" action=\"dropped, not retried: the "
                    "receiver refuses the message itself\"",
                    opt_.name, transport_->describe(), why);
    refused_pending_ += refused;
    last_refusal_ = why;
  }
  std::lock_guard lock(mu_);
  stats_.sent += n - std::min<std::size_t>(n, refused);
  stats_.refused += refused;
}

void Forwarder::reportRefused(bool force) {
  if (refused_pending_ == 0) return;
  const auto now = Clock::now();
  if (!force && now - last_refused_report_ < opt_.refused_every) return;
  last_refused_report_ = now;
  spdlog::error("event=siem_refused_reported output={} refused={} reason=\"{}\"", opt_.name, refused_pending_,
                last_refusal_);
  if (opt_.on_refused) opt_.on_refused(refused_pending_, last_refusal_);
  refused_pending_ = 0;
}

void Forwarder::disconnected(const std::string& why) {
  transport_->close();
  connected_ = false;
  // The first retry is immediate (the receiver may just have restarted);
  // a receiver that keeps failing sends is retried less and less often.
  next_try_ = Clock::now() + backoff_;
  growBackoff();
  if (last_error_.empty()) last_error_ = why;
}

void Forwarder::drainSpool(Clock::time_point deadline) {
  while (!spool_->empty()) {
    const auto now = Clock::now();
    if (now >= deadline) return;
    if (connected_ && !transport_->healthy()) disconnected("receiver closed the connection");
    if (!connect(now)) return;
    auto recs = spool_->peek(opt_.batch_max);
    if (!recs) {
      spdlog::error("event=siem_spool_failed output={} error=\"{}\"", opt_.name, recs.message());
      return;
    }
    if (Status st = transport_->send(*recs); !st.ok()) {
      disconnected(st.message());
      continue;
    }
    if (Status st = spool_->pop(recs->size()); !st.ok())
      spdlog::error("event=siem_spool_failed output={} error=\"{}\"", opt_.name, st.message());
    delivered(recs->size());
  }
}

void Forwarder::run() {
  nameThisThread("siem-" + opt_.name);
  // A receiver gone mid-write is an error value, never a SIGPIPE (OpenSSL
  // writes with write(2), without MSG_NOSIGNAL): blocked for this thread.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  std::vector<std::string> batch;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      const auto has_work = [this] { return stopping_ || !queue_.empty(); };
      if (!has_work()) {
        // Refusals still to report are due at report_at, even if nothing else comes.
        const auto report_at = last_refused_report_ + opt_.refused_every;
        if (spool_->empty()) {
          if (refused_pending_ > 0) wake_.wait_until(lock, report_at, has_work);
          else wake_.wait(lock, has_work);
        } else if (!connected_) {
          wake_.wait_until(lock, refused_pending_ > 0 ? std::min(next_try_, report_at) : next_try_, has_work);
        }
      }
      batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
      queue_.clear();
      const std::uint64_t dropped = std::exchange(dropped_in_queue_, 0);
      stopping = stopping_;
      lock.unlock();
      noteLost(dropped);
    }

    // Stopping: what cannot be sent within send_for goes to the spool.
    const auto send_for = [this] {
      std::lock_guard lock(mu_);
      return send_for_;
    }();
    const auto deadline = stopping ? Clock::now() + send_for : Clock::time_point::max();
    // A slice, so the queue is looked at again (and kept bounded) while a
    // long backlog drains.
    const auto slice = [&] { return std::min(deadline, Clock::now() + std::chrono::milliseconds(200)); };

    // What is older goes first: the spool, then this batch (straight out
    // when nothing older waits, otherwise behind it).
    if (!spool_->empty()) drainSpool(slice());
    if (spool_->empty()) flushNotice(false);
    std::size_t done = 0;
    if (!batch.empty() && spool_->empty() && lost_pending_ == 0) {
      if (connected_ && !transport_->healthy()) disconnected("receiver closed the connection");
      if (connect(Clock::now())) {
        while (done < batch.size() && Clock::now() < deadline) {
          const std::size_t n = std::min(opt_.batch_max, batch.size() - done);
          if (Status st = transport_->send(std::span(batch).subspan(done, n)); !st.ok()) {
            disconnected(st.message());
            break;
          }
          done += n;
          delivered(n);
        }
      }
    }
    for (std::size_t i = done; i < batch.size(); ++i) keep(std::move(batch[i]));
    batch.clear();
    if (spool_->empty()) flushNotice(false);
    drainSpool(stopping ? deadline : slice());
    if (stopping) flushNotice(true);
    reportRefused(stopping);
    {
      std::lock_guard lock(mu_);
      stats_.spool_count = spool_->count();
      stats_.spool_bytes = spool_->bytes();
      stats_.connected = connected_;
      idle_ = queue_.empty() && spool_->empty() && lost_pending_ == 0;
      if (stopping && queue_.empty()) {
        if (Status st = spool_->sync(); !st.ok())
          spdlog::error("event=siem_spool_failed output={} error=\"{}\"", opt_.name, st.message());
        if (!spool_->empty())
          spdlog::warn("event=siem_spool_kept output={} messages={} (sent when the receiver is back, also "
                       "after a restart)",
                       opt_.name, spool_->count());
        idle_cv_.notify_all();
        return;
      }
    }
    idle_cv_.notify_all();
  }
}

}  // namespace vigil::siem
