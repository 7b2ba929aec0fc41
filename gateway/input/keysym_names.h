// What X11 keysyms mean to the keystroke log: characters, modifiers,
// editing keys and the names of special keys. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::gateway::input {

enum class Modifier {
  None,      // not a modifier
  Shift,
  Ctrl,
  Alt,
  Win,       // Super, Hyper, Meta
  AltGr,     // ISO_Level3_Shift, Mode_switch: picks characters, not a chord
  CapsLock,  // toggles on press
  Lock,      // Num/Scroll/Shift lock and other ISO locks: ignored
};
Modifier modifierOf(std::uint32_t keysym);

// The character a keysym types: Latin-1, Latin-2, Cyrillic, Greek, the
// euro sign, keypad digits and operators, and Unicode keysyms
// (0x01000000 | codepoint). nullopt for controls and non-characters.
std::optional<char32_t> keysymToCodepoint(std::uint32_t keysym);

// UTF-8 of a valid code point (no surrogates, <= 0x10FFFF).
std::string toUtf8(char32_t cp);

// Lower-case ASCII and Latin-1 letters (a-z, à-þ except ÷) to upper case;
// anything else unchanged.
char32_t upperLatin1(char32_t cp);
bool isLowerLatin1Letter(char32_t cp);
bool isUpperLatin1Letter(char32_t cp);

enum class KeyRole {
  Enter,      // ends the line
  Backspace,  // edit: delete before the cursor
  Delete,     // edit: delete after the cursor
  Left, Right, Home, End,  // edit: move the cursor
  Token,      // a token inside the line: <Tab>, <Up>, <Ins>, ...
  EndToken,   // a token that also ends the line: <Esc>, <F5>
  Ignore,     // dead keys and the like: nothing is typed
};

struct SpecialKey {
  KeyRole role;
  std::string_view name;  // "Tab", "PgUp", "F5", "Del" (token and chord text)
};

// For keys that are neither modifiers nor characters. nullopt = unknown.
std::optional<SpecialKey> specialKey(std::uint32_t keysym);

}  // namespace vigil::gateway::input
