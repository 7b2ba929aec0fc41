#include "core/config.h"

#include <unistd.h>

#include <re2/re2.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/clock.h"

namespace vigil {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw ConfigError(path + ": " + what);
}

std::string str(const toml::table& t, const char* key, const std::string& path,
                const std::string& where, bool required, std::string dflt = {}) {
  const toml::node* n = t.get(key);
  if (!n) {
    if (required) fail(path, where + ": missing `" + key + "`");
    return dflt;
  }
  if (auto v = n->value<std::string>()) return *v;
  fail(path, where + ": `" + key + "` must be a string");
}

std::optional<EpochMillis> timeKey(const toml::table& t, const char* key, const std::string& path,
                                   const std::string& where) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (auto dt = n->value<toml::date_time>()) {
    std::ostringstream os;
    os << *dt;
    if (auto parsed = parseRfc3339(os.str())) return parsed;
  }
  if (auto s = n->value<std::string>())
    if (auto parsed = parseRfc3339(*s)) return parsed;
  fail(path, where + ": `" + key + "` must be an RFC 3339 time such as \"2026-11-30T18:00:00Z\"");
}

Role parseRole(const std::string& s, const std::string& path, const std::string& where) {
  if (s == "vendor") return Role::Vendor;
  if (s == "auditor") return Role::Auditor;
  if (s == "security") return Role::Security;
  if (s == "admin") return Role::Admin;
  fail(path, where + ": unknown role \"" + s + "\" (use vendor, auditor, security or admin)");
}

// A typo must not silently change meaning (`not_afer` would open a grant
// forever), so unknown keys are errors.
void checkKeys(const toml::table& t, std::initializer_list<std::string_view> known,
               const std::string& path, const std::string& where) {
  for (const auto& [key, value] : t) {
    (void)value;
    if (std::find(known.begin(), known.end(), key.str()) == known.end())
      fail(path, where + ": unknown key `" + std::string(key.str()) + "`");
  }
}

bool validName(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@';
         });
}

// A positive whole number within [lo, hi], or the default when absent.
long long intKey(const toml::table& t, const char* key, const std::string& path,
                 const std::string& where, long long lo, long long hi, long long dflt,
                 const std::string& hint) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  const auto* v = n->as_integer();
  if (!v || v->get() < lo || v->get() > hi)
    fail(path, where + ": `" + key + "` must be a whole number from " + std::to_string(lo) +
                   " to " + std::to_string(hi) + hint);
  return v->get();
}

// "10s", "500ms", "2m" or a number of seconds.
int durationMsKey(const toml::table& t, const char* key, const std::string& path,
                  const std::string& where, int dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  long long ms = -1;
  if (const auto* v = n->as_integer()) {
    ms = v->get() * 1000;
  } else if (auto s = n->value<std::string>()) {
    std::size_t digits = 0;
    while (digits < s->size() && std::isdigit(static_cast<unsigned char>((*s)[digits]))) ++digits;
    const std::string unit = s->substr(digits);
    if (digits > 0 && digits <= 6) {
      const long long x = std::stoll(s->substr(0, digits));
      if (unit == "ms") ms = x;
      else if (unit == "s" || unit.empty()) ms = x * 1000;
      else if (unit == "m") ms = x * 60'000;
    }
  }
  if (ms < 1000 || ms > 600'000)
    fail(path, where + ": `" + key + "` must be a duration from 1s to 10m, such as \"10s\"");
  return static_cast<int>(ms);
}

// "1GiB", "512MiB", "100MB", or a number of bytes.
std::uint64_t sizeKey(const toml::table& t, const char* key, const std::string& path,
                      const std::string& where, std::uint64_t dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (const auto* v = n->as_integer(); v && v->get() >= 0) return static_cast<std::uint64_t>(v->get());
  if (auto s = n->value<std::string>()) {
    std::size_t digits = 0;
    while (digits < s->size() && std::isdigit(static_cast<unsigned char>((*s)[digits]))) ++digits;
    std::string unit = s->substr(digits);
    while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
    static const std::pair<const char*, std::uint64_t> kUnits[] = {
        {"", 1},          {"B", 1},          {"KB", 1000},         {"KiB", 1ull << 10},
        {"MB", 1000'000}, {"MiB", 1ull << 20}, {"GB", 1000'000'000}, {"GiB", 1ull << 30}};
    if (digits > 0 && digits <= 9)
      for (const auto& [name, mult] : kUnits)
        if (unit == name) return std::stoull(s->substr(0, digits)) * mult;
  }
  fail(path, where + ": `" + key + "` must be a size such as \"1GiB\" or \"500MB\"");
}

// "8192x8192".
std::pair<int, int> sizeWxH(const toml::table& t, const char* key, const std::string& path,
                            const std::string& where, std::pair<int, int> dflt) {
  const toml::node* n = t.get(key);
  if (!n) return dflt;
  if (auto s = n->value<std::string>()) {
    const auto x = s->find('x');
    try {
      if (x != std::string::npos && x > 0 && x + 1 < s->size() && s->size() <= 11) {
        const int w = std::stoi(s->substr(0, x)), h = std::stoi(s->substr(x + 1));
        if (w >= 64 && h >= 64 && w <= 16384 && h <= 16384) return {w, h};
      }
    } catch (const std::exception&) {
    }
  }
  fail(path, where + ": `" + key + "` must be WIDTHxHEIGHT, each 64 to 16384, such as \"8192x8192\"");
}

// A list of strings, or absent (empty).
std::vector<std::string> strList(const toml::table& t, const char* key, const std::string& path,
                                 const std::string& where) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (!n) return out;
  const auto* arr = n->as_array();
  if (!arr) fail(path, where + ": `" + key + "` must be a list of strings such as [\"a\", \"b\"]");
  for (const auto& v : *arr) {
    auto s = v.value<std::string>();
    if (!s || s->empty()) fail(path, where + ": `" + key + "` must hold non-empty strings");
    out.push_back(*s);
  }
  return out;
}

RuleConfig parseRule(const toml::table& t, const std::string& path, const std::string& index,
                     const std::vector<RuleConfig>& before) {
  std::string where = "[[rules]] " + index;
  RuleConfig r;
  r.name = str(t, "name", path, where, true);
  if (r.name.empty() || r.name.size() > 128)
    fail(path, where + ": `name` must be 1 to 128 characters");
  where = "[[rules]] \"" + r.name + "\"";
  checkKeys(t, {"name", "match", "kinds", "users", "targets", "action", "severity"}, path, where);
  for (const RuleConfig& other : before)
    if (other.name == r.name) fail(path, where + ": the name is used by another rule (names are unique)");
  r.match = str(t, "match", path, where, true);
  if (r.match.empty()) fail(path, where + ": `match` is empty");
  {
    RE2::Options opts;
    opts.set_log_errors(false);
    const RE2 re(r.match, opts);
    if (!re.ok()) fail(path, where + ": `match` is not a valid RE2 pattern: " + re.error());
  }
  const auto kinds = strList(t, "kinds", path, where);
  for (const std::string& k : kinds) {
    const auto kind = parseEventKind(k);
    if (!kind || (*kind != EventKind::Key && *kind != EventKind::Title && *kind != EventKind::Clipboard))
      fail(path, where + ": unknown kind \"" + k + "\" (use key, title or clipboard)");
    if (std::find(r.kinds.begin(), r.kinds.end(), *kind) == r.kinds.end()) r.kinds.push_back(*kind);
  }
  if (r.kinds.empty()) r.kinds = {EventKind::Key, EventKind::Title, EventKind::Clipboard};
  r.users = strList(t, "users", path, where);
  r.targets = strList(t, "targets", path, where);
  const std::string action = str(t, "action", path, where, true);
  if (action == "alert") r.action = RuleAction::Alert;
  else if (action == "terminate") r.action = RuleAction::Terminate;
  else if (action == "mask") r.action = RuleAction::Mask;
  else fail(path, where + ": unknown action \"" + action + "\" (use alert, terminate or mask)");
  const std::string severity = str(t, "severity", path, where, false, "medium");
  bool known = false;
  for (Severity s : {Severity::Info, Severity::Low, Severity::Medium, Severity::High, Severity::Critical})
    if (toString(s) == severity) r.severity = s, known = true;
  if (!known)
    fail(path, where + ": unknown severity \"" + severity +
                   "\" (use info, low, medium, high or critical)");
  return r;
}

// kinds = [...] of [siem]: any event kind, no repeats, not empty.
std::vector<EventKind> siemKinds(const toml::table& t, const char* key, const std::string& path,
                                 std::vector<EventKind> dflt) {
  if (!t.get(key)) return dflt;
  std::vector<EventKind> out;
  for (const std::string& k : strList(t, key, path, "[siem]")) {
    const auto kind = parseEventKind(k);
    if (!kind)
      fail(path, std::string("[siem] `") + key + "`: unknown kind \"" + k +
                     "\" (use lifecycle, alert, key, title or clipboard)");
    if (std::find(out.begin(), out.end(), *kind) == out.end()) out.push_back(*kind);
  }
  if (out.empty()) fail(path, std::string("[siem] `") + key + "` is empty (leave it out for the default)");
  return out;
}

SiemConfig parseSiem(const toml::table& t, const std::string& path) {
  checkKeys(t, {"syslog", "format", "kinds", "ca_file", "webhook", "webhook_kinds", "spool_max", "facility"},
            path, "[siem]");
  SiemConfig s;
  const std::string syslog = str(t, "syslog", path, "[siem]", false);
  if (!syslog.empty()) {
    static const std::pair<const char*, SiemTransport> kSchemes[] = {
        {"udp://", SiemTransport::Udp}, {"tcp://", SiemTransport::Tcp}, {"tls://", SiemTransport::Tls}};
    for (const auto& [prefix, kind] : kSchemes)
      if (syslog.rfind(prefix, 0) == 0) {
        s.syslog_transport = kind;
        s.syslog_addr = HostPort::parse(syslog.substr(std::string_view(prefix).size()), path + ": [siem] syslog");
      }
    if (!s.syslog_transport)
      fail(path, "[siem] `syslog` must be udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT, e.g. "
                 "\"tls://siem.example.com:6514\"");
    if (s.syslog_addr.port == 0 || s.syslog_addr.host.empty())
      fail(path, "[siem] `syslog` needs a host and a port other than 0");
  }
  s.webhook = str(t, "webhook", path, "[siem]", false);
  if (!s.webhook.empty()) {
    const bool http = s.webhook.rfind("http://", 0) == 0, https = s.webhook.rfind("https://", 0) == 0;
    const std::string rest = s.webhook.substr(http ? 7 : https ? 8 : 0);
    if ((!http && !https) || rest.empty() || rest[0] == '/' || rest.size() > 2000 ||
        rest.find_first_of(" \r\n\t") != std::string::npos)
      fail(path, "[siem] `webhook` must be an http:// or https:// URL such as "
                 "\"https://chat.example.com/hooks/vigil\"");
  }
  if (!s.syslog_transport && s.webhook.empty())
    fail(path, "[siem] needs `syslog` or `webhook` (or remove the section)");
  const std::string format = str(t, "format", path, "[siem]", false, "cef");
  if (format == "cef") s.format = SiemFormat::Cef;
  else if (format == "json") s.format = SiemFormat::Json;
  else fail(path, "[siem] `format`: unknown format \"" + format + "\" (use cef or json)");
  s.kinds = siemKinds(t, "kinds", path, s.kinds);
  s.webhook_kinds = siemKinds(t, "webhook_kinds", path, s.webhook_kinds);
  s.ca_file = str(t, "ca_file", path, "[siem]", false);
  const bool needs_ca = s.syslog_transport == SiemTransport::Tls || s.webhook.rfind("https://", 0) == 0;
  if (needs_ca && s.ca_file.empty())
    fail(path, "[siem] `ca_file` is required for tls:// and https:// (the PEM file of the CA that "
               "signed the receiver's certificate)");
  if (!needs_ca && !s.ca_file.empty())
    fail(path, "[siem] `ca_file` is only used with tls:// or https:// (remove it, or use tls://)");
  if (!s.ca_file.empty() && access(s.ca_file.c_str(), R_OK) != 0)
    fail(path, "[siem] `ca_file`: cannot read \"" + s.ca_file + "\"");
  s.spool_max = sizeKey(t, "spool_max", path, "[siem]", s.spool_max);
  if (s.spool_max < (1ull << 20) || s.spool_max > 1000ull * (1ull << 30))
    fail(path, "[siem] `spool_max` must be from \"1MiB\" to \"1000GiB\", e.g. \"64MiB\"");
  s.facility = static_cast<int>(intKey(t, "facility", path, "[siem]", 0, 23, s.facility,
                                       " (an RFC 5424 facility number, 0 to 23)"));
  return s;
}

}  // namespace

std::string_view toString(RuleAction a) {
  switch (a) {
    case RuleAction::Alert: return "alert";
    case RuleAction::Terminate: return "terminate";
    case RuleAction::Mask: return "mask";
  }
  return "alert";
}

std::string_view toString(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Low: return "low";
    case Severity::Medium: return "medium";
    case Severity::High: return "high";
    case Severity::Critical: return "critical";
  }
  return "medium";
}

std::string addressHost(const std::string& addr) {
  if (!addr.empty() && addr[0] == '[') {
    const auto close = addr.find(']');
    return close == std::string::npos ? addr : addr.substr(1, close - 1);
  }
  const auto colon = addr.find(':');
  if (colon != std::string::npos && addr.find(':', colon + 1) == std::string::npos)
    return addr.substr(0, colon);
  return addr;  // bare host, or a bare IPv6 address
}

std::string HostPort::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

HostPort HostPort::parse(const std::string& s, const std::string& key) {
  HostPort hp;
  std::string port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      throw ConfigError(key + ": \"" + s + "\" is not HOST:PORT");
    hp.host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string::npos) throw ConfigError(key + ": \"" + s + "\" is not HOST:PORT");
    hp.host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (hp.host.empty() || port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      std::stoi(port) > 65535)
    throw ConfigError(key + ": \"" + s + "\" is not HOST:PORT");
  hp.port = static_cast<std::uint16_t>(std::stoi(port));
  return hp;
}

std::string_view toString(Role r) {
  switch (r) {
    case Role::Vendor: return "vendor";
    case Role::Auditor: return "auditor";
    case Role::Security: return "security";
    case Role::Admin: return "admin";
  }
  return "vendor";
}

std::string_view toString(Protocol p) { return p == Protocol::Rdp ? "rdp" : "vnc"; }

std::optional<std::string> normalizeFingerprint(std::string_view text) {
  if (text.size() >= 7 && (text.substr(0, 7) == "sha256:" || text.substr(0, 7) == "SHA256:"))
    text.remove_prefix(7);
  std::string hex;
  for (char ch : text) {
    if (ch == ':') continue;
    if (!std::isxdigit(static_cast<unsigned char>(ch))) return std::nullopt;
    hex += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  if (hex.size() != 64) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

bool UserConfig::hasRole(Role r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

const UserConfig* Config::findUser(std::string_view name) const {
  for (const auto& u : users)
    if (u.name == name) return &u;
  return nullptr;
}

const TargetConfig* Config::findTarget(std::string_view name) const {
  for (const auto& t : targets)
    if (t.name == name) return &t;
  return nullptr;
}

Config Config::load(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw ConfigError(path + ": cannot read the config file (copy config/vigil.example.toml "
                             "there, or pass --config FILE)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Config Config::parse(const std::string& text, const std::string& path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << path << ":" << e.source().begin.line << ": " << e.description();
    throw ConfigError(os.str());
  }
  Config c;
  c.path = path;
  checkKeys(root, {"redis", "recordings", "gateway", "retention", "web", "rdp", "users", "targets",
                   "grants", "rules", "masking", "siem"},
            path, "top level");
  if (const toml::node* n = root.get("siem")) {
    const auto* t = n->as_table();
    if (!t) fail(path, "[siem] must be a table");
    c.siem = parseSiem(*t, path);
  }
  if (auto* t = root["redis"].as_table()) checkKeys(*t, {"url"}, path, "[redis]");
  if (auto* t = root["recordings"].as_table()) checkKeys(*t, {"dir", "qp", "min_free", "encrypt"}, path, "[recordings]");
  if (auto* t = root["gateway"].as_table())
    checkKeys(*t, {"state_dir", "node_id", "log_level", "handshake_timeout",
                   "max_unauthenticated_per_address", "max_unauthenticated", "max_connections",
                   "max_desktop"},
              path, "[gateway]");
  if (auto* t = root["retention"].as_table()) checkKeys(*t, {"refused_days", "audit_days"}, path, "[retention]");
  if (auto* t = root["web"].as_table()) checkKeys(*t, {"listen", "tls_cert", "tls_key", "public_url"}, path, "[web]");
  if (auto* t = root["rdp"].as_table()) checkKeys(*t, {"listen", "tls_cert", "tls_key", "avc420", "pass_remotefx"}, path, "[rdp]");
  if (auto* t = root["redis"].as_table()) c.redis_url = str(*t, "url", path, "[redis]", false, c.redis_url);
  if (auto* t = root["recordings"].as_table()) {
    c.recordings_dir = str(*t, "dir", path, "[recordings]", false, c.recordings_dir);
    if (const toml::node* qp = t->get("qp")) {
      // Bounds around the measured 30-34 (docs/recording.md, "the
      // quantizer"): a typo must not make files many times larger, or
      // text unreadable.
      const auto* v = qp->as_integer();
      if (!v || v->get() < 20 || v->get() > 36)
        fail(path, "[recordings] qp must be a whole number from 20 (sharper, larger files) to 36 "
                   "(smaller, blurrier text), or left out for the default");
      c.recordings_qp = static_cast<int>(v->get());
    }
    c.recordings_min_free = sizeKey(*t, "min_free", path, "[recordings]", c.recordings_min_free);
    if (const toml::node* enc = t->get("encrypt")) {
      const auto* v = enc->as_boolean();
      if (!v)
        fail(path, "[recordings] encrypt must be true or false (unquoted); left out, it is true");
      c.recordings_encrypt = v->get();
    }
  }
  if (auto* t = root["retention"].as_table()) {
    c.retention_refused_days = static_cast<int>(
        intKey(*t, "refused_days", path, "[retention]", 1, 3650, c.retention_refused_days, ""));
    c.retention_audit_days = static_cast<int>(
        intKey(*t, "audit_days", path, "[retention]", 1, 36500, c.retention_audit_days, ""));
  }
  if (auto* t = root["gateway"].as_table()) {
    c.state_dir = str(*t, "state_dir", path, "[gateway]", false, c.state_dir);
    c.node_id = str(*t, "node_id", path, "[gateway]", false);
    c.log_level = str(*t, "log_level", path, "[gateway]", false, c.log_level);
    FrontDoorConfig& d = c.front_door;
    d.handshake_timeout_ms =
        durationMsKey(*t, "handshake_timeout", path, "[gateway]", d.handshake_timeout_ms);
    d.max_unauthenticated_per_address = static_cast<int>(
        intKey(*t, "max_unauthenticated_per_address", path, "[gateway]", 1, 1000,
               d.max_unauthenticated_per_address, ""));
    d.max_unauthenticated = static_cast<int>(intKey(*t, "max_unauthenticated", path, "[gateway]", 1,
                                                    10'000, d.max_unauthenticated, ""));
    d.max_connections = static_cast<int>(
        intKey(*t, "max_connections", path, "[gateway]", 1, 10'000, d.max_connections, ""));
    std::tie(d.max_desktop_width, d.max_desktop_height) = sizeWxH(
        *t, "max_desktop", path, "[gateway]", {d.max_desktop_width, d.max_desktop_height});
  }
  if (auto* t = root["web"].as_table()) {
    c.web_listen = HostPort::parse(str(*t, "listen", path, "[web]", false, c.web_listen.str()),
                                   path + ": [web] listen");
    c.web_tls_cert = str(*t, "tls_cert", path, "[web]", false);
    c.web_tls_key = str(*t, "tls_key", path, "[web]", false);
    c.web_public_url = str(*t, "public_url", path, "[web]", false);
    if (!c.web_public_url.empty() && c.web_public_url.rfind("https://", 0) != 0 &&
        c.web_public_url.rfind("http://", 0) != 0)
      throw ConfigError(path + ": [web] public_url must start with https:// or http://, e.g. "
                               "https://vigil.example.com");
  }
  if (auto* t = root["rdp"].as_table()) {
    c.rdp_listen = HostPort::parse(str(*t, "listen", path, "[rdp]", false, c.rdp_listen.str()),
                                   path + ": [rdp] listen");
    c.rdp_tls_cert = str(*t, "tls_cert", path, "[rdp]", false);
    c.rdp_tls_key = str(*t, "tls_key", path, "[rdp]", false);
    if (const toml::node* a = t->get("avc420")) {
      const auto* v = a->as_boolean();
      if (!v) fail(path, "[rdp] avc420 must be true or false (unquoted)");
      c.rdp_avc420 = v->get();
    }
    if (const toml::node* a = t->get("pass_remotefx")) {
      const auto* v = a->as_boolean();
      if (!v) fail(path, "[rdp] pass_remotefx must be true or false (unquoted)");
      c.rdp_pass_remotefx = v->get();
    }
  }
  if (c.node_id.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.node_id = host[0] ? host : "vigil";
  }

  if (auto* arr = root["users"].as_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string where = "[[users]] #" + std::to_string(i + 1);
      auto* t = arr->get(i)->as_table();
      if (!t) fail(path, where + " must be a table");
      checkKeys(*t, {"name", "password_hash", "roles"}, path, where);
      UserConfig u;
      u.name = str(*t, "name", path, where, true);
      if (!validName(u.name)) fail(path, where + ": name may hold letters, digits, - _ . @");
      u.password_hash = str(*t, "password_hash", path, where, true);
      if (u.password_hash.rfind("$argon2id$", 0) != 0)
        fail(path, where + " (" + u.name + "): password_hash must come from `vigil hash-password`");
      if (t->get("roles") && !t->get("roles")->is_array())
        fail(path, where + ": roles must be a list such as [\"vendor\"]");
      if (auto* roles = t->get_as<toml::array>("roles")) {
        for (auto& r : *roles) {
          auto s = r.value<std::string>();
          if (!s) fail(path, where + ": roles must be strings");
          u.roles.push_back(parseRole(*s, path, where));
        }
      }
      if (u.roles.empty()) fail(path, where + " (" + u.name + "): give at least one role");
      if (c.findUser(u.name)) fail(path, where + ": user \"" + u.name + "\" is defined twice");
      c.users.push_back(std::move(u));
    }
  }
  if (auto* arr = root["targets"].as_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string where = "[[targets]] #" + std::to_string(i + 1);
      auto* t = arr->get(i)->as_table();
      if (!t) fail(path, where + " must be a table");
      checkKeys(*t, {"name", "protocol", "host", "port", "username", "password", "vnc_listen",
                     "keyboard_layout", "tls_fingerprint", "logon_confirmation"},
                path, where);
      TargetConfig tc;
      tc.name = str(*t, "name", path, where, true);
      if (!validName(tc.name)) fail(path, where + ": name may hold letters, digits, - _ . @");
      const std::string proto = str(*t, "protocol", path, where, true);
      if (proto == "rdp") tc.protocol = Protocol::Rdp;
      else if (proto == "vnc") tc.protocol = Protocol::Vnc;
      else fail(path, where + ": protocol must be \"rdp\" or \"vnc\"");
      tc.host = str(*t, "host", path, where, true);
      if (t->get("port") && !t->get("port")->is_integer())
        fail(path, where + ": port must be a number such as 3389 (no quotes)");
      auto port = t->get("port") ? t->get("port")->value<int64_t>() : std::optional<int64_t>{};
      if (!port) tc.port = tc.protocol == Protocol::Rdp ? 3389 : 5900;
      else if (*port < 1 || *port > 65535) fail(path, where + ": port must be 1..65535");
      else tc.port = static_cast<std::uint16_t>(*port);
      tc.username = str(*t, "username", path, where, false);
      tc.password = str(*t, "password", path, where, false);
      tc.keyboard_layout = str(*t, "keyboard_layout", path, where, false);
      if (const std::string fp = str(*t, "tls_fingerprint", path, where, false); !fp.empty()) {
        auto n = normalizeFingerprint(fp);
        if (!n)
          fail(path, where + " (" + tc.name + "): tls_fingerprint must be the SHA-256 of the "
                     "server's certificate, 32 hex pairs like \"AB:CD:...\" (the gateway logs "
                     "it as rdp-client: server certificate ... fingerprint=)");
        tc.tls_fingerprint = *n;
      }
      if (const toml::node* lc = t->get("logon_confirmation")) {
        const auto* v = lc->as_boolean();
        if (!v || tc.protocol != Protocol::Rdp)
          fail(path, where + " (" + tc.name + "): logon_confirmation is for rdp targets, true or false "
                     "(unquoted); false only for a target that never confirms a logon, such as xrdp");
        tc.logon_confirmation = v->get();
      }
      const std::string vl = str(*t, "vnc_listen", path, where, false);
      if (tc.protocol == Protocol::Vnc) {
        if (vl.empty()) fail(path, where + " (" + tc.name + "): vnc targets need vnc_listen");
        tc.vnc_listen = HostPort::parse(vl, path + ": " + where + " vnc_listen");
      }
      for (const auto& other : c.targets)
        if (tc.vnc_listen && other.vnc_listen && other.vnc_listen->port == tc.vnc_listen->port &&
            tc.vnc_listen->port != 0)
          fail(path, where + ": vnc_listen " + tc.vnc_listen->str() + " is already used by \"" +
                         other.name + "\"");
      if (c.findTarget(tc.name)) fail(path, where + ": target \"" + tc.name + "\" is defined twice");
      c.targets.push_back(std::move(tc));
    }
  }
  if (auto* arr = root["grants"].as_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      const std::string where = "[[grants]] #" + std::to_string(i + 1);
      auto* t = arr->get(i)->as_table();
      if (!t) fail(path, where + " must be a table");
      checkKeys(*t, {"user", "target", "not_before", "not_after"}, path, where);
      GrantConfig g;
      g.user = str(*t, "user", path, where, true);
      g.target = str(*t, "target", path, where, true);
      if (!c.findUser(g.user)) fail(path, where + ": no [[users]] named \"" + g.user + "\"");
      if (!c.findTarget(g.target)) fail(path, where + ": no [[targets]] named \"" + g.target + "\"");
      g.not_before = timeKey(*t, "not_before", path, where);
      g.not_after = timeKey(*t, "not_after", path, where);
      if (g.not_before && g.not_after && *g.not_after <= *g.not_before)
        fail(path, where + ": not_after must be later than not_before");
      c.grants.push_back(std::move(g));
    }
  }
  if (auto* t = root["masking"].as_table()) {
    checkKeys(*t, {"password_windows", "password_window_titles"}, path, "[masking]");
    if (const toml::node* on = t->get("password_windows")) {
      const auto* v = on->as_boolean();
      if (!v) fail(path, "[masking] password_windows must be true or false (unquoted); left out, it is true");
      c.masking.password_windows = v->get();
    }
    if (t->contains("password_window_titles")) {
      c.masking.password_window_titles = str(*t, "password_window_titles", path, "[masking]", true);
      RE2::Options opts;
      opts.set_log_errors(false);
      const RE2 re(c.masking.password_window_titles, opts);
      if (c.masking.password_window_titles.empty() || !re.ok())
        fail(path, "[masking] password_window_titles is not a valid RE2 pattern: " +
                       (re.ok() ? std::string("it is empty") : re.error()));
    }
  } else if (root.contains("masking")) {
    fail(path, "masking must be a table: [masking]");
  }
  if (root.contains("rules") && !root["rules"].as_array())
    fail(path, "rules must be written as [[rules]] tables");
  if (auto* arr = root["rules"].as_array()) {
    for (std::size_t i = 0; i < arr->size(); ++i) {
      auto* t = arr->get(i)->as_table();
      if (!t) fail(path, "[[rules]] #" + std::to_string(i + 1) + " must be a table");
      c.rules.push_back(parseRule(*t, path, "#" + std::to_string(i + 1), c.rules));
    }
  }
  return c;
}

}  // namespace vigil
