#include "gateway/auth/duration.h"

#include <cctype>
#include <limits>

namespace vigil::gateway::auth {

Result<long long> parseDuration(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::Error("\"" + text + "\" is not a duration (" + why +
                         "); use e.g. 90s, 30m, 2h, 1d or 1h30m");
  };
  if (text.empty()) return bad("empty");
  if (text.size() > 32) return bad("too long");
  constexpr long long kMax = std::numeric_limits<long long>::max() / 1000;
  long long total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("expected a number");
    long long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > kMax) return bad("too large");
      ++i;
    }
    long long unit_s = 1;
    if (i < text.size()) {
      switch (std::tolower(static_cast<unsigned char>(text[i]))) {
        case 's': unit_s = 1; break;
        case 'm': unit_s = 60; break;
        case 'h': unit_s = 3600; break;
        case 'd': unit_s = 86400; break;
        default: return bad(std::string("unknown unit '") + text[i] + "'");
      }
      ++i;
    } else if (total_ms != 0) {
      return bad("a unit is missing after the last number");
    }
    if (n > kMax / unit_s) return bad("too large");
    const long long part_ms = n * unit_s * 1000;
    if (total_ms > std::numeric_limits<long long>::max() - part_ms) return bad("too large");
    total_ms += part_ms;
  }
  return total_ms;
}

}  // namespace vigil::gateway::auth
