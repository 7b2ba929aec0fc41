// An RDP client (FreeRDP 2 with its software GDI): the gateway's leg towards
// the target, and the in-process client the tests drive through the gateway.
// It decodes whatever the server sends (bitmaps, planar, interleaved,
// RemoteFX, NSCodec, GFX incl. AVC420/444 when FreeRDP decodes it) into a
// BGRX framebuffer and reports changed rectangles. No FreeRDP types here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/event.h"
#include "core/frame.h"
#include "core/status.h"

namespace vigil::gateway::rdp {

struct RdpClientOptions {
  std::string host;
  std::uint16_t port = 3389;
  std::string username;  // may be secret-bearing (vaulted): never logged
  std::string password;  // never logged
  std::string domain;
  int width = 1280, height = 800;
  std::uint32_t keyboard_layout = 0x0409;
  bool gfx = true;        // offer the graphics pipeline (rdpgfx) to the server
  bool remotefx = true;   // offer RemoteFX surface bits
  int color_depth = 32;   // 32 (planar bitmaps), 24/16/15 (interleaved)
  bool clipboard = true;  // join the cliprdr channel (text only)
  int connect_timeout_ms = 15000;
};

// Called on the client's event thread (and, during connect(), on the
// connecting thread). Must not block for long: the thread also reads the
// socket. `pixels`/`stride` point into the client's framebuffer and are valid
// only during the call.
class RdpClientObserver {
 public:
  virtual ~RdpClientObserver() = default;
  virtual void onPaint(const std::uint8_t* pixels, int stride, int width, int height,
                       const DirtyRegion& changed) = 0;
  virtual void onResize(int width, int height) { (void)width; (void)height; }
  // Text the server put on its clipboard (UTF-8, already bounded).
  virtual void onClipboardText(const std::string& text) { (void)text; }
  // The server's pointer shape (BGRA 32bpp, premultiplied not assumed).
  virtual void onPointer(int hot_x, int hot_y, int width, int height,
                         const std::uint8_t* bgra) {
    (void)hot_x; (void)hot_y; (void)width; (void)height; (void)bgra;
  }
  // The connection ended (server disconnect, network error, stop()).
  virtual void onDisconnected(const std::string& reason) { (void)reason; }
};

class RdpClient {
 public:
  // The observer must outlive the client.
  RdpClient(RdpClientOptions opts, RdpClientObserver* observer);
  ~RdpClient();  // stops the event thread, disconnects
  RdpClient(const RdpClient&) = delete;
  RdpClient& operator=(const RdpClient&) = delete;

  // Connects and completes the RDP handshake (blocking, up to the timeout or
  // requestStop()). Failures come back as a message fit for a log line (no
  // credentials in it). Call once.
  Status connect();
  // Starts the event thread that reads the server and calls the observer.
  void start();
  // Ends the connection and joins the event thread (idempotent; not from the
  // observer's thread).
  void stop();
  // Asks the connection to end without waiting (any thread; also aborts a
  // connect() in progress).
  void requestStop();
  bool running() const;

  int width() const;
  int height() const;
  // SHA-256 fingerprint of the server's TLS certificate ("" if none seen).
  std::string serverFingerprint() const;

  // --- input, any thread; never waits for the screen path ---
  // Raw RDP flags (KBD_FLAGS_*, PTR_FLAGS_*, PTR_XFLAGS_*), passed through.
  bool sendKey(std::uint16_t flags, std::uint16_t scancode);
  bool sendUnicode(std::uint16_t flags, std::uint16_t code);
  bool sendMouse(std::uint16_t flags, int x, int y);
  bool sendExtendedMouse(std::uint16_t flags, int x, int y);
  bool sendSynchronize(std::uint32_t toggle_flags);
  // Convenience for tests: press and release one key (scancode, E0 prefix).
  bool tapKey(std::uint8_t scancode, bool extended = false);
  // Offers `text` on the clipboard to the server (UTF-8).
  bool setClipboardText(const std::string& text);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::gateway::rdp
