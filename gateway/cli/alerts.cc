// vigil alerts [--since T] [--limit N] [--json]: recent alerts raised by
// rules, newest first, across sessions.
#include <cstdio>
#include <iostream>
#include <optional>

#include "core/clock.h"
#include "gateway/auth/duration.h"
#include "gateway/cli/cli.h"
#include "gateway/record_json.h"

namespace vigil::cli {

namespace {

// An RFC 3339 time, or a duration back from now ("30m", "2h", "1d").
std::optional<EpochMillis> parseSince(const std::string& s, EpochMillis now) {
  if (auto t = parseRfc3339(s)) return t;
  if (auto d = gateway::auth::parseDuration(s); d.ok()) return now - *d;
  return std::nullopt;
}

}  // namespace

int alerts(const Common& c, const std::string& since_text, std::size_t limit) {
  EpochMillis since = 0;
  if (!since_text.empty()) {
    auto t = parseSince(since_text, epochNowMs());
    if (!t) {
      std::cerr << "vigil: --since must be an RFC 3339 time (2026-11-22T14:03:05Z) or a duration "
                   "back from now (30m, 2h, 1d)\n";
      return 2;
    }
    since = *t;
  }
  auto env = openEnv(c);
  if (!env) return 1;
  auto list = env->store->alerts(since, limit);
  if (!list) return fail(list.message());
  if (c.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& a : *list) arr.push_back(gateway::toJson(a));
    std::cout << nlohmann::json{{"alerts", arr}}.dump(2, ' ', false,
                                                      nlohmann::json::error_handler_t::replace)
              << "\n";
    return 0;
  }
  if (list->empty()) {
    std::cerr << "no alerts" << (since ? " since " + formatRfc3339(since) : std::string()) << "\n";
    return 0;
  }
  for (const auto& a : *list) {
    const std::string at = formatRfc3339(a.at);
    std::printf("%s %s  %-8s %s  %s@%s  %s\n", at.substr(0, 10).c_str(), at.substr(11, 8).c_str(),
                a.severity.c_str(), a.session_id.c_str(), a.user.c_str(), a.target.c_str(),
                a.text.c_str());
  }
  return 0;
}

}  // namespace vigil::cli
