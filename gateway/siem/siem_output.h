// [siem]: every session event of the configured kinds, as RFC 5424 syslog
// (CEF or JSON) and/or webhook POSTs (JSON), each through its own Forwarder
// and spool under state_dir/siem/. An observer: it formats, queues and
// returns. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "gateway/session_observer.h"
#include "gateway/siem/forwarder.h"
#include "gateway/siem/formatter.h"

namespace vigil::siem {

class SiemOutput final : public gateway::SessionEventObserver {
 public:
  // Starts the outputs `config.siem` names (it must be set). Fails if a
  // spool or the CA file cannot be opened (fail closed: the operator asked
  // for SIEM output). `version` goes into CEF and JSON.
  // `on_overflow` (optional) also gets each overflow alert, and each alert
  // for messages a receiver refused for good, on the sender's thread, e.g.
  // to list it with the other alerts (`vigil serve` stores it).
  using OverflowListener = std::function<void(const SiemEvent& alert)>;
  static Result<std::unique_ptr<SiemOutput>> start(const Config& config, const std::string& version,
                                                   OverflowListener on_overflow = {});
  ~SiemOutput() override;

  void onSessionEvent(const gateway::SessionInfo& session, const Event& e) override;
  // Sends what is queued (up to `send_for`), keeps the rest in the spools.
  void stop(std::chrono::milliseconds send_for = std::chrono::milliseconds(2000));

  // The event as the SIEM sees it (alerts resolved to their rule).
  SiemEvent toSiemEvent(const gateway::SessionInfo& session, const Event& e) const;
  Forwarder* syslog() const { return syslog_.get(); }
  Forwarder* webhook() const { return webhook_.get(); }

 private:
  SiemOutput(const Config& config, const std::string& version);
  SiemEvent ownAlert(const std::string& rule, const std::string& detail) const;
  SiemEvent overflowEvent(const std::string& output, std::uint64_t lost) const;
  // Stores an alert (through the overflow listener) for messages a receiver refused for good.
  void refusedAlert(const std::string& output, std::uint64_t refused, const std::string& why) const;

  SiemConfig cfg_;
  std::vector<RuleConfig> rules_;
  OverflowListener on_overflow_;
  std::unique_ptr<Formatter> syslog_format_, webhook_format_;
  SyslogHeader header_;
  std::unique_ptr<Forwarder> syslog_, webhook_;
};

}  // namespace vigil::siem
