#include "gateway/api/http_util.h"

#include <cctype>
#include <charconv>

namespace vigil::gateway::api {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parseU64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

bool isValidUtf8(std::string_view s) {
  std::size_t i = 0;
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = b[i];
    if (c < 0x80) { ++i; continue; }
    int n;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (b[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b[i + k] & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::optional<std::string> percentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  if (out.find('\0') != std::string::npos || !isValidUtf8(out)) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> parseQuery(std::string_view q,
                                                             std::size_t max_params) {
  std::map<std::string, std::string> out;
  while (!q.empty()) {
    std::size_t amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    std::size_t eq = part.find('=');
    auto key = percentDecode(part.substr(0, eq), true);
    auto value = percentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true);
    if (!key || !value || key->empty()) return std::nullopt;
    if (out.size() >= max_params) return std::nullopt;
    if (!out.emplace(std::move(*key), std::move(*value)).second) return std::nullopt;
  }
  return out;
}

bool isValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

RangeResult parseRange(std::string_view header, std::uint64_t size, ByteRange& out) {
  header = trim(header);
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return RangeResult::None;
  std::string_view spec = trim(header.substr(kPrefix.size()));
  if (spec.find(',') != std::string_view::npos) return RangeResult::None;
  std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeResult::None;
  std::string_view a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    std::uint64_t n;
    if (!parseU64(b, n)) return RangeResult::None;
    if (n == 0 || size == 0) return RangeResult::Unsatisfiable;
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!parseU64(a, first)) return RangeResult::None;
    if (b.empty()) {
      last = size == 0 ? 0 : size - 1;
    } else {
      if (!parseU64(b, last) || last < first) return RangeResult::None;
      if (size > 0 && last >= size) last = size - 1;
    }
    if (first >= size) return RangeResult::Unsatisfiable;
  }
  out = {first, last};
  return RangeResult::Ok;
}

std::optional<std::string> base64Decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::optional<std::pair<std::string, std::string>> parseBasicAuth(std::string_view header) {
  header = trim(header);
  if (header.size() < 6) return std::nullopt;
  std::string scheme(header.substr(0, 6));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "basic ") return std::nullopt;
  auto decoded = base64Decode(trim(header.substr(6)));
  if (!decoded || decoded->size() > 1024) return std::nullopt;
  std::size_t colon = decoded->find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::optional<std::string> cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    std::size_t semi = header.find(';');
    std::string_view part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(part.substr(0, eq)) == name) return std::string(trim(part.substr(eq + 1)));
  }
  return std::nullopt;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  while (true) {
    std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path = path.substr(slash + 1);
  }
  return out;
}

std::string toHex(const unsigned char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

}  // namespace vigil::gateway::api
