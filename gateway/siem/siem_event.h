// One event as the SIEM sees it: the session's event (masked text only) with
// who, where and, for alerts, which rule.
#pragma once

#include <string>

#include "core/config.h"
#include "core/event.h"

namespace vigil::siem {

struct SiemEvent {
  EpochMillis at = 0;  // wall clock of the event
  Millis t_ms = 0;     // since the session's start (the video's clock)
  EventKind kind = EventKind::Lifecycle;
  std::string text;  // as stored: masks already applied
  std::string session_id, user, target, protocol, client_addr;
  // Alerts: the rule that matched (empty otherwise), its severity and action.
  std::string rule;
  Severity severity = Severity::Info;
  std::string action;
};

}  // namespace vigil::siem
