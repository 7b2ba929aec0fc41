// Why a client's RDP handshake ended before its logon, in words a user can
// act on, for the clients the gateway cannot serve (docs/compatibility.md).
// FreeRDP's server says only "client disconnected" in these cases. Pure
// functions (HandshakeFacts is gathered from the peer): thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace vigil::gateway::rdp {

struct HandshakeFacts {
  std::uint32_t requested_protocols = 0;  // RDP_NEG_REQ: 1 TLS, 2 CredSSP (NLA), 8 CredSSP EX
  std::uint32_t selected_protocol = 0;    // what the gateway answered (1: TLS)
  bool negotiated = false;                // the gateway sent its negotiation response
  bool mcs_connected = false;             // Connect Initial accepted, Erect Domain Request next
  std::uint32_t client_data_segments = 0; // TCP segments with data the client sent (0: unknown)
  std::string client_name;                // Client Core Data clientName, as the client sent it
  std::uint32_t client_build = 0;         // Client Core Data clientBuild
};

// The refusal explained, or "" when the end is not one of the known cases.
std::string explainHandshakeEnd(const HandshakeFacts& f);

// `name` with anything but printable ASCII replaced and cut to 32 characters
// (it comes off the network and goes into the log).
std::string printableClientName(const std::string& name);

// TCP segments with data received on `fd` so far (Linux TCP_INFO), 0 when
// the kernel cannot say.
std::uint32_t dataSegmentsReceived(int fd);

}  // namespace vigil::gateway::rdp
