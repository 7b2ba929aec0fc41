#include "gateway/gateway_sessions.h"

#include <malloc.h>
#include <sys/stat.h>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>

#include "core/clock.h"
#include "storage/control_bus.h"
#include "storage/key_ring.h"

namespace vigil::gateway {

namespace {
constexpr auto kTickPeriod = std::chrono::milliseconds(250);
constexpr int kRecordRefreshTicks = 8;  // live records refreshed every ~2 s
// A session's buffers (frames, encoder, codec contexts: ~100 MB at 1080p) are
// freed by its adapter shortly after it leaves live_; glibc keeps freed heap
// unless asked, so the ticker trims once they are gone.
constexpr int kTrimDelayTicks = 4;
}  // namespace

GatewaySessions::GatewaySessions(const Config& config, storage::MetadataStore& store,
                                 storage::ControlBus* bus, ocr::OcrPool* ocr)
    : config_(config), store_(store), bus_(bus), ocr_(ocr) {
  evidence_ = dynamic_cast<storage::EvidenceStore*>(&store_);
  if (auto key = storage::SigningKey::loadOrCreate(config_.state_dir); key.ok()) {
    signing_key_ = std::move(*key);
  } else {
    key_error_ = key.message();
    spdlog::error("event=signing_key_unavailable error=\"{}\"", key_error_);
  }
  if (!evidence_) spdlog::warn("event=evidence_off reason=\"the store keeps no checkpoints\"");
  // Config::parse checked every pattern, so this fails only for a Config
  // built by hand; it must not start without the rules it was given.
  auto compiled = rules::RuleSet::compile(config_.rules, config_.masking);
  if (!compiled.ok()) throw ConfigError(compiled.message());
  rules_ = std::move(compiled.value());
  if (!rules_.empty()) spdlog::info("event=rules_loaded count={}", rules_.size());
  if (!config_.masking.password_windows) spdlog::warn("event=password_window_masking_off");
  if (bus_) {
    bus_->onTerminate([this](const std::string& id, const std::string& by) {
      if (auto s = find(id)) s->terminate("terminated by " + by);
    });
  }
  ticker_ = std::thread([this] { tickLoop(); });
}

GatewaySessions::~GatewaySessions() {
  shutdown(5000);
  stopping_ = true;
  changed_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

std::string GatewaySessions::newSessionId() const {
  // Sortable by start time, unique across nodes: 20261122T143055-3fa9c2
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
  unsigned char rnd[3];
  randombytes_buf(rnd, sizeof rnd);
  char hex[7];
  sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
  return std::string(stamp) + "-" + hex;
}

Result<std::shared_ptr<Session>> GatewaySessions::open(const AccessGrant& grant, Protocol protocol,
                                                       const std::string& client_addr) {
  if (stopping_) return Status::Error("gateway is shutting down");
  if (!signing_key_) return Status::Error("cannot sign the session's evidence: " + key_error_);
  storage::SessionRecord rec;
  rec.id = newSessionId();
  rec.user = grant.user;
  rec.target = grant.target ? grant.target->name : "";
  rec.protocol = std::string(toString(protocol));
  rec.state = "live";
  rec.started_at = epochNowMs();
  rec.node = config_.node_id;
  rec.client_addr = client_addr;
  rec.video_path = rec.id + ".mp4";

  codecs::RecorderOptions recording;
  if (config_.recordings_qp) recording.qp = *config_.recordings_qp;
  if (config_.recordings_encrypt) {
    // Read per session, so a rotated key (vigil rotate-recording-key) is used
    // from the next session on without a restart. No key: no recording, so
    // no session (fail closed).
    auto keys = storage::KeyRing::loadOrCreate(config_.state_dir, config_.recordings_dir);
    if (!keys) {
      spdlog::error("event=session_refused user={} target={} addr={} reason=\"no recording key: {}\"",
                    rec.user, rec.target, client_addr, keys.message());
      return Status::Error("cannot record session: " + keys.message());
    }
    recording.seal_keys = std::make_shared<const storage::KeyRing>(std::move(keys.value()));
  }
  SessionDeps deps{store_, ocr_, config_.recordings_dir, recording,
                   [this](const std::string& id) {
                     std::lock_guard lock(mu_);
                     live_.erase(id);
                     trim_in_ticks_ = kTrimDelayTicks;
                     changed_.notify_all();
                   },
                   evidence_, &*signing_key_, std::chrono::milliseconds(10000), &rules_, observer_};
  auto session = SessionImpl::open(std::move(deps), rec, grant);
  if (!session) {
    spdlog::error("event=session_refused user={} target={} addr={} reason=\"{}\"", rec.user,
                  rec.target, client_addr, session.message());
    return session.status();
  }
  (*session)->lifecycle("connect from " + client_addr);
  (*session)->lifecycle(authenticatedText(grant));
  spdlog::info("session={} event=started user={} target={} protocol={} addr={}", rec.id, rec.user,
               rec.target, rec.protocol, client_addr);
  std::lock_guard lock(mu_);
  live_[rec.id] = *session;
  return std::shared_ptr<Session>(*session);
}

std::shared_ptr<Session> GatewaySessions::find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = live_.find(id);
  return it == live_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Session>> GatewaySessions::live() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, s] : live_) out.push_back(s);
  return out;
}

Status GatewaySessions::terminate(const std::string& id, const std::string& by) {
  if (auto s = find(id)) {
    s->terminate("terminated by " + by);
    return Status::Ok();
  }
  auto rec = store_.getSession(id);
  if (!rec) return rec.status();
  if (!rec->has_value()) return Status::Error("no session " + id);
  if ((*rec)->state != "live") return Status::Error("session " + id + " has already ended");
  if (!bus_) return Status::Error("session " + id + " is on node " + (*rec)->node + ", not reachable");
  return bus_->publishTerminate(id, by);
}

void GatewaySessions::recordRefusal(const auth::Refusal& r) {
  // Stateless: the store keeps the aggregates, so every node shares them.
  auth::StoreRefusalRecorder(store_, config_.node_id, auth::refusalRetention(config_)).recordRefusal(r);
  if (observer_) {
    // No session was opened: the refusal is a lifecycle event of none.
    const SessionInfo info{"", r.user, r.target, std::string(toString(r.protocol)), r.client_addr,
                           r.at ? r.at : epochNowMs()};
    observer_->onSessionEvent(info, {0, EventKind::Lifecycle, "refused: " + r.reason, {}});
  }
}

EpochMillis GatewaySessions::lastRecorded(const storage::SessionRecord& rec) {
  // The session ended with the dead node: its end is the last thing it
  // recorded (its last event, the recording's last write), not this restart.
  EpochMillis last = rec.started_at;
  struct stat st {};
  if (::stat((config_.recordings_dir + "/" + rec.video_path).c_str(), &st) == 0)
    last = std::max<EpochMillis>(last, static_cast<EpochMillis>(st.st_mtim.tv_sec) * 1000 +
                                           st.st_mtim.tv_nsec / 1'000'000);
  if (auto events = store_.events(rec.id, {}); events.ok() && !events->empty())
    last = std::max<EpochMillis>(last, rec.started_at + events->back().t_ms);
  return std::min(last, epochNowMs());
}

void GatewaySessions::recoverInterrupted() {
  storage::SessionFilter f;
  f.state = "live";
  f.limit = 10000;
  auto live = store_.listSessions(f);
  if (!live) {
    spdlog::warn("event=recovery_skipped error=\"{}\"", live.message());
    return;
  }
  for (storage::SessionRecord rec : *live) {
    if (rec.node != config_.node_id || find(rec.id)) continue;
    std::error_code ec;
    // video_bytes: the file's size on disk (sealed: with its record overhead).
    const auto size = std::filesystem::file_size(config_.recordings_dir + "/" + rec.video_path, ec);
    rec.video_bytes = ec ? 0 : static_cast<long long>(size);
    rec.state = "ended";
    rec.ended_at = lastRecorded(rec);
    rec.end_reason = "gateway stopped unexpectedly (recording kept up to the crash)";
    if (Status st = store_.putSession(rec); !st.ok())
      spdlog::warn("session={} event=recovery_failed error=\"{}\"", rec.id, st.message());
    else
      spdlog::info("session={} event=recovered_interrupted", rec.id);
  }
}

void GatewaySessions::shutdown(int timeout_ms) {
  stopping_ = true;
  for (auto& s : live()) s->terminate("gateway shutting down");
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return live_.empty(); });
}

void GatewaySessions::tickLoop() {
  int n = 0;
  std::unique_lock lock(mu_);
  while (!changed_.wait_for(lock, kTickPeriod, [&] { return stopping_ && live_.empty(); })) {
    std::vector<std::shared_ptr<SessionImpl>> sessions;
    for (const auto& [id, s] : live_) sessions.push_back(s);
    const bool trim = trim_in_ticks_ > 0 && --trim_in_ticks_ == 0;
    lock.unlock();
    const EpochMillis now = epochNowMs();
    const bool refresh = ++n % kRecordRefreshTicks == 0;
    for (auto& s : sessions) {
      s->tick(now);
      if (refresh) s->refreshRecord();
    }
    if (trim) malloc_trim(0);
    lock.lock();
  }
}

}  // namespace vigil::gateway
