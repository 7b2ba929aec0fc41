#include "gateway/input/keysym_names.h"

#include <array>

namespace vigil::gateway::input {
namespace {

// ISO 8859-2 0xA0..0xFF; X11's Latin-2 keysyms are 0x1A0 | that byte.
constexpr std::u32string_view kLatin2 =
    U"\u00A0Ą˘Ł¤ĽŚ§¨ŠŞŤŹ\u00ADŽŻ°ą˛ł´ľśˇ¸šşťź˝žżŔÁÂĂÄĹĆÇČÉĘËĚÍÎĎĐŃŇÓÔŐÖ×ŘŮÚŰÜÝŢßŕáâăäĺćçčéęëěíîďđńňóôőö÷řůúűüýţ˙";
// X11 Cyrillic keysyms 0x6C0..0x6FF follow KOI8 order.
constexpr std::u32string_view kCyrillic =
    U"юабцдефгхийклмнопярстужвьызшэщчъЮАБЦДЕФГХИЙКЛМНОПЯРСТУЖВЬЫЗШЭЩЧЪ";

constexpr std::array<std::string_view, 35> kFunctionKeys = {
    "F1",  "F2",  "F3",  "F4",  "F5",  "F6",  "F7",  "F8",  "F9",  "F10", "F11", "F12",
    "F13", "F14", "F15", "F16", "F17", "F18", "F19", "F20", "F21", "F22", "F23", "F24",
    "F25", "F26", "F27", "F28", "F29", "F30", "F31", "F32", "F33", "F34", "F35"};

}  // namespace

Modifier modifierOf(std::uint32_t ks) {
  switch (ks) {
    case 0xffe1: case 0xffe2: return Modifier::Shift;         // Shift_L/R
    case 0xffe3: case 0xffe4: return Modifier::Ctrl;          // Control_L/R
    case 0xffe9: case 0xffea: return Modifier::Alt;           // Alt_L/R
    case 0xffe7: case 0xffe8:                                 // Meta_L/R
    case 0xffeb: case 0xffec:                                 // Super_L/R
    case 0xffed: case 0xffee: return Modifier::Win;           // Hyper_L/R
    case 0xfe03: case 0xff7e: case 0xfe11: return Modifier::AltGr;  // Level3/5, Mode_switch
    case 0xffe5: return Modifier::CapsLock;
    case 0xffe6: case 0xff7f: case 0xff14: return Modifier::Lock;   // Shift/Num/Scroll lock
    default: break;
  }
  // Other ISO group and lock keys (ISO_Lock .. ISO_Last_Group_Lock).
  if (ks >= 0xfe01 && ks <= 0xfe0f) return Modifier::Lock;
  return Modifier::None;
}

std::optional<char32_t> keysymToCodepoint(std::uint32_t ks) {
  if ((ks >= 0x20 && ks <= 0x7e) || (ks >= 0xa0 && ks <= 0xff)) return ks;
  if ((ks & 0xff000000u) == 0x01000000u) {
    const char32_t cp = ks & 0x00ffffffu;
    if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp > 0x10ffff || (cp & 0xfffe) == 0xfffe)
      return std::nullopt;
    return cp;
  }
  if (ks >= 0x1a1 && ks <= 0x1ff) return kLatin2[ks - 0x1a0];
  if (ks == 0x6a3) return U'ё';
  if (ks == 0x6b3) return U'Ё';
  if (ks >= 0x6c0 && ks <= 0x6ff) return kCyrillic[ks - 0x6c0];
  if (ks >= 0x7c1 && ks <= 0x7d1) return 0x391 + (ks - 0x7c1);  // Alpha..Rho
  if (ks >= 0x7d2 && ks <= 0x7d9 && ks != 0x7d3) return 0x3a3 + (ks - 0x7d2) - (ks > 0x7d3);
  if (ks >= 0x7e1 && ks <= 0x7f1) return 0x3b1 + (ks - 0x7e1);  // alpha..rho
  if (ks == 0x7f2) return 0x3c3;                                // sigma
  if (ks == 0x7f3) return 0x3c2;                                // final sigma
  if (ks >= 0x7f4 && ks <= 0x7f9) return 0x3c4 + (ks - 0x7f4);  // tau..omega
  if (ks == 0x20ac) return 0x20ac;                              // EuroSign
  // The keypad as the client resolved it (NumLock on).
  if (ks >= 0xffb0 && ks <= 0xffb9) return U'0' + (ks - 0xffb0);
  switch (ks) {
    case 0xff80: return U' ';  // KP_Space
    case 0xffaa: return U'*';
    case 0xffab: return U'+';
    case 0xffac: return U',';  // KP_Separator
    case 0xffad: return U'-';
    case 0xffae: return U'.';  // KP_Decimal
    case 0xffaf: return U'/';
    case 0xffbd: return U'=';
    default: return std::nullopt;
  }
}

std::string toUtf8(char32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
  return out;
}

bool isLowerLatin1Letter(char32_t cp) {
  return (cp >= U'a' && cp <= U'z') || (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7);
}

bool isUpperLatin1Letter(char32_t cp) {
  return (cp >= U'A' && cp <= U'Z') || (cp >= 0xc0 && cp <= 0xde && cp != 0xd7);
}

char32_t upperLatin1(char32_t cp) { return isLowerLatin1Letter(cp) ? cp - 0x20 : cp; }

std::optional<SpecialKey> specialKey(std::uint32_t ks) {
  if (ks >= 0xffbe && ks <= 0xffe0) return SpecialKey{KeyRole::EndToken, kFunctionKeys[ks - 0xffbe]};
  if (ks >= 0xfe50 && ks <= 0xfe93) return SpecialKey{KeyRole::Ignore, "Dead"};  // dead keys
  switch (ks) {
    case 0xff0d: case 0xff8d: return SpecialKey{KeyRole::Enter, "Enter"};  // Return, KP_Enter
    case 0xff08: return SpecialKey{KeyRole::Backspace, "Backspace"};
    case 0xffff: case 0xff9f: return SpecialKey{KeyRole::Delete, "Del"};
    case 0xff51: case 0xff96: return SpecialKey{KeyRole::Left, "Left"};
    case 0xff53: case 0xff98: return SpecialKey{KeyRole::Right, "Right"};
    case 0xff50: case 0xff95: return SpecialKey{KeyRole::Home, "Home"};
    case 0xff57: case 0xff9c: return SpecialKey{KeyRole::End, "End"};
    case 0xff09: case 0xff89: case 0xfe20: return SpecialKey{KeyRole::Token, "Tab"};  // +ISO_Left_Tab
    case 0xff52: case 0xff97: return SpecialKey{KeyRole::Token, "Up"};
    case 0xff54: case 0xff99: return SpecialKey{KeyRole::Token, "Down"};
    case 0xff55: case 0xff9a: return SpecialKey{KeyRole::Token, "PgUp"};
    case 0xff56: case 0xff9b: return SpecialKey{KeyRole::Token, "PgDn"};
    case 0xff63: case 0xff9e: return SpecialKey{KeyRole::Token, "Ins"};
    case 0xff61: return SpecialKey{KeyRole::Token, "PrtSc"};
    case 0xff15: return SpecialKey{KeyRole::Token, "SysRq"};
    case 0xff13: return SpecialKey{KeyRole::Token, "Pause"};
    case 0xff6b: return SpecialKey{KeyRole::Token, "Break"};
    case 0xff67: return SpecialKey{KeyRole::Token, "Menu"};
    case 0xff1b: return SpecialKey{KeyRole::EndToken, "Esc"};
    case 0xff9d: return SpecialKey{KeyRole::Ignore, "Begin"};  // KP_Begin (keypad 5, NumLock off)
    default: return std::nullopt;
  }
}

}  // namespace vigil::gateway::input
