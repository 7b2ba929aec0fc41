// Internal (FreeRDP types): one RDP client connection through the gateway —
// the client leg (a FreeRDP peer) joined to the target leg (an RdpClient).
// Threads: the peer thread (the front door's) runs run(): handshake,
// admission and target connect through the shared ConnectionCore, then
// client input → target (never waits for the screen path). The target
// leg's event thread decodes the target's screen into the session frame and
// sends damage to the client (legacy codecs), or hands it to the GFX sender
// thread, which copies the changed area under the paint lock and encodes
// AVC420 outside it. The cliprdr server thread handles clipboard.
#pragma once

#include <freerdp/peer.h>
#include <freerdp/server/cliprdr.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/config.h"
#include "gateway/connection.h"
#include "gateway/gatekeeper.h"
#include "gateway/listener.h"
#include "gateway/rdp/client_encoder.h"
#include "gateway/rdp/clipboard.h"
#include "gateway/rdp/display_control.h"
#include "gateway/rdp/gfx_encoder.h"
#include "gateway/rdp/keymap.h"
#include "gateway/rdp/pointer_relay.h"
#include "gateway/rdp/rdp_client.h"
#include "gateway/rdp/rdp_listener.h"
#include "gateway/rdp/target_pins.h"
#include "gateway/session.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::rdp {

class ExplainBudget;

struct RdpConnectionDeps {
  const Config* cfg;
  Gatekeeper* gk;
  SessionManager* sm;
  RdpOptions opts;
  std::string cert_pem, key_pem;
  TargetPins* pins;  // which certificate each target may present
  ExplainBudget* explain_budget = nullptr;  // the listener's; null: every explanation at info
};

class RdpConnection final : public Relay, public RdpClientObserver, public ClientConnection {
 public:
  // Takes ownership of `peer` (freed by run(), or here if run() never ran).
  RdpConnection(freerdp_peer* peer, std::string client_addr, RdpConnectionDeps deps, DoorPass pass);
  ~RdpConnection() override;

  // The whole life of the connection; returns once both legs are down and
  // the session (if any) is finished. Call once, on the connection's thread.
  void run() override;
  // Relay: ends both legs (any thread, returns at once, idempotent).
  void close(const std::string& reason) override;
  void refreshScreen() override;

  // --- FreeRDP peer callbacks (peer thread) ---
  bool onCapabilities();
  bool onPostConnect();
  bool onActivate();
  void onKeyboard(std::uint16_t flags, std::uint16_t code);
  void onUnicode(std::uint16_t flags, std::uint16_t code);
  void onSynchronize(std::uint32_t flags);
  void onMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void onExtendedMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void onFocusIn(std::uint16_t toggles);
  void onRefresh(const DirtyRegion* area);
  void onSuppressOutput(bool allow);
  // Clipboard text from the client (cliprdr server thread).
  void onClientClipboard(const std::string& text);

  // RdpClientObserver (target leg thread).
  void onPaint(const Frame& screen, const DirtyRegion& changed) override;
  void onPaintRfx(const Frame& screen, const DirtyRegion& changed, const RfxPaint& rfx) override;
  void onResize(int width, int height) override;
  void onClipboardText(const std::string& text) override;
  void onPointer(const PointerUpdate& update) override;
  void onDisplayControl(const DisplayCaps& caps) override { display_.targetOffers(caps); }
  void onDisconnected(const std::string& reason) override;

 private:
  bool admitAndConnect();
  void startClipboard();
  void stopClipboard();
  // Runs `fn` with the target's screen (empty before there is a target) and
  // screen_mutex_ held. Lock order everywhere: the target's screen, then
  // screen_mutex_ (the target leg calls onPaint holding its screen).
  void withScreen(const std::function<void(const Frame&)>& fn);
  void sendScreen(const Frame& screen, const DirtyRegion& region);  // screen_mutex_ held
  // Sends a RemoteFX client the target's own messages and encodes only the
  // rest; false when it can't take them (the caller encodes everything).
  bool passRfx(const Frame& screen, const RfxPaint& rfx);  // screen_mutex_ held
  // Opens the graphics pipeline once drdynvc is up, if the client asked for
  // GFX (peer thread).
  void maybeOpenGfx();
  // The GFX sender thread: encodes and writes the pipeline, so neither the
  // peer thread (input) nor the target leg (paints) waits on AVC420.
  void gfxLoop();
  void kickGfx();        // any thread: damage, an acknowledgement or a caps confirm
  void stopGfxThread();  // peer thread: joins it
  void logGfxState();    // GFX thread
  // GFX thread: copies pending_ (or the whole screen) into gfx_frame_ under
  // the paint lock; false when the client shows nothing now.
  bool takeGfxDamage(DirtyRegion& damage);
  void gfxResult(GfxEncoder::SendResult result, const DirtyRegion& damage);  // GFX thread, no lock held
  bool clientShowing() const;                  // screen_mutex_ held
  void resendPointer();                        // screen_mutex_ held, client showing
  std::string endReason(const std::string& fallback);

  // Why a connection that never authenticated ended, for the info log
  // (`reason` when it is no known refusal). A client refused at the MCS
  // Erect Domain Request (rdesktop 1.9) has its TCP connection cut here.
  std::string endUnauthenticated(const std::string& reason);

  freerdp_peer* peer_;
  RdpConnectionDeps deps_;
  std::string client_addr_;
  ConnectionCore core_;
  void* vcm_ = nullptr;          // WTS virtual channel manager (HANDLE)
  void* stop_event_ = nullptr;   // HANDLE: close() was called
  void* target_done_ = nullptr;  // HANDLE: the target leg ended
  void* refresh_ = nullptr;      // HANDLE (auto-reset): refreshScreen() was called

  std::shared_ptr<Session> session_;
  std::unique_ptr<RdpClient> target_;  // set by the peer thread before attach
  bool admitted_ = false;
  bool target_started_ = false;

  // Lifecycle: close reason, target pointer publication.
  mutable std::mutex mutex_;
  std::string close_reason_;
  std::string target_end_reason_;

  // Screen: the client encoder and the pointer (target thread, and the peer
  // thread on activation/refresh). The pixels are the target leg's own.
  std::mutex screen_mutex_;
  std::unique_ptr<ClientEncoder> encoder_;
  std::unique_ptr<GfxEncoder> gfx_;  // AVC420 over GFX, when negotiated; else encoder_
  bool gfx_tried_ = false;            // peer thread
  bool gfx_showing_ = false;          // the client shows the GFX surface, not legacy updates
  bool client_active_ = false;
  std::chrono::steady_clock::time_point activated_at_{};  // peer thread: the last activation
  bool client_visible_ = true;
  DirtyRegion pending_;  // damage not yet sent to the client
  // The target's RemoteFX messages sent on as they were, and paints that had
  // some but were encoded (logged at the end).
  std::uint64_t rfx_passed_ = 0, rfx_encoded_ = 0;
  PointerRelay pointer_;

  // GFX sender thread (started with gfx_, joined before it and the target
  // leg go). gfx_mutex_ comes after screen_mutex_ in the lock order.
  std::thread gfx_thread_;
  std::mutex gfx_mutex_;
  std::condition_variable gfx_cv_;
  bool gfx_kick_ = false, gfx_stop_ = false;  // gfx_mutex_
  Frame gfx_frame_;  // GFX thread: the screen as last handed to the encoder
  GfxEncoder::State gfx_logged_ = GfxEncoder::State::Negotiating;  // GFX thread

  // Input state (peer thread).
  KeyMapper keymap_;
  std::uint32_t buttons_ = 0;
  std::uint16_t high_surrogate_ = 0;

  CliprdrServerContext* cliprdr_ = nullptr;
  TextClipboard<CliprdrServerContext> clipboard_;
  ClientDisplayControl display_;  // the client's window size, on to the target
};

}  // namespace vigil::gateway::rdp
