#include "gateway/rdp/keymap.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace vigil::gateway::rdp {
namespace {

// One printable key: what it types plain, with Shift, with AltGr (0 = none).
struct CharKey {
  std::uint8_t scancode;
  std::uint32_t plain, shift, altgr;
};

// US layout: the base every other layout overrides.
constexpr CharKey kUs[] = {
    {0x02, '1', '!', 0}, {0x03, '2', '@', 0},   {0x04, '3', '#', 0},  {0x05, '4', '$', 0},
    {0x06, '5', '%', 0}, {0x07, '6', '^', 0},   {0x08, '7', '&', 0},  {0x09, '8', '*', 0},
    {0x0A, '9', '(', 0}, {0x0B, '0', ')', 0},   {0x0C, '-', '_', 0},  {0x0D, '=', '+', 0},
    {0x10, 'q', 'Q', 0}, {0x11, 'w', 'W', 0},   {0x12, 'e', 'E', 0},  {0x13, 'r', 'R', 0},
    {0x14, 't', 'T', 0}, {0x15, 'y', 'Y', 0},   {0x16, 'u', 'U', 0},  {0x17, 'i', 'I', 0},
    {0x18, 'o', 'O', 0}, {0x19, 'p', 'P', 0},   {0x1A, '[', '{', 0},  {0x1B, ']', '}', 0},
    {0x1E, 'a', 'A', 0}, {0x1F, 's', 'S', 0},   {0x20, 'd', 'D', 0},  {0x21, 'f', 'F', 0},
    {0x22, 'g', 'G', 0}, {0x23, 'h', 'H', 0},   {0x24, 'j', 'J', 0},  {0x25, 'k', 'K', 0},
    {0x26, 'l', 'L', 0}, {0x27, ';', ':', 0},   {0x28, '\'', '"', 0}, {0x29, '`', '~', 0},
    {0x2B, '\\', '|', 0}, {0x2C, 'z', 'Z', 0},  {0x2D, 'x', 'X', 0},  {0x2E, 'c', 'C', 0},
    {0x2F, 'v', 'V', 0}, {0x30, 'b', 'B', 0},   {0x31, 'n', 'N', 0},  {0x32, 'm', 'M', 0},
    {0x33, ',', '<', 0}, {0x34, '.', '>', 0},   {0x35, '/', '?', 0},  {0x39, ' ', ' ', 0},
    {0x56, '\\', '|', 0},
};

constexpr CharKey kGb[] = {
    {0x03, '2', '"', 0},  {0x04, '3', 0xa3 /* sterling */, 0}, {0x28, '\'', '@', 0},
    {0x29, '`', 0xac /* notsign */, 0}, {0x2B, '#', '~', 0},   {0x56, '\\', '|', 0},
};

constexpr CharKey kDe[] = {
    {0x03, '2', '"', 0xb2},   {0x04, '3', 0xa7, 0xb3},  {0x07, '6', '&', 0},
    {0x08, '7', '/', '{'},    {0x09, '8', '(', '['},    {0x0A, '9', ')', ']'},
    {0x0B, '0', '=', '}'},    {0x0C, 0xdf, '?', '\\'},  {0x0D, 0xfe51, 0xfe50, 0},
    {0x10, 'q', 'Q', '@'},    {0x12, 'e', 'E', 0x20ac}, {0x15, 'z', 'Z', 0},
    {0x1A, 0xfc, 0xdc, 0},    {0x1B, '+', '*', '~'},    {0x27, 0xf6, 0xd6, 0},
    {0x28, 0xe4, 0xc4, 0},    {0x29, 0xfe52, 0xb0, 0},  {0x2B, '#', '\'', 0},
    {0x2C, 'y', 'Y', 0},      {0x32, 'm', 'M', 0xb5},   {0x33, ',', ';', 0},
    {0x34, '.', ':', 0},      {0x35, '-', '_', 0},      {0x56, '<', '>', '|'},
};

// Keys whose meaning does not depend on the layout. [scancode] → keysym.
std::uint32_t fixedKey(std::uint8_t sc, bool ext, bool num_lock) {
  if (ext) {
    switch (sc) {
      case 0x1C: return 0xff8d;  // KP_Enter
      case 0x1D: return 0xffe4;  // Control_R
      case 0x35: return 0xffaf;  // KP_Divide
      case 0x37: return 0xff61;  // Print
      case 0x38: return 0xffea;  // Alt_R (AltGr decided by the caller)
      case 0x46: return 0xff13;  // Pause (Ctrl+Break)
      case 0x47: return 0xff50;  // Home
      case 0x48: return 0xff52;  // Up
      case 0x49: return 0xff55;  // Prior
      case 0x4B: return 0xff51;  // Left
      case 0x4D: return 0xff53;  // Right
      case 0x4F: return 0xff57;  // End
      case 0x50: return 0xff54;  // Down
      case 0x51: return 0xff56;  // Next
      case 0x52: return 0xff63;  // Insert
      case 0x53: return 0xffff;  // Delete
      case 0x5B: return 0xffeb;  // Super_L
      case 0x5C: return 0xffec;  // Super_R
      case 0x5D: return 0xff67;  // Menu
      default: return 0;
    }
  }
  switch (sc) {
    case 0x01: return 0xff1b;  // Escape
    case 0x0E: return 0xff08;  // BackSpace
    case 0x0F: return 0xff09;  // Tab
    case 0x1C: return 0xff0d;  // Return
    case 0x1D: return 0xffe3;  // Control_L
    case 0x2A: return 0xffe1;  // Shift_L
    case 0x36: return 0xffe2;  // Shift_R
    case 0x37: return 0xffaa;  // KP_Multiply
    case 0x38: return 0xffe9;  // Alt_L
    case 0x3A: return 0xffe5;  // Caps_Lock
    case 0x45: return 0xff7f;  // Num_Lock
    case 0x46: return 0xff14;  // Scroll_Lock
    case 0x4A: return 0xffad;  // KP_Subtract
    case 0x4E: return 0xffab;  // KP_Add
    case 0x57: return 0xffc8;  // F11
    case 0x58: return 0xffc9;  // F12
    default: break;
  }
  if (sc >= 0x3B && sc <= 0x44) return 0xffbe + (sc - 0x3B);  // F1..F10
  // Keypad: digits with Num Lock, navigation without.
  struct Pad { std::uint8_t sc; std::uint32_t num, nav; };
  static constexpr Pad kPad[] = {
      {0x47, 0xffb7, 0xff95}, {0x48, 0xffb8, 0xff97}, {0x49, 0xffb9, 0xff9a},
      {0x4B, 0xffb4, 0xff96}, {0x4C, 0xffb5, 0xff9d}, {0x4D, 0xffb6, 0xff98},
      {0x4F, 0xffb1, 0xff9c}, {0x50, 0xffb2, 0xff99}, {0x51, 0xffb3, 0xff9b},
      {0x52, 0xffb0, 0xff9e}, {0x53, 0xffae, 0xff9f},
  };
  for (const Pad& p : kPad) {
    if (p.sc == sc) return num_lock ? p.num : p.nav;
  }
  return 0;
}

template <std::size_t N>
const CharKey* find(const CharKey (&table)[N], std::uint8_t sc) {
  for (const CharKey& k : table) {
    if (k.scancode == sc) return &k;
  }
  return nullptr;
}

const CharKey* charKey(KeyboardLayout l, std::uint8_t sc) {
  const CharKey* k = nullptr;
  if (l == KeyboardLayout::Gb) k = find(kGb, sc);
  if (l == KeyboardLayout::De) k = find(kDe, sc);
  return k ? k : find(kUs, sc);
}

// Caps Lock only shifts letters.
bool isLetter(std::uint32_t ks) {
  return (ks >= 'a' && ks <= 'z') || (ks >= 'A' && ks <= 'Z') ||
         (ks >= 0xc0 && ks <= 0xfe && ks != 0xd7 && ks != 0xf7 && ks != 0xdf);
}

bool layoutHasAltGr(KeyboardLayout l) { return l == KeyboardLayout::De; }

}  // namespace

KeyboardLayout layoutFromId(std::uint32_t id) {
  switch (id & 0xffff) {
    case 0x0809: case 0x1809: return KeyboardLayout::Gb;
    case 0x0407: case 0x0807: case 0x0c07: case 0x1007: case 0x1407: return KeyboardLayout::De;
    default: return KeyboardLayout::Us;
  }
}

std::optional<KeyboardLayout> layoutFromName(std::string_view name) {
  std::string n(name);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  if (n == "us" || n == "en-us") return KeyboardLayout::Us;
  if (n == "gb" || n == "uk" || n == "en-gb") return KeyboardLayout::Gb;
  if (n == "de" || n == "de-de") return KeyboardLayout::De;
  std::string_view hex = n;
  if (hex.starts_with("0x")) hex.remove_prefix(2);
  std::uint32_t id = 0;
  auto [end, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), id, 16);
  if (hex.empty() || ec != std::errc() || end != hex.data() + hex.size()) return std::nullopt;
  switch (id & 0xffff) {
    case 0x0409: case 0x0809: case 0x1809: case 0x0407: case 0x0807: case 0x0c07:
    case 0x1007: case 0x1407:
      return layoutFromId(id);
    default:
      return std::nullopt;
  }
}

std::string_view toString(KeyboardLayout l) {
  switch (l) {
    case KeyboardLayout::Us: return "us";
    case KeyboardLayout::Gb: return "gb";
    case KeyboardLayout::De: return "de";
  }
  return "us";
}

std::uint32_t keysymForCodepoint(std::uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
    // Control characters typed as unicode: map the ones that edit a line.
    if (cp == 0x0d || cp == 0x0a) return 0xff0d;
    if (cp == 0x08) return 0xff08;
    if (cp == 0x09) return 0xff09;
    if (cp == 0x1b) return 0xff1b;
    return 0;
  }
  if (cp >= 0xd800 && cp <= 0xdfff) return 0;
  if (cp > 0x10ffff) return 0;
  if (cp <= 0xff) return cp;
  return 0x01000000u | cp;
}

std::uint32_t KeyMapper::lookup(std::uint8_t sc, bool ext) const {
  if (ext && sc == 0x38 && layoutHasAltGr(layout_)) return 0xfe03;  // ISO_Level3_Shift
  if (std::uint32_t ks = fixedKey(sc, ext, num_lock_)) return ks;
  if (ext) return 0;
  const CharKey* k = charKey(layout_, sc);
  if (!k) return 0;
  // Windows treats Ctrl+Alt as AltGr on layouts that have one.
  const bool altgr = layoutHasAltGr(layout_) && (altgr_ || (ctrl_ && alt_));
  if (altgr && k->altgr) return k->altgr;
  bool shifted = shift_l_ || shift_r_;
  if (caps_lock_ && isLetter(k->plain)) shifted = !shifted;
  return shifted ? k->shift : k->plain;
}

std::optional<std::uint32_t> KeyMapper::key(std::uint8_t scancode, bool extended, bool down) {
  if (scancode >= 128) return std::nullopt;
  std::uint32_t& slot = pressed_[extended ? 1 : 0][scancode];
  std::uint32_t ks = 0;
  if (down) {
    ks = lookup(scancode, extended);
    if (ks == 0) return std::nullopt;
    slot = ks;
  } else {
    ks = slot ? slot : lookup(scancode, extended);
    slot = 0;
    if (ks == 0) return std::nullopt;
  }
  switch (ks) {
    case 0xffe1: shift_l_ = down; break;
    case 0xffe2: shift_r_ = down; break;
    case 0xffe3: case 0xffe4: ctrl_ = down; break;
    case 0xffe9: case 0xffea: alt_ = down; break;
    case 0xfe03: altgr_ = down; break;
    case 0xffe5: if (down) caps_lock_ = !caps_lock_; break;
    case 0xff7f: if (down) num_lock_ = !num_lock_; break;
    default: break;
  }
  return ks;
}

}  // namespace vigil::gateway::rdp
