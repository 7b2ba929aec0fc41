#include "gateway/siem/formatter.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <ctime>

namespace vigil::siem {
namespace {

std::string boundedText(std::string_view s) {
  if (s.size() <= kMaxText) return std::string(s);
  return std::string(cutUtf8(s, kMaxText - 3)) + "...";
}

// "10.0.0.7:51234" -> ("10.0.0.7", "51234"); "[::1]:5" -> ("::1", "5").
std::pair<std::string, std::string> splitAddr(const std::string& addr) {
  const std::string host = addressHost(addr);
  const auto colon = addr.rfind(':');
  if (host == addr || colon == std::string::npos) return {host, ""};
  return {host, addr.substr(colon + 1)};
}

// A short name for the CEF header and JSON: what happened, without the text.
std::string eventName(const SiemEvent& e) {
  if (e.kind == EventKind::Alert) return e.rule.empty() ? "alert" : "rule " + e.rule + " matched";
  if (e.kind == EventKind::Lifecycle) {
    // "connect from ...", "disconnect: ...", "refused: ..." -> the first word.
    const auto end = e.text.find_first_of(" :");
    return "session " + e.text.substr(0, end == std::string::npos ? e.text.size() : end);
  }
  return std::string(toString(e.kind));
}

std::string signature(const SiemEvent& e) {
  if (e.kind == EventKind::Alert) return "vigil:alert:" + (e.rule.empty() ? "unknown" : e.rule);
  return "vigil:" + std::string(toString(e.kind));
}

std::string action(const SiemEvent& e) { return e.action.empty() ? std::string(toString(e.kind)) : e.action; }

// Printable ASCII without spaces, for RFC 5424 header fields; "-" if empty.
std::string headerToken(std::string_view s, std::size_t max) {
  std::string out;
  for (unsigned char c : s)
    if (c > 32 && c < 127 && out.size() < max) out += static_cast<char>(c);
  return out.empty() ? "-" : out;
}

}  // namespace

std::string_view cutUtf8(std::string_view s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

std::string cefHeaderField(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '|') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

std::string cefValue(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '=') (out += '\\') += c;
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

int cefSeverity(const SiemEvent& e) {
  if (e.kind == EventKind::Alert) {
    switch (e.severity) {
      case Severity::Info: return 1;
      case Severity::Low: return 3;
      case Severity::Medium: return 5;
      case Severity::High: return 8;
      case Severity::Critical: return 10;
    }
  }
  if (e.kind == EventKind::Lifecycle && e.text.rfind("refused", 0) == 0) return 5;
  return e.kind == EventKind::Lifecycle ? 3 : 1;
}

int syslogSeverity(const SiemEvent& e) {
  if (e.kind == EventKind::Alert) {
    switch (e.severity) {
      case Severity::Info: return 6;
      case Severity::Low: return 5;
      case Severity::Medium: return 4;
      case Severity::High: return 3;
      case Severity::Critical: return 2;
    }
  }
  if (e.kind == EventKind::Lifecycle && e.text.rfind("refused", 0) == 0) return 5;
  return 6;
}

std::string rfc3339Millis(EpochMillis t) {
  const std::time_t secs = static_cast<std::time_t>(t / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(t % 1000));
  return out;
}

std::string CefFormatter::format(const SiemEvent& e) const {
  std::string s = "CEF:0|Vigil|Vigil|" + cefHeaderField(version_) + "|" + cefHeaderField(signature(e)) +
                  "|" + cefHeaderField(eventName(e)) + "|" + std::to_string(cefSeverity(e)) + "|";
  s += "rt=" + std::to_string(e.at);
  const auto add = [&s](std::string_view key, const std::string& value) {
    if (!value.empty()) ((((s += ' ') += key) += '=') += cefValue(value));
  };
  const auto [ip, port] = splitAddr(e.client_addr);
  add("suser", e.user);
  add("dhost", e.target);
  add("src", ip);
  add("spt", port);
  add("app", e.protocol);
  add("act", action(e));
  if (!e.session_id.empty()) {
    add("cs1", e.session_id);
    add("cs1Label", "session");
  }
  if (!e.rule.empty()) {
    add("cs2", e.rule);
    add("cs2Label", "rule");
  }
  add("cn1", std::to_string(e.t_ms));
  add("cn1Label", "t_ms");
  add("cat", std::string(toString(e.kind)));
  add("msg", boundedText(e.text));
  return s;
}

std::string JsonFormatter::format(const SiemEvent& e) const {
  static const char* kSeverityNames[] = {"Unknown", "Informational", "Low", "Medium", "High", "Critical"};
  int severity_id = 1;
  if (e.kind == EventKind::Alert) severity_id = static_cast<int>(e.severity) + 1;
  const auto [ip, port] = splitAddr(e.client_addr);
  nlohmann::json j = {
      {"time", e.at},
      {"time_dt", rfc3339Millis(e.at)},
      {"severity_id", severity_id},
      {"severity", kSeverityNames[severity_id]},
      {"activity_name", eventName(e)},
      {"type_name", std::string(toString(e.kind))},
      {"message", boundedText(e.text)},
      {"metadata", {{"product", {{"name", "Vigil"}, {"vendor_name", "Vigil"}, {"version", version_}}},
                    {"log_name", "vigil"}}},
      {"actor", {{"user", {{"name", e.user}}}}},
      {"dst_endpoint", {{"hostname", e.target}}},
      {"session", {{"uid", e.session_id}, {"protocol", e.protocol}}},
      {"vigil", {{"kind", std::string(toString(e.kind))}, {"t_ms", e.t_ms}, {"action", action(e)}}},
  };
  nlohmann::json src = {{"ip", ip}};
  if (!port.empty()) src["port"] = std::atoi(port.c_str());
  j["src_endpoint"] = src;
  if (!e.rule.empty())
    j["finding_info"] = {{"title", e.rule}, {"uid", signature(e)}, {"action", e.action}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::unique_ptr<Formatter> makeFormatter(SiemFormat f, const std::string& version) {
  if (f == SiemFormat::Json) return std::make_unique<JsonFormatter>(version);
  return std::make_unique<CefFormatter>(version);
}

SyslogHeader::SyslogHeader(int facility, std::string_view hostname, int pid)
    : facility_(facility), hostname_(headerToken(hostname, 255)), procid_(std::to_string(pid)) {}

std::string SyslogHeader::message(const SiemEvent& e, std::string_view body) const {
  std::string s = "<" + std::to_string(facility_ * 8 + syslogSeverity(e)) + ">1 " + rfc3339Millis(e.at) + " " +
                  hostname_ + " vigil " + procid_ + " " + headerToken(toString(e.kind), 32) + " - ";
  s += body;
  return s;
}

}  // namespace vigil::siem
