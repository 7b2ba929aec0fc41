#include "gateway/rdp/monitor_layout.h"

#include <algorithm>
#include <string>

namespace vigil::gateway::rdp {
namespace {
// MS-RDPEDISP 2.2.2.2.1: a monitor's side in pixels.
constexpr std::uint32_t kMinSide = 200;
constexpr std::uint32_t kMaxSide = 8192;
}  // namespace

DisplayCaps boundedCaps(const DisplayCaps& target, int max_width, int max_height) {
  DisplayCaps c;
  c.max_monitors = std::clamp<std::uint32_t>(target.max_monitors, 1, kMaxLayoutMonitors);
  c.max_area_a = std::min<std::uint32_t>(target.max_area_a, static_cast<std::uint32_t>(std::max(0, max_width)));
  c.max_area_b = std::min<std::uint32_t>(target.max_area_b, static_cast<std::uint32_t>(std::max(0, max_height)));
  return c;
}

Status checkMonitorLayout(const std::vector<MonitorLayout>& layout, const DisplayCaps& caps, int max_width,
                          int max_height) {
  if (layout.empty()) return Status::Error("no monitors in the layout");
  if (layout.size() > std::min(caps.max_monitors, kMaxLayoutMonitors))
    return Status::Error(std::to_string(layout.size()) + " monitors, the target takes " +
                         std::to_string(caps.max_monitors));
  int primaries = 0;
  std::int64_t min_x = INT64_MAX, min_y = INT64_MAX, max_x = INT64_MIN, max_y = INT64_MIN, area = 0;
  for (const MonitorLayout& m : layout) {
    if (m.width < kMinSide || m.width > kMaxSide || m.height < kMinSide || m.height > kMaxSide || m.width % 2 != 0)
      return Status::Error("monitor size " + std::to_string(m.width) + "x" + std::to_string(m.height) +
                           " out of range");
    if (m.orientation != 0 && m.orientation != 90 && m.orientation != 180 && m.orientation != 270)
      return Status::Error("monitor orientation " + std::to_string(m.orientation));
    if (m.primary) {
      ++primaries;
      if (m.left != 0 || m.top != 0) return Status::Error("the primary monitor is not at (0,0)");
    }
    min_x = std::min<std::int64_t>(min_x, m.left);
    min_y = std::min<std::int64_t>(min_y, m.top);
    max_x = std::max<std::int64_t>(max_x, std::int64_t{m.left} + m.width);
    max_y = std::max<std::int64_t>(max_y, std::int64_t{m.top} + m.height);
    area += std::int64_t{m.width} * m.height;
  }
  if (primaries != 1) return Status::Error(std::to_string(primaries) + " primary monitors");
  const std::int64_t w = max_x - min_x, h = max_y - min_y;
  if (w > max_width || h > max_height)
    return Status::Error("desktop " + std::to_string(w) + "x" + std::to_string(h) + " exceeds max_desktop " +
                         std::to_string(max_width) + "x" + std::to_string(max_height));
  const std::int64_t cap_area = std::int64_t{caps.max_area_a} * caps.max_area_b * caps.max_monitors;
  if (area > cap_area) return Status::Error("layout area beyond the target's limit");
  return Status::Ok();
}

}  // namespace vigil::gateway::rdp
