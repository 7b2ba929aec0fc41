// The VNC side of the gateway: one VncListener per VNC target (a target with
// `vnc_listen`). Any VNC client connects to it and authenticates with a
// one-time access code as its VNC password (RFB security type 2 only); the
// gateway then opens a Session, connects to the target with the vaulted
// password and relays the desktop both ways. See docs/vnc.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "gateway/gatekeeper.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::vnc {

class VncRelay;

struct VncOptions {
  // Connections past this are accepted and closed at once.
  std::size_t max_connections = 64;
  // A client must get from TCP accept to the RFB normal phase within this
  // (time spent in the Gatekeeper and connecting the target is not counted).
  std::chrono::milliseconds handshake_timeout{10'000};
  // TCP connect to the target, and each read stall of the target mid-message.
  std::chrono::milliseconds target_timeout{10'000};
  // Clipboard text is cut to this many bytes in either direction.
  std::size_t max_clipboard_bytes = 1 << 20;
  // A target announcing a larger desktop is disconnected.
  int max_width = 8192;
  int max_height = 8192;
};

// Thread-safe. Owns the listening socket, an accept thread and every
// connection's threads; destroying it stops it.
class VncListener {
 public:
  // Binds target.vnc_listen (port 0 picks a free port) and starts accepting.
  // `gk` and `sm` must outlive the listener; `target` is copied.
  static Result<std::unique_ptr<VncListener>> start(const TargetConfig& target, Gatekeeper& gk,
                                                    SessionManager& sm, VncOptions opts = {});
  ~VncListener();
  VncListener(const VncListener&) = delete;
  VncListener& operator=(const VncListener&) = delete;

  // The bound port (the real one when vnc_listen asked for port 0).
  std::uint16_t port() const { return port_; }
  // Closes the listening socket, closes every connection (sessions end with
  // "gateway shutting down") and waits for their threads. Idempotent; any
  // thread except a connection's own.
  void stop();
  // Connections currently open (handshaking or relaying).
  std::size_t activeConnections() const;

 private:
  VncListener(TargetConfig target, Gatekeeper& gk, SessionManager& sm, VncOptions opts);
  void acceptLoop();
  void reapFinished();

  const TargetConfig target_;
  Gatekeeper& gk_;
  SessionManager& sm_;
  const VncOptions opts_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the accept loop for stop()
  std::uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex stop_mutex_;  // serializes stop()
  bool stopped_ = false;

  mutable std::mutex relays_mutex_;  // guards relays_
  std::vector<std::unique_ptr<VncRelay>> relays_;
};

}  // namespace vigil::gateway::vnc
