// The VNC side of the gateway: one VncListener per VNC target (a target with
// `vnc_listen`). Any VNC client connects to it and authenticates with a
// one-time access code as its VNC password (RFB security type 2 only); the
// gateway then opens a Session, connects to the target with the vaulted
// password and relays the desktop both ways. Accept, caps and deadlines are
// the shared front door's (gateway/listener.h). See docs/vnc.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/config.h"
#include "core/status.h"
#include "gateway/gatekeeper.h"
#include "gateway/listener.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::vnc {

struct VncOptions {
  // TCP connect to the target, and each read stall of the target mid-message.
  std::chrono::milliseconds target_timeout{10'000};
  // Clipboard text is cut to this many bytes in either direction.
  std::size_t max_clipboard_bytes = 1 << 20;
  // Client input waiting for the target, in bytes (cut text counts its
  // length): a client that queues more while the target does not read is
  // hostile or broken and is disconnected. Keystrokes are never dropped.
  std::size_t max_queued_input_bytes = 8 << 20;
  // The node's listeners whose handshake caps count together (vigil serve
  // passes one for all); null: this listener counts alone.
  std::shared_ptr<DoorGroup> door_group;
};

// Thread-safe. Owns the front door for one target; destroying it stops it.
class VncListener {
 public:
  // Binds target.vnc_listen (port 0 picks a free port) and starts accepting.
  // `config` (the front door's limits, the recordings disk), `gk` and `sm`
  // must outlive the listener; `target` is copied.
  static Result<std::unique_ptr<VncListener>> start(const Config& config, const TargetConfig& target,
                                                    Gatekeeper& gk, SessionManager& sm,
                                                    VncOptions opts = {});
  ~VncListener();
  VncListener(const VncListener&) = delete;
  VncListener& operator=(const VncListener&) = delete;

  // The bound port (the real one when vnc_listen asked for port 0).
  std::uint16_t port() const { return door_->port(); }
  // Closes the listening socket, closes every connection (sessions end with
  // "gateway shutting down") and waits for their threads. Idempotent; any
  // thread except a connection's own.
  void stop() { door_->stop(); }
  // Connections currently open (handshaking or relaying).
  std::size_t activeConnections() const { return static_cast<std::size_t>(door_->activeConnections()); }

 private:
  VncListener(const TargetConfig& target, VncOptions opts) : target_(target), opts_(opts) {}

  const TargetConfig target_;
  const VncOptions opts_;
  std::unique_ptr<Listener> door_;  // last: its connections use the fields above
};

}  // namespace vigil::gateway::vnc
