// Small fakes of the session interfaces for the RDP adapter's tests.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "gateway/gatekeeper.h"
#include "gateway/session.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::rdp::testing {

class FakeSession final : public Session {
 public:
  explicit FakeSession(AccessGrant g) : grant_(std::move(g)) {}

  const std::string& id() const override { return id_; }
  const AccessGrant& grant() const override { return grant_; }
  Millis now() const override { return clock_.now(); }

  void frame(const Frame& fb, const DirtyRegion& changed) override {
    std::lock_guard lock(mu_);
    if (last_.width() != fb.width() || last_.height() != fb.height()) {
      last_.resize(fb.width(), fb.height());
      last_.copyRect(fb, fb.bounds());
    } else {
      for (const Rect& r : changed.rects()) last_.copyRect(fb, r.intersect(fb.bounds()));
    }
    ++frames_;
  }
  void resized(int w, int h) override {
    std::lock_guard lock(mu_);
    resizes_.push_back({w, h});
  }
  bool input(const InputEvent& e) override {
    std::lock_guard lock(mu_);
    inputs_.push_back(e);
    return true;
  }
  void lifecycle(const std::string& text) override {
    std::lock_guard lock(mu_);
    lifecycle_.push_back(text);
  }
  void attach(Relay* relay) override {
    std::lock_guard lock(mu_);
    relay_ = relay;
  }
  void finish(const std::string& reason) override {
    {
      std::lock_guard lock(mu_);
      finish_reasons_.push_back(reason);
      finished_at_ = std::chrono::steady_clock::now();
    }
    cv_.notify_all();
  }
  void terminate(const std::string& reason) override {
    std::lock_guard lock(mu_);
    terminated_ = true;
    if (relay_) relay_->close(reason);
  }
  bool terminated() const override { return terminated_; }
  void subscribe(FrameSink*, EventSink*) override {}
  void unsubscribe(FrameSink*, EventSink*) override {}

  // --- test accessors ---
  bool attached() const { std::lock_guard lock(mu_); return relay_ != nullptr; }
  int frames() const { std::lock_guard lock(mu_); return frames_; }
  Frame lastFrame() const { std::lock_guard lock(mu_); return last_; }
  std::vector<InputEvent> inputs() const { std::lock_guard lock(mu_); return inputs_; }
  std::vector<std::string> lifecycleEvents() const { std::lock_guard lock(mu_); return lifecycle_; }
  std::vector<std::string> finishReasons() const { std::lock_guard lock(mu_); return finish_reasons_; }
  std::chrono::steady_clock::time_point finishedAt() const {
    std::lock_guard lock(mu_);
    return finished_at_;
  }

 private:
  std::string id_ = "rdp-test-session";
  AccessGrant grant_;
  SteadyClock clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Frame last_;
  int frames_ = 0;
  std::vector<std::pair<int, int>> resizes_;
  std::vector<InputEvent> inputs_;
  std::vector<std::string> lifecycle_;
  std::vector<std::string> finish_reasons_;
  std::chrono::steady_clock::time_point finished_at_{};
  Relay* relay_ = nullptr;
  std::atomic<bool> terminated_{false};
};

class FakeSessionManager final : public SessionManager {
 public:
  Result<std::shared_ptr<Session>> open(const AccessGrant& grant, Protocol,
                                        const std::string&) override {
    std::lock_guard lock(mu_);
    ++opens_;
    if (fail_) return Status::Error("recording disk full (fake)");
    auto s = std::make_shared<FakeSession>(grant);
    sessions_.push_back(s);
    return std::shared_ptr<Session>(s);
  }
  std::shared_ptr<Session> find(const std::string&) const override { return nullptr; }
  std::vector<std::shared_ptr<Session>> live() const override { return {}; }
  Status terminate(const std::string&, const std::string&) override { return Status::Ok(); }

  int opens() const { std::lock_guard lock(mu_); return opens_; }
  void setFail(bool f) { std::lock_guard lock(mu_); fail_ = f; }
  std::shared_ptr<FakeSession> last() const {
    std::lock_guard lock(mu_);
    return sessions_.empty() ? nullptr : sessions_.back();
  }

 private:
  mutable std::mutex mu_;
  int opens_ = 0;
  bool fail_ = false;
  std::vector<std::shared_ptr<FakeSession>> sessions_;
};

// Admits `user` with `password` to the targets it knows.
class FakeGatekeeper final : public Gatekeeper {
 public:
  FakeGatekeeper(std::string user, std::string password) : user_(user), password_(password) {}
  void addTarget(const TargetConfig* t) { targets_[t->name] = t; }

  Result<AccessGrant> admit(const std::string& user, const std::string& target,
                            const std::string& secret, const std::string&) override {
    std::lock_guard lock(mu_);
    calls_.push_back(user + "#" + target);
    auto it = targets_.find(target);
    if (user != user_ || secret != password_) return Status::Error("wrong password");
    if (it == targets_.end()) return Status::Error("no such target");
    return AccessGrant{user, it->second, "password", std::nullopt};
  }
  Result<AccessGrant> admitVnc(const TargetConfig&, const std::array<std::uint8_t, 16>&,
                               const std::array<std::uint8_t, 16>&, const std::string&) override {
    return Status::Error("not vnc");
  }
  std::vector<std::string> calls() const { std::lock_guard lock(mu_); return calls_; }

 private:
  std::string user_, password_;
  std::map<std::string, const TargetConfig*> targets_;
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
};

}  // namespace vigil::gateway::rdp::testing
