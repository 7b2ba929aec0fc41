// Input crossing the gateway, in one protocol-neutral form. Keys are X11
// keysyms: VNC sends them as they are; the RDP adapter maps scancodes through
// the client's keyboard layout and unicode input to 0x01000000 | codepoint.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "core/event.h"

namespace vigil {

struct KeyInput {
  std::uint32_t keysym = 0;
  bool down = false;
};

struct PointerInput {
  int x = 0, y = 0;
  // Bit 0 left, 1 middle, 2 right, 3 wheel up, 4 wheel down (the RFB mask).
  std::uint32_t buttons = 0;
};

struct ClipboardInput {
  std::string text;  // UTF-8
  Direction direction = Direction::ClientToServer;
};

using InputEvent = std::variant<KeyInput, PointerInput, ClipboardInput>;

}  // namespace vigil
