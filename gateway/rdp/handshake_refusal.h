// Why a client's RDP handshake ended before its logon, in words a user can
// act on, for the clients the gateway cannot serve (docs/compatibility.md).
// FreeRDP's server says only "client disconnected" in these cases. Pure
// functions (HandshakeFacts is gathered from the peer) and a thread-safe
// budget for the log lines.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
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

// Any client can provoke an explained refusal per connection: the listener
// logs `per_minute` of them a minute at info, the rest at debug, so a flood
// cannot flood the log. Thread-safe.
class ExplainBudget {
 public:
  explicit ExplainBudget(int per_minute = 20) : per_minute_(per_minute) {}
  // True while this minute's budget lasts.
  bool take(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_start_{};
  int used_ = 0;
  const int per_minute_;
};

}  // namespace vigil::gateway::rdp
