// The target's RemoteFX messages, kept so a RemoteFX client can be sent them
// as they are instead of a re-encoding of the decoded screen. No FreeRDP
// types here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/frame.h"

namespace vigil::gateway::rdp {

// What a RemoteFX stream's header blocks announce (MS-RDPRFX 2.2.2.2). A
// decoder keeps them between messages, so a message from one encoder suits
// a decoder another encoder primed only when these match.
struct RfxHeader {
  std::uint16_t properties = 0;         // TS_RFX_CONTEXT: flags, transform, entropy
  std::uint16_t width = 0, height = 0;  // the (first) channel
  bool operator==(const RfxHeader&) const = default;
};

// The header a message starts with, if it carries the context and channel
// blocks (an encoder sends them first, then again only after a reset).
// Reads within `message` only; nullopt for none or malformed ones.
std::optional<RfxHeader> readRfxHeader(std::span<const std::uint8_t> message);

// One RemoteFX surface-bits message of the target, already decoded into the
// gateway's screen without error.
struct RfxMessage {
  Rect dest;         // the command's destination, within the screen
  RfxHeader header;  // what the target's stream announced for it
  std::vector<std::uint8_t> bytes;
};

// A paint whose changes came, wholly or partly, as RemoteFX messages.
struct RfxPaint {
  std::vector<RfxMessage> messages;  // in the order the target sent them
  DirtyRegion rest;                  // changes drawn otherwise (to encode)
};

}  // namespace vigil::gateway::rdp
