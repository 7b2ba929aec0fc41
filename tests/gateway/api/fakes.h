// Fakes behind the interfaces the API uses: a MetadataStore in memory, a
// Session whose screen the test draws, and a SessionManager holding them.
// Shared by the API unit tests and the browser-test fixture server.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/clock.h"
#include "gateway/session_manager.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::api::testing {

// Stands in for auth::verifyPassword: config hashes are "plain:<password>".
inline bool fakeVerify(const std::string& hash, const std::string& password) {
  return hash == "plain:" + password;
}

class FakeStore final : public storage::MetadataStore {
 public:
  Status ping() override { return Status::Ok(); }
  Status putSession(const storage::SessionRecord& s) override {
    std::lock_guard l(mu_);
    sessions_[s.id] = s;
    return Status::Ok();
  }
  Result<std::optional<storage::SessionRecord>> getSession(const std::string& id) override {
    std::lock_guard l(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return std::optional<storage::SessionRecord>();
    return std::optional<storage::SessionRecord>(it->second);
  }
  Result<std::vector<storage::SessionRecord>> listSessions(const storage::SessionFilter& f) override {
    std::lock_guard l(mu_);
    std::vector<storage::SessionRecord> out;
    for (const auto& [id, s] : sessions_)
      if (matches(s, f) && (!f.state || s.state == *f.state)) out.push_back(s);
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.started_at > b.started_at; });
    if (out.size() > f.limit) out.resize(f.limit);
    return out;
  }
  Status appendEvents(const std::string& id, const std::vector<Event>& events) override {
    std::lock_guard l(mu_);
    auto& v = events_[id];
    v.insert(v.end(), events.begin(), events.end());
    return Status::Ok();
  }
  Result<std::vector<Event>> events(const std::string& id, const std::vector<EventKind>& kinds) override {
    std::lock_guard l(mu_);
    std::vector<Event> out;
    for (const Event& e : events_[id])
      if (kinds.empty() || std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end()) out.push_back(e);
    std::stable_sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.t_ms < b.t_ms; });
    return out;
  }
  // Words only (no phrases): every word a case-insensitive prefix of a word.
  Result<std::vector<storage::SearchHit>> search(const std::string& query,
                                                 const storage::SessionFilter& f) override {
    std::vector<std::string> words = split(lower(query));
    std::lock_guard l(mu_);
    std::vector<const storage::SessionRecord*> order;
    for (const auto& [id, s] : sessions_)
      if (matches(s, f)) order.push_back(&s);
    std::sort(order.begin(), order.end(), [](auto a, auto b) { return a->started_at > b->started_at; });
    std::vector<storage::SearchHit> hits;
    for (const auto* s : order) {
      for (const Event& e : events_[s->id]) {
        if (e.kind == EventKind::Lifecycle) continue;
        std::vector<std::string> have = split(lower(e.text));
        bool all = !words.empty();
        for (const auto& w : words)
          all = all && std::any_of(have.begin(), have.end(), [&](auto& h) { return h.rfind(w, 0) == 0; });
        if (all) hits.push_back({s->id, e, s->user, s->target, s->started_at});
        if (hits.size() >= f.limit) return hits;
      }
    }
    return hits;
  }
  Status putCode(const storage::CodeRecord&) override { return Status::Ok(); }
  Result<std::optional<storage::CodeRecord>> takeCode(const std::string&) override {
    return std::optional<storage::CodeRecord>();
  }
  Result<std::vector<storage::CodeRecord>> codesForTarget(const std::string&) override {
    return std::vector<storage::CodeRecord>();
  }
  Status appendAudit(const storage::AuditEntry& a) override {
    std::lock_guard l(mu_);
    if (fail_audit_) return Status::Error("audit store down (test)");
    audit_.push_back(a);
    return Status::Ok();
  }
  Result<std::vector<storage::AuditEntry>> audit(std::size_t limit) override {
    std::lock_guard l(mu_);
    std::vector<storage::AuditEntry> out(audit_.rbegin(), audit_.rend());
    if (out.size() > limit) out.resize(limit);
    return out;
  }
  Status putAlert(const storage::AlertRecord& a) override {
    std::lock_guard l(mu_);
    alerts_.push_back(a);
    return Status::Ok();
  }
  Result<std::vector<storage::AlertRecord>> alerts(EpochMillis since, std::size_t limit) override {
    std::lock_guard l(mu_);
    std::vector<storage::AlertRecord> out;
    for (auto it = alerts_.rbegin(); it != alerts_.rend() && out.size() < limit; ++it)
      if (it->at >= since) out.push_back(*it);
    return out;
  }
  std::vector<storage::AuditEntry> auditEntries() {
    std::lock_guard l(mu_);
    return audit_;
  }
  void failAudit(bool fail) {
    std::lock_guard l(mu_);
    fail_audit_ = fail;
  }

 private:
  bool fail_audit_ = false;
  static bool matches(const storage::SessionRecord& s, const storage::SessionFilter& f) {
    return (!f.user || s.user == *f.user) && (!f.target || s.target == *f.target) &&
           (!f.from || s.started_at >= *f.from) && (!f.to || s.started_at <= *f.to);
  }
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : s) {
      if (std::isalnum(static_cast<unsigned char>(c)) || (c & 0x80)) {
        cur.push_back(c);
      } else if (!cur.empty()) {
        out.push_back(cur);
        cur.clear();
      }
    }
    if (!cur.empty()) out.push_back(cur);
    return out;
  }
  std::mutex mu_;
  std::map<std::string, storage::SessionRecord> sessions_;
  std::map<std::string, std::vector<Event>> events_;
  std::vector<storage::AuditEntry> audit_;
  std::vector<storage::AlertRecord> alerts_;  // in the order put
};

// A live session whose screen the test draws with draw(). Subscribing
// delivers the current screen at once, as the real Session does.
class FakeSession final : public Session {
 public:
  FakeSession(std::string id, AccessGrant grant) : id_(std::move(id)), grant_(std::move(grant)) {}
  const std::string& id() const override { return id_; }
  const AccessGrant& grant() const override { return grant_; }
  Millis now() const override { return clock_.now(); }
  void frame(const Frame& fb, const DirtyRegion& changed) override {
    std::lock_guard l(mu_);
    for (auto* s : frame_sinks_) s->onFrame(fb, changed, clock_.now());
  }
  void resized(int, int) override {}
  bool input(const InputEvent&) override { return true; }
  void lifecycle(const std::string& text) override { emit({clock_.now(), EventKind::Lifecycle, text, {}}); }
  void attach(Relay*) override {}
  void finish(const std::string&) override {}
  void terminate(const std::string& reason) override {
    {
      std::lock_guard l(mu_);
      if (terminated_) return;
      terminated_ = true;
      terminate_reason_ = reason;
      terminated_at_ = epochNowMs();
    }
    emit({clock_.now(), EventKind::Lifecycle, reason, {}});
    if (on_terminate) on_terminate(reason);
  }
  bool terminated() const override { return terminated_; }
  void subscribe(FrameSink* frames, EventSink* events) override {
    std::lock_guard l(mu_);
    if (frames) {
      frame_sinks_.insert(frames);
      if (!screen_.empty()) frames->onFrame(screen_, DirtyRegion(screen_.bounds()), clock_.now());
    }
    if (events) event_sinks_.insert(events);
  }
  void unsubscribe(FrameSink* frames, EventSink* events) override {
    std::lock_guard l(mu_);
    frame_sinks_.erase(frames);
    event_sinks_.erase(events);
  }

  // Test side: changes `r` of the screen to `rgb` and tells the subscribers.
  void draw(int width, int height, Rect r, std::uint32_t rgb) {
    std::lock_guard l(mu_);
    if (screen_.width() != width || screen_.height() != height) {
      screen_.resize(width, height);
      r = screen_.bounds();
    }
    screen_.fill(r, rgb);
    for (auto* s : frame_sinks_) s->onFrame(screen_, DirtyRegion(r), clock_.now());
  }
  void emit(const Event& e) {
    std::lock_guard l(mu_);
    for (auto* s : event_sinks_) s->onEvent(e);
  }
  std::size_t subscribers() {
    std::lock_guard l(mu_);
    return frame_sinks_.size() + event_sinks_.size();
  }
  std::string terminateReason() {
    std::lock_guard l(mu_);
    return terminate_reason_;
  }
  EpochMillis terminatedAt() {
    std::lock_guard l(mu_);
    return terminated_at_;
  }

  std::function<void(const std::string&)> on_terminate;  // set before use

 private:
  std::string id_;
  AccessGrant grant_;
  SteadyClock clock_;
  std::mutex mu_;
  Frame screen_;
  std::set<FrameSink*> frame_sinks_;
  std::set<EventSink*> event_sinks_;
  std::atomic<bool> terminated_{false};
  std::string terminate_reason_;
  EpochMillis terminated_at_ = 0;
};

// Holds live FakeSessions; terminate() ends one: the store record becomes
// "ended" with the reason and the session leaves the live list.
class FakeSessionManager final : public SessionManager {
 public:
  explicit FakeSessionManager(storage::MetadataStore& store) : store_(store) {}
  Result<std::shared_ptr<Session>> open(const AccessGrant&, Protocol, const std::string&) override {
    return Status::Error("fake: open not supported");
  }
  std::shared_ptr<Session> find(const std::string& id) const override {
    std::lock_guard l(mu_);
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second;
  }
  std::vector<std::shared_ptr<Session>> live() const override {
    std::lock_guard l(mu_);
    std::vector<std::shared_ptr<Session>> out;
    for (auto& [id, s] : live_) out.push_back(s);
    return out;
  }
  Status terminate(const std::string& id, const std::string& by) override {
    std::shared_ptr<FakeSession> s;
    {
      std::lock_guard l(mu_);
      auto it = live_.find(id);
      if (it == live_.end()) return Status::Error("no live session " + id);
      s = it->second;
      terminate_calls_.push_back({id, by});
    }
    // Like GatewaySessions: the reason names who.
    s->terminate("terminated by " + by);
    end(id, "terminated by " + by);
    return Status::Ok();
  }
  void add(std::shared_ptr<FakeSession> s) {
    std::lock_guard l(mu_);
    live_[s->id()] = std::move(s);
  }
  // The session is over: the record says why, and it is no longer live.
  void end(const std::string& id, const std::string& reason) {
    auto rec = store_.getSession(id);
    if (rec.ok() && rec.value()) {
      auto r = *rec.value();
      r.state = "ended";
      r.ended_at = epochNowMs();
      r.end_reason = reason;
      (void)store_.putSession(r);
    }
    std::lock_guard l(mu_);
    live_.erase(id);
  }
  std::vector<std::pair<std::string, std::string>> terminateCalls() {
    std::lock_guard l(mu_);
    return terminate_calls_;
  }

 private:
  storage::MetadataStore& store_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<FakeSession>> live_;
  std::vector<std::pair<std::string, std::string>> terminate_calls_;
};

}  // namespace vigil::gateway::api::testing
