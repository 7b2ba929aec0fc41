// The gateway node's SessionManager: opens SessionImpls, keeps the live ones,
// ticks them, records refusals, and carries terminations across nodes over
// the ControlBus. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "core/config.h"
#include "gateway/auth/refusal_recorder.h"
#include "gateway/rules/rule_set.h"
#include "gateway/session_impl.h"
#include "gateway/session_manager.h"
#include "storage/evidence_store.h"
#include "storage/signing_key.h"

namespace vigil::storage { class ControlBus; }

namespace vigil::gateway {

class GatewaySessions final : public SessionManager, public auth::RefusalRecorder {
 public:
  // `bus` may be null (single node, tests).
  GatewaySessions(const Config& config, storage::MetadataStore& store, storage::ControlBus* bus,
                  ocr::OcrPool* ocr);
  ~GatewaySessions() override;

  Result<std::shared_ptr<Session>> open(const AccessGrant& grant, Protocol protocol,
                                        const std::string& client_addr) override;
  std::shared_ptr<Session> find(const std::string& id) const override;
  std::vector<std::shared_ptr<Session>> live() const override;
  Status terminate(const std::string& id, const std::string& by) override;

  // Through auth::StoreRefusalRecorder: apart from sessions, expiring after
  // [retention] refused_days, aggregated per address while it is throttled.
  using auth::RefusalRecorder::recordRefusal;
  void recordRefusal(const auth::Refusal& r) override;

  // Every session's events (after the rules) and every refusal also go to
  // `o` (the SIEM). Call before the listeners start; `o` must outlive this.
  void setObserver(SessionEventObserver* o) { observer_ = o; }

  // Sessions this node left live when it died (kill -9) are marked ended,
  // at the last thing they recorded.
  void recoverInterrupted();
  // Terminates every live session and waits (up to `timeout_ms`) for them to end.
  void shutdown(int timeout_ms);

 private:
  // When `rec` last recorded something: its last event or the recording
  // file's last write, whichever is later (never before it started).
  EpochMillis lastRecorded(const storage::SessionRecord& rec);
  void tickLoop();
  std::string newSessionId() const;

  const Config& config_;
  storage::MetadataStore& store_;
  storage::ControlBus* bus_;
  ocr::OcrPool* ocr_;
  // The deployment's signing key (state_dir/signing.key) and the store's
  // evidence side: every session's chain is signed with it. A key that
  // cannot be loaded refuses sessions (fail closed): key_error_ says why.
  std::optional<storage::SigningKey> signing_key_;
  std::string key_error_;
  storage::EvidenceStore* evidence_ = nullptr;
  rules::RuleSet rules_;  // [[rules]], compiled once for every session
  SessionEventObserver* observer_ = nullptr;

  mutable std::mutex mu_;  // guards live_
  std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<SessionImpl>> live_;
  int trim_in_ticks_ = 0;  // > 0: return freed memory to the OS that many ticks from now

  std::atomic<bool> stopping_{false};
  std::thread ticker_;
};

}  // namespace vigil::gateway
