#include "gateway/api/audit_trail.h"

#include <algorithm>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/clock.h"

namespace vigil::gateway::api {
namespace {

std::string keyOf(const std::string& actor, const std::string& action, const std::string& object) {
  return actor + '\n' + action + '\n' + object;
}

}  // namespace

Status AuditTrail::record(const std::string& actor, const std::string& action,
                          const std::string& object, const std::string& detail) {
  Status s = store_.appendAudit({epochNowMs(), actor, action, object, detail});
  if (!s.ok())
    spdlog::error("audit write failed, action refused action={} actor={}: {}", action, actor,
                  s.message());
  return s;
}

Status AuditTrail::recordRepeated(const std::string& actor, const std::string& action,
                                  const std::string& object, const std::string& detail) {
  const auto now = Clock::now();
  const std::string key = keyOf(actor, action, object);
  {
    std::lock_guard lock(mu_);
    auto it = windows_.find(key);
    if (it != windows_.end() && now - it->second.opened < interval_) {
      Window& w = it->second;
      const EpochMillis at = epochNowMs();
      if (w.more++ == 0) w.first_more = at;
      w.last_more = at;
      return Status::Ok();
    }
  }
  // A new interval: the look is written now, and the ended interval's count
  // (if any) goes out with the next flush.
  flushDue();
  if (Status s = record(actor, action, object, detail); !s.ok()) return s;
  std::lock_guard lock(mu_);
  windows_[key] = Window{now, 0, 0, 0, detail};
  return Status::Ok();
}

void AuditTrail::flushDue() { flush(false); }
void AuditTrail::flushAll() { flush(true); }

void AuditTrail::flush(bool all) {
  struct Pending {
    std::string key;
    Window w;
  };
  std::vector<Pending> out;
  const auto now = Clock::now();
  {
    std::lock_guard lock(mu_);
    for (auto it = windows_.begin(); it != windows_.end();) {
      if (all || now - it->second.opened >= interval_) {
        if (it->second.more > 0) out.push_back({it->first, it->second});
        it = windows_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const Pending& p : out) {
    const auto a = p.key.find('\n'), b = p.key.find('\n', a + 1);
    const std::string actor = p.key.substr(0, a), action = p.key.substr(a + 1, b - a - 1),
                      object = p.key.substr(b + 1);
    const std::string detail = std::to_string(p.w.more) + " more between " +
                               formatRfc3339(p.w.first_more) + " and " +
                               formatRfc3339(p.w.last_more) + " (" + p.w.detail + ")";
    storage::AuditEntry e{p.w.last_more, actor, action, object, detail};
    if (Status s = store_.appendAudit(e); !s.ok()) {
      // These looks already happened, so the count must land: keep it for
      // the next flush, merged into the window that may have opened since.
      spdlog::error("audit write of {} coalesced {} by {} on {} failed, will retry: {}", p.w.more,
                    action, actor, object, s.message());
      std::lock_guard lock(mu_);
      auto [it, fresh] = windows_.try_emplace(p.key, p.w);
      if (!fresh) {
        Window& w = it->second;
        if (w.more == 0) w.first_more = p.w.first_more;
        w.first_more = std::min(w.first_more, p.w.first_more);
        w.last_more = std::max(w.last_more, p.w.last_more);
        w.more += p.w.more;
      }
    }
  }
}

}  // namespace vigil::gateway::api
