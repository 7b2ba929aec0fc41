#include "gateway/siem/siem_output.h"

#include <unistd.h>

#include <algorithm>

#include "core/clock.h"
#include "gateway/siem/stream.h"
#include "gateway/siem/transport.h"

namespace vigil::siem {
namespace {

bool wants(const std::vector<EventKind>& kinds, EventKind k) {
  return std::find(kinds.begin(), kinds.end(), k) != kinds.end();
}

}  // namespace

SiemOutput::SiemOutput(const Config& config, const std::string& version)
    : cfg_(*config.siem),
      rules_(config.rules),
      syslog_format_(makeFormatter(config.siem->format, version)),
      webhook_format_(makeFormatter(SiemFormat::Json, version)),
      header_(config.siem->facility, config.node_id, static_cast<int>(getpid())) {}

Result<std::unique_ptr<SiemOutput>> SiemOutput::start(const Config& config, const std::string& version,
                                                      OverflowListener on_overflow) {
  if (!config.siem) return Status::Error("[siem] is not configured");
  std::unique_ptr<SiemOutput> out(new SiemOutput(config, version));
  out->on_overflow_ = std::move(on_overflow);
  const SiemConfig& c = *config.siem;
  std::shared_ptr<TlsContext> tls;
  if (!c.ca_file.empty()) {
    auto ctx = TlsContext::create(c.ca_file);
    if (!ctx) return Status::Error("[siem] ca_file: " + ctx.message());
    tls = *ctx;
  }
  SiemOutput* self = out.get();
  if (c.syslog_transport) {
    std::unique_ptr<Transport> t;
    if (*c.syslog_transport == SiemTransport::Udp) t = std::make_unique<SyslogUdpTransport>(c.syslog_addr);
    else
      t = std::make_unique<SyslogStreamTransport>(c.syslog_addr,
                                                  *c.syslog_transport == SiemTransport::Tls ? tls : nullptr);
    ForwarderOptions o;
    o.name = "syslog";
    o.spool_dir = config.state_dir + "/siem/syslog";
    o.spool_max = c.spool_max;
    o.overflow_notice = [self](std::uint64_t lost) {
      const SiemEvent e = self->overflowEvent("syslog", lost);
      return self->header_.message(e, self->syslog_format_->format(e));
    };
    auto f = Forwarder::start(std::move(t), std::move(o));
    if (!f) return Status::Error("[siem] syslog: " + f.message());
    out->syslog_ = std::move(f.value());
  }
  if (!c.webhook.empty()) {
    auto t = WebhookTransport::create(c.webhook, tls);
    if (!t) return Status::Error("[siem] webhook: " + t.message());
    ForwarderOptions o;
    o.name = "webhook";
    o.spool_dir = config.state_dir + "/siem/webhook";
    o.spool_max = c.spool_max;
    o.batch_max = 16;
    o.overflow_notice = [self](std::uint64_t lost) {
      return self->webhook_format_->format(self->overflowEvent("webhook", lost));
    };
    o.on_refused = [self](std::uint64_t refused, const std::string& why) { self->refusedAlert("webhook", refused, why); };
    auto f = Forwarder::start(std::move(t.value()), std::move(o));
    if (!f) return Status::Error("[siem] webhook: " + f.message());
    out->webhook_ = std::move(f.value());
  }
  return out;
}

SiemOutput::~SiemOutput() { stop(); }

void SiemOutput::stop(std::chrono::milliseconds send_for) {
  if (syslog_) syslog_->stop(send_for);
  if (webhook_) webhook_->stop(send_for);
}

SiemEvent SiemOutput::toSiemEvent(const gateway::SessionInfo& s, const Event& e) const {
  SiemEvent out;
  out.at = s.started_at > 0 ? s.started_at + e.t_ms : epochNowMs();
  out.t_ms = e.t_ms;
  out.kind = e.kind;
  out.text = e.text;
  out.session_id = s.id;
  out.user = s.user;
  out.target = s.target;
  out.protocol = s.protocol;
  out.client_addr = s.client_addr;
  if (e.kind == EventKind::Alert) {
    // An alert's text is "RULE: matched text"; the longest rule name that
    // prefixes it is the rule (names may hold ": ").
    const RuleConfig* best = nullptr;
    for (const RuleConfig& r : rules_)
      if (e.text.size() > r.name.size() + 1 && e.text.compare(0, r.name.size(), r.name) == 0 &&
          e.text.compare(r.name.size(), 2, ": ") == 0 && (!best || r.name.size() > best->name.size()))
        best = &r;
    out.severity = Severity::Medium;
    out.action = "alert";
    if (best) {
      out.rule = best->name;
      out.severity = best->severity;
      out.action = std::string(toString(best->action));
    }
  }
  return out;
}

// One of the gateway's own alerts about its SIEM output: stored through the
// overflow listener like a rule's alert.
SiemEvent SiemOutput::ownAlert(const std::string& rule, const std::string& detail) const {
  SiemEvent e;
  e.at = epochNowMs();
  e.kind = EventKind::Alert;
  e.rule = rule;
  e.severity = Severity::High;
  e.action = "alert";
  e.text = rule + ": " + detail;
  if (on_overflow_) on_overflow_(e);
  return e;
}

SiemEvent SiemOutput::overflowEvent(const std::string& output, std::uint64_t lost) const {
  return ownAlert("siem_spool_overflow", std::to_string(lost) + " " + output +
                                             " messages were dropped because the spool was full (spool_max " +
                                             std::to_string(cfg_.spool_max) + " bytes) while the receiver was unreachable");
}

void SiemOutput::refusedAlert(const std::string& output, std::uint64_t refused, const std::string& why) const {
  (void)ownAlert("siem_refused", "the " + output + " receiver refused " + std::to_string(refused) +
                                     " messages for good (last: " + why + "); they were dropped, not retried");
}

void SiemOutput::onSessionEvent(const gateway::SessionInfo& session, const Event& e) {
  const bool to_syslog = syslog_ && wants(cfg_.kinds, e.kind);
  const bool to_webhook = webhook_ && wants(cfg_.webhook_kinds, e.kind);
  if (!to_syslog && !to_webhook) return;
  const SiemEvent se = toSiemEvent(session, e);
  if (to_syslog) (void)syslog_->submit(header_.message(se, syslog_format_->format(se)));
  if (to_webhook) (void)webhook_->submit(webhook_format_->format(se));
}

}  // namespace vigil::siem
