// Small fakes of the session interfaces for the VNC adapter's tests.
#pragma once

#include <rfb/rfb.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "gateway/gatekeeper.h"
#include "gateway/session.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::vnc::testing {

// Records what the adapter feeds it; keeps its own copy of the screen built
// from the damage it was given, as a recorder would.
class FakeSession final : public Session {
 public:
  FakeSession(std::string id, AccessGrant grant) : id_(std::move(id)), grant_(std::move(grant)) {}

  const std::string& id() const override { return id_; }
  const AccessGrant& grant() const override { return grant_; }
  Millis now() const override { return clock_.now(); }

  void frame(const Frame& fb, const DirtyRegion& changed) override {
    std::lock_guard lock(mu_);
    if (screen_.width() != fb.width() || screen_.height() != fb.height()) {
      screen_.resize(fb.width(), fb.height());
    }
    for (const Rect& r : changed.rects()) {
      bad_rect_ = bad_rect_ || r.intersect(fb.bounds()) != r;
      screen_.copyRect(fb, r.intersect(fb.bounds()));
    }
    ++frames_;
  }
  void resized(int w, int h) override {
    std::lock_guard lock(mu_);
    sizes_.emplace_back(w, h);
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
    ++attaches_;
  }
  void finish(const std::string& reason) override {
    std::lock_guard lock(mu_);
    finish_reasons_.push_back(reason);
    relay_ = nullptr;
  }
  void terminate(const std::string& reason) override {
    std::lock_guard lock(mu_);
    terminated_ = true;
    if (relay_) relay_->close(reason);
  }
  bool terminated() const override { return terminated_; }
  void subscribe(FrameSink*, EventSink*) override {}
  void unsubscribe(FrameSink*, EventSink*) override {}

  // Test accessors.
  int frames() const { std::lock_guard lock(mu_); return frames_; }
  Frame screen() const { std::lock_guard lock(mu_); return screen_; }
  bool sawBadRect() const { std::lock_guard lock(mu_); return bad_rect_; }
  std::vector<InputEvent> inputs() const { std::lock_guard lock(mu_); return inputs_; }
  std::vector<std::string> lifecycle() const { std::lock_guard lock(mu_); return lifecycle_; }
  std::vector<std::string> finishReasons() const { std::lock_guard lock(mu_); return finish_reasons_; }
  std::vector<std::pair<int, int>> sizes() const { std::lock_guard lock(mu_); return sizes_; }
  int attaches() const { std::lock_guard lock(mu_); return attaches_; }
  bool attached() const { std::lock_guard lock(mu_); return relay_ != nullptr; }

 private:
  const std::string id_;
  const AccessGrant grant_;
  SteadyClock clock_;
  mutable std::mutex mu_;
  Frame screen_;
  int frames_ = 0;
  bool bad_rect_ = false;
  std::vector<InputEvent> inputs_;
  std::vector<std::string> lifecycle_;
  std::vector<std::string> finish_reasons_;
  std::vector<std::pair<int, int>> sizes_;
  Relay* relay_ = nullptr;
  int attaches_ = 0;
  std::atomic<bool> terminated_{false};
};

// Admits exactly the access code `code` (VNC authentication: the client
// encrypted the challenge with it).
class FakeGatekeeper final : public Gatekeeper {
 public:
  explicit FakeGatekeeper(std::string code) : code_(std::move(code)) {}
  Result<AccessGrant> admit(const std::string&, const std::string&, const std::string&,
                            const std::string&) override {
    return Status::Error("not used");
  }
  Result<AccessGrant> admitVnc(const TargetConfig& target,
                               const std::array<std::uint8_t, 16>& challenge,
                               const std::array<std::uint8_t, 16>& response,
                               const std::string& client_addr) override {
    ++calls;
    last_addr = client_addr;
    std::array<std::uint8_t, 16> expect = challenge;
    std::string pw = code_;
    rfbEncryptBytes(expect.data(), pw.data());
    if (expect != response) {
      ++refusals;
      return Status::Error("wrong or expired access code");
    }
    return AccessGrant{"vendor1", &target, "access code", std::nullopt};
  }
  std::atomic<int> calls{0}, refusals{0};
  std::string last_addr;

 private:
  std::string code_;
};

class FakeSessionManager final : public SessionManager {
 public:
  Result<std::shared_ptr<Session>> open(const AccessGrant& grant, Protocol protocol,
                                        const std::string&) override {
    std::lock_guard lock(mu_);
    ++opens_;
    if (fail_) return Status::Error("recording directory is not writable");
    if (protocol != Protocol::Vnc) return Status::Error("wrong protocol");
    auto s = std::make_shared<FakeSession>("s" + std::to_string(opens_), grant);
    sessions_.push_back(s);
    return std::shared_ptr<Session>(s);
  }
  std::shared_ptr<Session> find(const std::string& id) const override {
    std::lock_guard lock(mu_);
    for (auto& s : sessions_) if (s->id() == id) return s;
    return nullptr;
  }
  std::vector<std::shared_ptr<Session>> live() const override { return {}; }
  Status terminate(const std::string& id, const std::string& by) override {
    auto s = find(id);
    if (!s) return Status::Error("no such session");
    s->terminate("terminated by " + by);
    return Status::Ok();
  }

  int opens() const { std::lock_guard lock(mu_); return opens_; }
  void setFail(bool f) { std::lock_guard lock(mu_); fail_ = f; }
  std::shared_ptr<FakeSession> session(std::size_t i) const {
    std::lock_guard lock(mu_);
    return i < sessions_.size() ? sessions_[i] : nullptr;
  }
  std::size_t count() const { std::lock_guard lock(mu_); return sessions_.size(); }

 private:
  mutable std::mutex mu_;
  int opens_ = 0;
  bool fail_ = false;
  std::vector<std::shared_ptr<FakeSession>> sessions_;
};

}  // namespace vigil::gateway::vnc::testing
