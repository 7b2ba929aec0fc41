#include "storage/redis_url.h"

#include <charconv>

namespace vigil::storage::redis {
namespace {

std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool parseInt(std::string_view s, int& out, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

Status bad(std::string_view url, std::string_view why) {
  // The URL may hold a password: name the problem, not the URL.
  (void)url;
  return Status::Error("bad [redis] url: " + std::string(why) +
                       " (expected redis://[[user]:password@]host:port/db or unix:///path.sock?db=N&password=P)");
}

}  // namespace

std::string Url::where() const {
  if (is_unix) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Url> parseUrl(std::string_view url) {
  Url u;
  auto query = [&](std::string_view q) -> Status {
    while (!q.empty()) {
      const std::size_t amp = q.find('&');
      std::string_view kv = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      const std::size_t eq = kv.find('=');
      std::string_view k = kv.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
      if (k == "db") {
        if (!parseInt(v, u.db, 0, 1 << 20)) return bad(url, "db must be a number");
      } else if (k == "password") {
        u.password = percentDecode(v);
      } else if (k == "user") {
        u.user = percentDecode(v);
      } else {
        return bad(url, "unknown option '" + std::string(k) + "'");
      }
    }
    return Status::Ok();
  };
  if (url.starts_with("unix://")) {
    u.is_unix = true;
    std::string_view rest = url.substr(7);
    const std::size_t qm = rest.find('?');
    u.path = std::string(rest.substr(0, qm));
    if (u.path.empty() || u.path[0] != '/') return bad(url, "unix socket path must be absolute");
    if (qm != std::string_view::npos)
      if (Status st = query(rest.substr(qm + 1)); !st.ok()) return st;
    if (!u.user.empty() && u.password.empty()) return bad(url, "a user needs a password");
    return u;
  }
  if (url.starts_with("rediss://")) return bad(url, "TLS (rediss://) is not supported");
  if (!url.starts_with("redis://")) return bad(url, "unknown scheme");
  std::string_view rest = url.substr(8);
  const std::size_t qm = rest.find('?');
  if (qm != std::string_view::npos) {
    if (Status st = query(rest.substr(qm + 1)); !st.ok()) return st;
    rest = rest.substr(0, qm);
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size())
    if (!parseInt(rest.substr(slash + 1), u.db, 0, 1 << 20)) return bad(url, "db must be a number");
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      u.password = percentDecode(userinfo);  // redis://secret@host: a password alone
    } else {
      u.user = percentDecode(userinfo.substr(0, colon));
      u.password = percentDecode(userinfo.substr(colon + 1));
    }
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(url, "unclosed [ in host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad(url, "junk after ]");
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!host.empty()) u.host = std::string(host);
  if (!port.empty() && !parseInt(port, u.port, 1, 65535)) return bad(url, "port must be 1..65535");
  if (!u.user.empty() && u.password.empty()) return bad(url, "a user needs a password (user:password@)");
  return u;
}

std::string redactUrl(std::string_view url) {
  std::string out(url);
  constexpr std::string_view kOpt = "password=";
  // Query options first: their value may hold an '@'.
  for (std::size_t pos = 0; (pos = out.find(kOpt, pos)) != std::string::npos;) {
    if (pos == 0 || (out[pos - 1] != '?' && out[pos - 1] != '&')) {
      pos += kOpt.size();
      continue;
    }
    const std::size_t from = pos + kOpt.size();
    const std::size_t end = out.find('&', from);
    out.replace(from, (end == std::string::npos ? out.size() : end) - from, "***");
    pos = from + 3;
  }
  // Then user:password@ — up to the last '@', so that a password holding a
  // raw '@', '/' or '?' is hidden whole (too much hidden beats too little).
  const std::size_t scheme = out.find("://");
  const std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  const std::size_t at = out.rfind('@');
  if (at != std::string::npos && at >= start) {
    const std::size_t colon = out.find(':', start);
    const std::size_t from = colon != std::string::npos && colon < at ? colon + 1 : start;
    out.replace(from, at - from, "***");
  }
  return out;
}

}  // namespace vigil::storage::redis
