// An RDP client for end-to-end tests and the RDP bench: the gateway's own
// FreeRDP-library RdpClient, connected and reading on its event thread,
// counting screen updates (one per EndPaint with damage); snapshot() copies
// the screen the client's GDI draws into. Types text as US-layout scancodes, like a
// person on a US keyboard.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/frame.h"
#include "core/status.h"
#include "gateway/rdp/rdp_client.h"

namespace vigil::integration {

class RdpTestClient final : public gateway::rdp::RdpClientObserver {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string username;  // "USER#TARGET" through the gateway
    std::string password;
    int width = 1280, height = 800;
    bool gfx = false;         // the gateway offers no GFX to clients; keep both paths alike
    bool remotefx = true;
    int connect_timeout_ms = 30000;
    // Called after each paint on the client's event thread, with the screen
    // as the client now shows it (for benches that read what was reached).
    std::function<void(const Frame& screen, const DirtyRegion& changed)> on_paint;
  };

  // Connects (blocking: TLS, logon, activation) and starts reading. Fails
  // with FreeRDP's reason when the server refuses or drops the logon.
  static Result<std::unique_ptr<RdpTestClient>> connect(const Options& opts);
  ~RdpTestClient() override;  // disconnect()
  RdpTestClient(const RdpTestClient&) = delete;
  RdpTestClient& operator=(const RdpTestClient&) = delete;

  // Presses and releases each character as US scancodes ('\n' is Enter);
  // `per_key` between characters. Printable ASCII only; false on others or
  // when the connection is gone. Any thread.
  bool typeText(const std::string& text, std::chrono::milliseconds per_key = std::chrono::milliseconds(15));

  // Thread-safe reads.
  Frame snapshot() const;
  std::uint64_t updates() const { return updates_.load(); }
  std::uint64_t updatedPixels() const { return pixels_.load(); }
  bool disconnected() const { return disconnected_.load(); }
  int width() const { return client_->width(); }
  int height() const { return client_->height(); }

  // Ends the connection and joins the reader (idempotent; main thread).
  void disconnect();
  gateway::rdp::RdpClient& raw() { return *client_; }

  // RdpClientObserver (the client's event thread).
  void onPaint(const Frame& screen, const DirtyRegion& changed) override;
  void onDisconnected(const std::string& reason) override;

 private:
  explicit RdpTestClient(const Options& opts);
  std::function<void(const Frame&, const DirtyRegion&)> on_paint_;
  std::unique_ptr<gateway::rdp::RdpClient> client_;
  std::atomic<std::uint64_t> updates_{0}, pixels_{0};
  std::atomic<bool> disconnected_{false};
};

// The US-layout scancode of a printable ASCII character, and whether Shift is
// needed. False for characters a US keyboard has no key for.
bool usScancode(char c, std::uint8_t* scancode, bool* shift);

}  // namespace vigil::integration
