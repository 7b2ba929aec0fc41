// The RFB Extended Clipboard (pseudo-encoding 0xC0A1E5CE): UTF-8 text in
// cut-text messages whose length field is negative. libvncclient 0.9.14 has
// no support for it (it drops the connection on such a message), so the
// relay's target leg reads and writes these messages itself with the
// functions here. Pure functions: no sockets, bounded by the caller's limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil::gateway::vnc::extclip {

inline constexpr std::uint32_t kPseudoEncoding = 0xC0A1E5CEu;
// Formats (low 16 bits) and actions (high byte), as in the protocol.
inline constexpr std::uint32_t kText = 1u;
inline constexpr std::uint32_t kCaps = 1u << 24, kRequest = 1u << 25, kPeek = 1u << 26,
                               kNotify = 1u << 27, kProvide = 1u << 28;
inline constexpr std::uint32_t kActions = kRequest | kPeek | kNotify | kProvide;

struct Message {
  std::uint32_t flags = 0;
  std::string text;  // Provide with text: UTF-8 (invalid bytes as '?'), LF line ends
  bool has_text = false;
};

// Parses an extended message's payload (the abs(length) bytes after the
// 8-byte header). Provide text longer than `max_text` bytes is cut there.
Result<Message> parse(std::string_view payload, std::size_t max_text);

// Whole ClientCutText messages, header included, ready to write.
std::string capsMessage(std::uint32_t actions, std::uint32_t max_text);
std::string actionMessage(std::uint32_t flags);  // Request, Peek or Notify (+ formats)
std::string provideMessage(std::string_view utf8);

// Text helpers shared with the classic (Latin-1) path.
std::string latin1ToUtf8(std::string_view latin1);
// Code points above U+00FF become '?' (a Latin-1-only peer cannot hold them).
std::string utf8ToLatin1(std::string_view utf8);
// Valid UTF-8 with CR LF as LF and no trailing NULs; invalid bytes become '?'.
std::string cleanUtf8(std::string_view text);
// The longest prefix of at most `max` bytes that does not split a character.
std::size_t utf8Cut(std::string_view text, std::size_t max);

}  // namespace vigil::gateway::vnc::extclip
