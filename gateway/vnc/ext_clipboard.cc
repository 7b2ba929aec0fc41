#include "gateway/vnc/ext_clipboard.h"

#include <zlib.h>

#include <algorithm>

namespace vigil::gateway::vnc::extclip {

namespace {

constexpr char kClientCutText = 6;

std::uint32_t getU32(std::string_view s, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) << 24 | b(1) << 16 | b(2) << 8 | b(3);
}

void putU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

// A ClientCutText header with the negative length that marks the extension.
std::string withHeader(const std::string& payload) {
  std::string out{kClientCutText, 0, 0, 0};
  putU32(out, static_cast<std::uint32_t>(-static_cast<std::int64_t>(payload.size())));
  return out + payload;
}

// Inflates at most `limit` bytes of output; the rest of the stream is not read.
Result<std::string> inflateAtMost(std::string_view in, std::size_t limit) {
  z_stream z{};
  if (inflateInit(&z) != Z_OK) return Status::Error("zlib init failed");
  std::string out(limit, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  while (rc == Z_OK && z.avail_out > 0 && z.avail_in > 0) rc = inflate(&z, Z_NO_FLUSH);
  const std::size_t got = out.size() - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
    return Status::Error("corrupt extended clipboard data");
  out.resize(got);
  return out;
}

std::size_t sequenceLength(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;  // continuation or never valid as a lead byte
}

// Decodes the sequence at `i` (length n); -1 if it is not valid UTF-8.
long decodeAt(std::string_view s, std::size_t i, std::size_t n) {
  if (n == 0 || i + n > s.size()) return -1;
  const auto c = static_cast<unsigned char>(s[i]);
  if (n == 1) return c;
  long cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return -1;
    cp = cp << 6 | (d & 0x3F);
  }
  static constexpr long kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  return cp;
}

}  // namespace

Result<Message> parse(std::string_view payload, std::size_t max_text) {
  if (payload.size() < 4) return Status::Error("extended clipboard message too short");
  Message m;
  m.flags = getU32(payload, 0);
  // Capabilities name actions (Provide among them) but carry sizes, not data.
  if ((m.flags & kCaps) || !(m.flags & kProvide) || !(m.flags & kText)) return m;
  // Provide: a zlib stream of (u32 length, bytes) per format, lowest bit
  // first; text is bit 0, so it comes first. The NUL ends it.
  auto data = inflateAtMost(payload.substr(4), 4 + max_text + 1);
  if (!data.ok()) return data.status();
  if (data->size() < 4) return Status::Error("extended clipboard text without its length");
  const std::size_t len = std::min<std::size_t>(getU32(*data, 0), data->size() - 4);
  std::string_view text(data->data() + 4, len);
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  text = text.substr(0, utf8Cut(text, max_text));
  m.text = cleanUtf8(text);
  m.has_text = true;
  return m;
}

std::string capsMessage(std::uint32_t actions, std::uint32_t max_text) {
  std::string p;
  putU32(p, kCaps | (actions & kActions) | kText);
  putU32(p, max_text);  // one size per format announced: text only
  return withHeader(p);
}

std::string actionMessage(std::uint32_t flags) {
  std::string p;
  putU32(p, flags);
  return withHeader(p);
}

std::string provideMessage(std::string_view utf8) {
  // Text goes as CR LF with a closing NUL, as the protocol asks.
  std::string text;
  text.reserve(utf8.size() + 16);
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    if (utf8[i] == '\n' && (i == 0 || utf8[i - 1] != '\r')) text.push_back('\r');
    text.push_back(utf8[i]);
  }
  text.push_back('\0');
  std::string raw;
  putU32(raw, static_cast<std::uint32_t>(text.size()));
  raw += text;
  // Flushed, not finished, as TigerVNC writes it: libvncserver 0.9.14 takes
  // the end-of-stream status of a finished one for an error and disconnects.
  z_stream z{};
  if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) return {};
  std::string packed(compressBound(static_cast<uLong>(raw.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(raw.data());
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(packed.data());
  z.avail_out = static_cast<uInt>(packed.size());
  const int rc = deflate(&z, Z_SYNC_FLUSH);
  const bool whole = rc == Z_OK && z.avail_in == 0;
  packed.resize(packed.size() - z.avail_out);
  deflateEnd(&z);
  if (!whole) return {};
  std::string p;
  putU32(p, kProvide | kText);
  return withHeader(p + packed);
}

std::string latin1ToUtf8(std::string_view latin1) {
  std::string out;
  out.reserve(latin1.size());
  for (char ch : latin1) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string utf8ToLatin1(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size();) {
    const std::size_t n = sequenceLength(static_cast<unsigned char>(utf8[i]));
    const long cp = decodeAt(utf8, i, n);
    out.push_back(cp >= 0 && cp <= 0xFF ? static_cast<char>(cp) : '?');
    i += cp >= 0 ? n : 1;
  }
  return out;
}

std::string cleanUtf8(std::string_view text) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      continue;
    }
    const std::size_t n = sequenceLength(static_cast<unsigned char>(text[i]));
    if (decodeAt(text, i, n) < 0) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::size_t utf8Cut(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text.size();
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

}  // namespace vigil::gateway::vnc::extclip
