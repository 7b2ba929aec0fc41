// The RDP listener: native RDP clients (mstsc, xfreerdp, Remmina) connect
// here with username "USER#TARGET" and USER's password or a one-time access
// code (CONTRACT.md "Connecting through the gateway"). Accept, caps and
// handshake deadlines are the shared front door's (gateway/listener.h); each
// connection runs on its own thread: TLS handshake (no NLA towards the
// client, so the credentials arrive in the Client Info PDU) → admission,
// session and target through the shared ConnectionCore → relay, feeding the
// Session pipeline. No FreeRDP types here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "gateway/gatekeeper.h"
#include "gateway/listener.h"
#include "gateway/rdp/tls_files.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::rdp {

struct RdpOptions {
  int target_connect_timeout_ms = 15000;
  // A TLS-only target must confirm the logon within this (RdpClientOptions::
  // logon_timeout_ms); NLA targets confirm during the connect.
  int target_logon_timeout_ms = 20000;
  bool target_gfx = false;             // offer the graphics pipeline (GFX/AVC) to targets
  // Offer the graphics pipeline to clients: AVC420 to those that take it.
  bool client_gfx = true;
  // Send RemoteFX clients the target's RemoteFX messages as they came.
  bool pass_remotefx = true;
  bool clipboard = true;               // relay and record clipboard text (cliprdr)
  int max_width = 4096, max_height = 2160;  // bigger client requests are clamped
  // The node's listeners whose handshake caps count together; null: alone.
  std::shared_ptr<DoorGroup> door_group;
};

class RdpListener {
 public:
  // Binds `listen` (port 0 picks a free port: see port()) and starts
  // accepting. `gk`, `sm` and `cfg` (the front door's limits, the recordings
  // disk, state_dir) must outlive the listener. Fails with a message naming
  // the address or TLS file at fault.
  static Result<std::unique_ptr<RdpListener>> start(const HostPort& listen, const TlsFiles& tls,
                                                    const Config& cfg, Gatekeeper& gk,
                                                    SessionManager& sm, RdpOptions opts = {});
  ~RdpListener();  // stop()
  RdpListener(const RdpListener&) = delete;
  RdpListener& operator=(const RdpListener&) = delete;

  std::uint16_t port() const;
  // Live connections (handshaking or relaying). Thread-safe.
  int activeConnections() const;
  // Stops accepting, closes every connection (each Session is finished with
  // reason "gateway shutting down") and joins all threads. Idempotent; any
  // thread except a connection's own.
  void stop();

  struct Impl;

 private:
  explicit RdpListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "USER#TARGET" (also "DOMAIN\USER#TARGET", the domain ignored, and
// an empty or non-empty separate domain field). nullopt if malformed.
struct RdpLogin {
  std::string user, target;
};
std::optional<RdpLogin> parseRdpUsername(const std::string& username);

}  // namespace vigil::gateway::rdp
