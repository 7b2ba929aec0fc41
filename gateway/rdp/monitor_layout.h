// Display Control (MS-RDPEDISP) in the gateway's own terms: a client's
// monitor layout and a target's limits, and the bounds a layout must keep
// before it goes on to the target. No FreeRDP types here.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.h"

namespace vigil::gateway::rdp {

// One monitor of a Display Control layout (MS-RDPEDISP 2.2.2.2.1).
struct MonitorLayout {
  bool primary = false;
  std::int32_t left = 0, top = 0;
  std::uint32_t width = 0, height = 0;
  std::uint32_t physical_width = 0, physical_height = 0;  // mm, 0 = unknown
  std::uint32_t orientation = 0;                          // 0, 90, 180, 270
  std::uint32_t desktop_scale = 100, device_scale = 100;  // percent
};

// What the target's Display Control Capabilities PDU allows.
struct DisplayCaps {
  std::uint32_t max_monitors = 1;
  std::uint32_t max_area_a = 0, max_area_b = 0;  // MaxMonitorAreaFactorA/B
};

inline constexpr std::uint32_t kMaxLayoutMonitors = 16;

// The caps the gateway announces to its client: the target's, held to at
// most kMaxLayoutMonitors monitors and an area factor no wider or taller
// than the gateway's desktop bound.
DisplayCaps boundedCaps(const DisplayCaps& target, int max_width, int max_height);

// OK if `layout` is one the target may be sent: 1..caps.max_monitors
// monitors, each 200..8192 pixels each way with an even width and a known
// orientation, exactly one primary at (0,0), the whole desktop within
// max_width x max_height and within the caps' area.
Status checkMonitorLayout(const std::vector<MonitorLayout>& layout, const DisplayCaps& caps, int max_width,
                          int max_height);

}  // namespace vigil::gateway::rdp
