// An RDP client (FreeRDP 2 with its software GDI): the gateway's leg towards
// the target, and the in-process client the tests drive through the gateway.
// It decodes whatever the server sends (bitmaps, planar, interleaved,
// RemoteFX, NSCodec, GFX incl. AVC420/444 when FreeRDP decodes it) into a
// BGRX framebuffer and reports changed rectangles. No FreeRDP types here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/frame.h"
#include "core/status.h"
#include "gateway/rdp/monitor_layout.h"
#include "gateway/rdp/rfx_stream.h"

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
  // Keep the server's RemoteFX messages for the observer (onPaintRfx), so it
  // can send them on as they are. Costs a copy of each message.
  bool keep_remotefx = false;
  int color_depth = 32;   // 32 (planar bitmaps), 24/16/15 (interleaved)
  bool clipboard = true;  // join the cliprdr channel (text only)
  // Load the Display Control channel (disp): a target that offers it says
  // so through RdpClientObserver::onDisplayControl, and then takes layouts
  // (sendMonitorLayout).
  bool display_control = true;
  // Pointer shapes: slots announced in the Pointer Capability Set (0: the
  // server may only send system pointers; at most kMaxPointerCacheSize), and
  // whether shapes above 32x32 (up to 96x96, and Large Pointer Updates up to
  // 384x384) are accepted.
  int pointer_cache_size = 25;
  bool large_pointers = true;
  int connect_timeout_ms = 15000;
  // The target's name in messages ("target dc01 ..."); host:port if empty.
  std::string target_name;
  // Fail closed at the target's logon (the gateway's target leg sets this):
  // connect() reports success only once the target has confirmed that the
  // credentials logged on — by NLA (CredSSP checked them before any screen),
  // or, on a TLS-only target, by its Save Session Info PDU (logon
  // notification). Until then nothing reaches the observer (no paint,
  // pointer, clipboard or resize) and no input is sent, so the target's own
  // logon screen is never shown to anyone. A logon error (Logon Error Info,
  // Set Error Info and disconnect, an NLA refusal) or no confirmation within
  // logon_timeout_ms fails connect() with RdpConnectFailure::CredentialsRejected.
  // Off (test clients through the gateway, which sends no logon notification):
  // success at activation, as before.
  bool require_logon_confirmation = false;
  int logon_timeout_ms = 20000;
  // The largest desktop the target may announce, at connect and on resize;
  // larger is refused before any buffer is allocated (RdpConnectFailure::
  // DesktopTooLarge at connect; a disconnect with the same text later).
  int max_width = 8192, max_height = 8192;
  // Decides whether the server's TLS certificate (its SHA-256 fingerprint,
  // "AB:CD:...") is the right one; an error refuses the connection before
  // any credential is sent. Unset: any certificate is accepted (test clients).
  std::function<Status(const std::string& fingerprint)> check_certificate;
};

// Why connect() failed (RdpClient::lastFailure()).
enum class RdpConnectFailure {
  None,                 // connect() succeeded, or was not called
  Unreachable,          // network, TLS, protocol: "target NAME unreachable: ..."
  CertificateRefused,   // check_certificate said no; nothing was sent
  CredentialsRejected,  // "target NAME rejected the vaulted credentials ..."
  DesktopTooLarge,      // "target desktop WxH exceeds max_desktop WxH"
  Closed,               // requestStop()/stop() while connecting
};
std::string_view toString(RdpConnectFailure f);

// OK if a WxH desktop from the target fits the bounds (1..max each way);
// else "target desktop WxH exceeds max_desktop MxN".
Status checkDesktopSize(long long width, long long height, int max_width, int max_height);

inline constexpr int kMaxPointerCacheSize = 64;
inline constexpr int kMaxPointerSize = 384;  // MS-RDPBCGR Large Pointer Update

// A pointer (mouse cursor) shape as RDP carries it (MS-RDPBCGR 2.2.9.1.1.4):
// an XOR mask of `xor_bpp` bits per pixel (1, 4, 8, 16, 24 or 32) and a 1 bpp
// AND mask, both bottom-up, every scan line padded to an even byte count.
// Shapes handed to an observer are checked (checkPointerShape): 1..384 pixels
// each way, hot spot inside, both masks exactly as long as the size implies.
struct PointerShape {
  int width = 0, height = 0;
  int hot_x = 0, hot_y = 0;
  int xor_bpp = 0;
  std::vector<std::uint8_t> xor_mask, and_mask;
};

// One pointer update from the server.
struct PointerUpdate {
  enum class Kind {
    Hidden,    // no pointer (system pointer NULL)
    Default,   // the client's own default pointer
    New,       // `shape` goes into cache slot `cache_index` and is shown
    Cached,    // show the shape in cache slot `cache_index`
    Position,  // the server moved the pointer to (x, y)
  };
  Kind kind = Kind::Default;
  int cache_index = 0;                // New, Cached: < the announced cache size
  std::optional<PointerShape> shape;  // New: nullopt if the server's shape was
                                      // rejected (the slot then shows the default)
  int x = 0, y = 0;                   // Position
};

// Called on the client's event thread (and, during connect(), on the
// connecting thread). Must not block for long: the thread also reads the
// socket. onPaint, onResize and onPointer run while the client holds its
// screen (see readScreen), so they must not call readScreen themselves.
class RdpClientObserver {
 public:
  virtual ~RdpClientObserver() = default;
  // `screen` is the client's framebuffer, the one its GDI draws into; only
  // valid during the call.
  virtual void onPaint(const Frame& screen, const DirtyRegion& changed) = 0;
  // With keep_remotefx, instead of onPaint when some of `changed` came as
  // RemoteFX messages: `rfx` holds them and what else changed.
  virtual void onPaintRfx(const Frame& screen, const DirtyRegion& changed, const RfxPaint& rfx) {
    (void)rfx;
    onPaint(screen, changed);
  }
  virtual void onResize(int width, int height) { (void)width; (void)height; }
  // Text the server put on its clipboard (UTF-8, already bounded).
  virtual void onClipboardText(const std::string& text) { (void)text; }
  // The target offers Display Control (its capabilities PDU arrived): from
  // now on sendMonitorLayout reaches it. On the client's event thread.
  virtual void onDisplayControl(const DisplayCaps& caps) { (void)caps; }
  // The server changed or moved the pointer. Only valid during the call.
  virtual void onPointer(const PointerUpdate& update) { (void)update; }
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
  // requestStop()), and with require_logon_confirmation also the target's
  // logon (up to logon_timeout_ms more). Failures come back as a message fit
  // for a log line (no credentials in it); lastFailure() says which kind.
  // Call once.
  Status connect();
  // Why the last connect() failed (None after success). Same thread as connect().
  RdpConnectFailure lastFailure() const;
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
  // Calls `read` with the screen between two paints: FreeRDP's GDI draws into
  // it while a server update is decoded, and the call waits for that to end.
  // Any thread but the observer's callbacks. Empty before connect().
  void readScreen(const std::function<void(const Frame&)>& read) const;
  // SHA-256 fingerprint of the server's TLS certificate ("" if none seen).
  std::string serverFingerprint() const;
  // The server certificate's subject ("CN=..., O=...", "" if none seen).
  std::string serverSubject() const;

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
  // Asks the target for this monitor layout over Display Control (checked
  // by the caller with checkMonitorLayout). False if the target has not
  // offered Display Control or the write failed. Any thread.
  bool sendMonitorLayout(const std::vector<MonitorLayout>& layout);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::gateway::rdp
