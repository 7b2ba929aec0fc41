// RDP keyboard input → X11 keysyms, so the protocol-neutral keystroke line
// assembler sees the same keys from RDP as from VNC. RDP sends PC (set 1)
// scancodes; what they mean depends on the keyboard layout the client
// announced (or the target's override), and on the modifier and lock state,
// which this class tracks. Not thread-safe: one instance per client leg,
// used on that leg's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::gateway::rdp {

// Windows keyboard layout ids (low 16 bits: the language id).
enum class KeyboardLayout { Us, Gb, De };

// The layout for a Windows layout id as the client announces it (0x0409,
// 0x00000407, ...). Unknown ids map to US.
KeyboardLayout layoutFromId(std::uint32_t layout_id);
// "us", "gb"/"uk", "de", or a hex id ("0x407", "00000407"); nullopt if unknown.
std::optional<KeyboardLayout> layoutFromName(std::string_view name);
std::string_view toString(KeyboardLayout l);

// The keysym X11 uses for a Unicode code point (Latin-1 direct, the rest
// 0x01000000 | cp); 0 for control characters and lone surrogates.
std::uint32_t keysymForCodepoint(std::uint32_t cp);

class KeyMapper {
 public:
  explicit KeyMapper(KeyboardLayout layout = KeyboardLayout::Us) : layout_(layout) {}

  KeyboardLayout layout() const { return layout_; }
  void setLayout(KeyboardLayout l) { layout_ = l; }

  // A scancode event (`extended`: the E0 prefix). Returns the keysym the key
  // produces now, or nullopt for unknown scancodes. A release returns the
  // keysym its press returned, so a key's down and up always match.
  std::optional<std::uint32_t> key(std::uint8_t scancode, bool extended, bool down);

  // Toggle state from the client's Synchronize event.
  void setLocks(bool caps_lock, bool num_lock) {
    caps_lock_ = caps_lock;
    num_lock_ = num_lock;
  }

 private:
  std::uint32_t lookup(std::uint8_t scancode, bool extended) const;

  KeyboardLayout layout_;
  bool shift_l_ = false, shift_r_ = false, altgr_ = false, ctrl_ = false, alt_ = false;
  bool caps_lock_ = false, num_lock_ = false;
  std::uint32_t pressed_[2][128] = {};  // [extended][scancode] → keysym of the press
};

}  // namespace vigil::gateway::rdp
