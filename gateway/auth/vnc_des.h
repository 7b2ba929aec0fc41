// RFB "VNC authentication" (RFC 6143 7.2.2): the client encrypts the
// server's 16-byte challenge with DES-ECB, keyed by the password's first
// 8 bytes (zero-padded) with each byte's bits reversed.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace vigil::gateway::auth {

using VncBlock = std::array<std::uint8_t, 16>;

// The response a client that knows `password` sends for `challenge`.
// Pure function, thread-safe.
VncBlock vncResponse(std::string_view password, const VncBlock& challenge);

}  // namespace vigil::gateway::auth
