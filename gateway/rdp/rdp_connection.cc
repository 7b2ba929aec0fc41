#include "gateway/rdp/rdp_connection.h"

#include <freerdp/channels/wtsvc.h>
#include <freerdp/freerdp.h>
#include <freerdp/input.h>
#include <freerdp/session.h>
#include <freerdp/update.h>
#include <winpr/synch.h>
#include <winpr/wtsapi.h>

#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "gateway/callback_guard.h"
#include "gateway/rdp/freerdp_compat.h"
#include "gateway/rdp/handshake_refusal.h"

namespace vigil::gateway::rdp {
namespace {

struct PeerContext {
  rdpContext base;  // must be first: FreeRDP allocates ContextSize bytes
  RdpConnection* conn;
};

// How long the screen must be still before GFX sends it losslessly.
constexpr std::chrono::milliseconds kGfxTick{250};
constexpr int kGfxStillTicks = 4;

RdpConnection* conn(rdpContext* ctx) { return reinterpret_cast<PeerContext*>(ctx)->conn; }
RdpConnection* conn(freerdp_peer* p) { return conn(p->context); }
RdpConnection* conn(rdpInput* in) { return conn(in->context); }

BOOL peerContextNew(freerdp_peer*, rdpContext*) { return TRUE; }
void peerContextFree(freerdp_peer*, rdpContext*) {}

BOOL cbCapabilities(freerdp_peer* p) {
  return guarded("rdp: capabilities", FALSE, [&]() -> BOOL { return conn(p)->onCapabilities(); });
}
BOOL cbPostConnect(freerdp_peer* p) {
  return guarded("rdp: post-connect", FALSE, [&]() -> BOOL { return conn(p)->onPostConnect(); });
}
BOOL cbActivate(freerdp_peer* p) {
  return guarded("rdp: activate", FALSE, [&]() -> BOOL { return conn(p)->onActivate(); });
}
BOOL cbKeyboard(rdpInput* in, UINT16 flags, UINT16 code) {
  guardedVoid("rdp: keyboard", [&] { conn(in)->onKeyboard(flags, code); });
  return TRUE;
}
BOOL cbUnicode(rdpInput* in, UINT16 flags, UINT16 code) {
  guardedVoid("rdp: unicode", [&] { conn(in)->onUnicode(flags, code); });
  return TRUE;
}
BOOL cbSynchronize(rdpInput* in, UINT32 flags) {
  guardedVoid("rdp: synchronize", [&] { conn(in)->onSynchronize(flags); });
  return TRUE;
}
BOOL cbMouse(rdpInput* in, UINT16 flags, UINT16 x, UINT16 y) {
  guardedVoid("rdp: mouse", [&] { conn(in)->onMouse(flags, x, y); });
  return TRUE;
}
BOOL cbExtendedMouse(rdpInput* in, UINT16 flags, UINT16 x, UINT16 y) {
  guardedVoid("rdp: extended mouse", [&] { conn(in)->onExtendedMouse(flags, x, y); });
  return TRUE;
}
BOOL cbFocusIn(rdpInput* in, UINT16 toggles) {
  guardedVoid("rdp: focus", [&] { conn(in)->onFocusIn(toggles); });
  return TRUE;
}
BOOL cbRefreshRect(rdpContext* ctx, BYTE count, const RECTANGLE_16* areas) {
  guardedVoid("rdp: refresh", [&] {
    if (count == 0 || !areas) {
      conn(ctx)->onRefresh(nullptr);
      return;
    }
    DirtyRegion region;
    for (BYTE i = 0; i < count; ++i) {
      region.add(Rect{areas[i].left, areas[i].top, areas[i].right - areas[i].left + 1,
                      areas[i].bottom - areas[i].top + 1});
    }
    conn(ctx)->onRefresh(&region);
  });
  return TRUE;
}
BOOL cbSuppressOutput(rdpContext* ctx, BYTE allow, const RECTANGLE_16*) {
  guardedVoid("rdp: suppress output", [&] { conn(ctx)->onSuppressOutput(allow != 0); });
  return TRUE;
}

using ServerClip = TextClipboard<CliprdrServerContext>;
ServerClip* clip(CliprdrServerContext* c) { return static_cast<ServerClip*>(c->custom); }
UINT cbClientCaps(CliprdrServerContext* c, const CLIPRDR_CAPABILITIES*) {
  return guarded("rdp: clipboard", UINT(ERROR_INTERNAL_ERROR), [&] { return clip(c)->onCapabilities(); });
}
UINT cbClientFormatList(CliprdrServerContext* c, const CLIPRDR_FORMAT_LIST* l) {
  return guarded("rdp: clipboard", UINT(ERROR_INTERNAL_ERROR), [&] { return clip(c)->onFormatList(l); });
}
UINT cbClientFormatListResponse(CliprdrServerContext*, const CLIPRDR_FORMAT_LIST_RESPONSE*) {
  return CHANNEL_RC_OK;
}
UINT cbClientDataRequest(CliprdrServerContext* c, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
  return guarded("rdp: clipboard", UINT(ERROR_INTERNAL_ERROR), [&] { return clip(c)->onFormatDataRequest(r); });
}
UINT cbClientDataResponse(CliprdrServerContext* c, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
  return guarded("rdp: clipboard", UINT(ERROR_INTERNAL_ERROR), [&] { return clip(c)->onFormatDataResponse(r); });
}
UINT cbTempDirectory(CliprdrServerContext*, const CLIPRDR_TEMP_DIRECTORY*) {
  return CHANNEL_RC_OK;
}

// Pointer updates to the client through the peer's fast-path senders.
class PeerPointerSender final : public PointerSender {
 public:
  explicit PeerPointerSender(freerdp_peer* peer)
      : ctx_(peer->context), ptr_(peer->update->pointer) {}

  bool sendSystem(bool hidden) override {
    POINTER_SYSTEM_UPDATE u{};
    u.type = hidden ? SYSPTR_NULL : SYSPTR_DEFAULT;
    return ptr_->PointerSystem && ptr_->PointerSystem(ctx_, &u);
  }
  bool sendNew(const PointerShape& s, int slot) override {
    POINTER_NEW_UPDATE u{};
    u.xorBpp = static_cast<UINT32>(s.xor_bpp);
    POINTER_COLOR_UPDATE& c = u.colorPtrAttr;
    c.cacheIndex = static_cast<UINT32>(slot);
    c.xPos = static_cast<UINT32>(s.hot_x);
    c.yPos = static_cast<UINT32>(s.hot_y);
    c.width = static_cast<UINT32>(s.width);
    c.height = static_cast<UINT32>(s.height);
    c.lengthXorMask = static_cast<UINT32>(s.xor_mask.size());
    c.lengthAndMask = static_cast<UINT32>(s.and_mask.size());
    // FreeRDP only reads the masks; its structs are not const-correct.
    c.xorMaskData = const_cast<BYTE*>(s.xor_mask.data());
    c.andMaskData = const_cast<BYTE*>(s.and_mask.data());
    return ptr_->PointerNew && ptr_->PointerNew(ctx_, &u);
  }
  bool sendLarge(const PointerShape& s, int slot) override {
    POINTER_LARGE_UPDATE u{};
    u.xorBpp = static_cast<UINT16>(s.xor_bpp);
    u.cacheIndex = static_cast<UINT16>(slot);
    u.hotSpotX = static_cast<UINT16>(s.hot_x);
    u.hotSpotY = static_cast<UINT16>(s.hot_y);
    u.width = static_cast<UINT16>(s.width);
    u.height = static_cast<UINT16>(s.height);
    u.lengthXorMask = static_cast<UINT32>(s.xor_mask.size());
    u.lengthAndMask = static_cast<UINT32>(s.and_mask.size());
    u.xorMaskData = const_cast<BYTE*>(s.xor_mask.data());
    u.andMaskData = const_cast<BYTE*>(s.and_mask.data());
    return ptr_->PointerLarge && ptr_->PointerLarge(ctx_, &u);
  }
  bool sendCached(int slot) override {
    POINTER_CACHED_UPDATE u{};
    u.cacheIndex = static_cast<UINT32>(slot);
    return ptr_->PointerCached && ptr_->PointerCached(ctx_, &u);
  }
  bool sendPosition(int x, int y) override {
    POINTER_POSITION_UPDATE u{};
    u.xPos = static_cast<UINT32>(std::max(0, x));
    u.yPos = static_cast<UINT32>(std::max(0, y));
    return ptr_->PointerPosition && ptr_->PointerPosition(ctx_, &u);
  }

 private:
  rdpContext* ctx_;
  rdpPointerUpdate* ptr_;
};

// What the client announced in its Confirm Active (read at activation).
ClientPointerCaps clientPointerCaps(rdpSettings* s) {
  ClientPointerCaps caps;
  caps.fast_path = getBool(s, FreeRDP_FastPathOutput);
  caps.cache_size =
      getBool(s, FreeRDP_ColorPointerFlag) ? static_cast<int>(getU32(s, FreeRDP_PointerCacheSize))
                                           : 0;
  const UINT32 large = getU32(s, FreeRDP_LargePointerFlag);
  caps.max_new_size = (large & kLargePointer96x96) ? 96 : 32;
  caps.large = (large & kLargePointer384x384) != 0;
  caps.max_update_bytes = getU32(s, FreeRDP_MultifragMaxRequestSize);
  return caps;
}

}  // namespace

RdpConnection::RdpConnection(freerdp_peer* peer, std::string client_addr, RdpConnectionDeps deps,
                             DoorPass pass)
    : peer_(peer),
      deps_(std::move(deps)),
      client_addr_(client_addr),
      core_(ConnectionDeps{deps_.cfg, deps_.gk, deps_.sm}, Protocol::Rdp, std::move(client_addr),
            std::move(pass)),
      display_(deps_.cfg->front_door.max_desktop_width, deps_.cfg->front_door.max_desktop_height,
               [this](const std::vector<MonitorLayout>& layout) {
                 std::lock_guard lock(mutex_);
                 if (!target_) return Status::Error("no target");
                 return target_->sendMonitorLayout(layout) ? Status::Ok()
                                                           : Status::Error("the target's channel refused it");
               }) {
  stop_event_ = CreateEventA(nullptr, TRUE, FALSE, nullptr);
  target_done_ = CreateEventA(nullptr, TRUE, FALSE, nullptr);
  refresh_ = CreateEventA(nullptr, FALSE, FALSE, nullptr);
}

RdpConnection::~RdpConnection() {
  if (peer_) freerdp_peer_free(peer_);  // run() never ran
  if (stop_event_) CloseHandle(stop_event_);
  if (target_done_) CloseHandle(target_done_);
  if (refresh_) CloseHandle(refresh_);
}

void RdpConnection::refreshScreen() { SetEvent(refresh_); }

void RdpConnection::close(const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (close_reason_.empty()) close_reason_ = reason;
  SetEvent(stop_event_);
  if (target_) target_->requestStop();
}

std::string RdpConnection::endReason(const std::string& fallback) {
  std::lock_guard lock(mutex_);
  if (!close_reason_.empty()) return close_reason_;
  if (!target_end_reason_.empty()) return "target disconnected: " + target_end_reason_;
  return fallback;
}

std::string RdpConnection::endUnauthenticated(const std::string& reason) {
  // FreeRDP says only "client disconnected" when a client it cannot serve
  // gives up (NLA required, rdesktop's Erect Domain Request): say why.
  if (!peer_ || !peer_->settings || !peer_->context) return reason;
  rdpSettings* s = peer_->settings;
  HandshakeFacts f;
  f.requested_protocols = getU32(s, FreeRDP_RequestedProtocols);
  f.selected_protocol = getU32(s, FreeRDP_SelectedProtocol);
  f.negotiated = f.requested_protocols != 0;  // FreeRDP sets both once its answer is sent
  f.mcs_connected = freerdp_get_state(peer_->context) == CONNECTION_STATE_MCS_CONNECT;
  f.client_data_segments = dataSegmentsReceived(peer_->sockfd);
  f.client_name = getString(s, FreeRDP_ClientHostname);
  f.client_build = getU32(s, FreeRDP_ClientBuild);
  const std::string why = explainHandshakeEnd(f);
  if (f.mcs_connected) {
    // Cut the TCP connection rather than close TLS cleanly: rdesktop 1.9
    // spins forever on a clean TLS close and exits on an abrupt one.
    ::shutdown(peer_->sockfd, SHUT_RDWR);
  }
  return why.empty() ? reason : why;
}

void RdpConnection::run() {
  nameThisThread("rdp-user");
  peer_->ContextSize = sizeof(PeerContext);
  peer_->ContextNew = peerContextNew;
  peer_->ContextFree = peerContextFree;
  bool setup = freerdp_peer_context_new(peer_) != FALSE;
  if (setup) {
    reinterpret_cast<PeerContext*>(peer_->context)->conn = this;
    rdpSettings* s = peer_->settings;
    // TLS only: the credentials must reach us in the Client Info PDU (NLA
    // would need every secret in clear, and access codes are hashed).
    setup = setString(s, FreeRDP_CertificateContent, deps_.cert_pem) &&
            setString(s, FreeRDP_PrivateKeyContent, deps_.key_pem) &&
            setBool(s, FreeRDP_RdpSecurity, false) && setBool(s, FreeRDP_TlsSecurity, true) &&
            setBool(s, FreeRDP_NlaSecurity, false) && setBool(s, FreeRDP_ExtSecurity, false) &&
            setU32(s, FreeRDP_ColorDepth, 32) && setBool(s, FreeRDP_RemoteFxCodec, true) &&
            setBool(s, FreeRDP_NSCodec, false) && setBool(s, FreeRDP_SurfaceCommandsEnabled, true) &&
            setBool(s, FreeRDP_FrameMarkerCommandEnabled, true) &&
            setBool(s, FreeRDP_SurfaceFrameMarkerEnabled, true) &&
            setBool(s, FreeRDP_SupportGraphicsPipeline, deps_.opts.client_gfx) &&
            setBool(s, FreeRDP_RefreshRect, true) && setBool(s, FreeRDP_SuppressOutput, true) &&
            setBool(s, FreeRDP_UnicodeInput, true) && setBool(s, FreeRDP_HasHorizontalWheel, true) &&
            setBool(s, FreeRDP_HasExtendedMouseEvent, true) &&
            setBool(s, FreeRDP_DesktopResize, true) &&
            // RemoteFX clients must take at least this (MS-RDPRFX 1.5): room
            // for a target's whole-screen RemoteFX message, passed on as is.
            setU32(s, FreeRDP_MultifragMaxRequestSize, 0x3F0000);
    peer_->Capabilities = cbCapabilities;
    peer_->PostConnect = cbPostConnect;
    peer_->Activate = cbActivate;
    peer_->input->KeyboardEvent = cbKeyboard;
    peer_->input->UnicodeKeyboardEvent = cbUnicode;
    peer_->input->SynchronizeEvent = cbSynchronize;
    peer_->input->MouseEvent = cbMouse;
    peer_->input->ExtendedMouseEvent = cbExtendedMouse;
    peer_->input->FocusInEvent = cbFocusIn;
    peer_->update->RefreshRect = cbRefreshRect;
    peer_->update->SuppressOutput = cbSuppressOutput;
    setup = setup && peer_->Initialize(peer_);
    if (setup) vcm_ = WTSOpenServerA(reinterpret_cast<LPSTR>(peer_->context));
    setup = setup && vcm_ && vcm_ != INVALID_HANDLE_VALUE;
  }

  std::string reason = "client disconnected";
  if (!setup) {
    spdlog::warn("rdp: cannot set up the connection from {}", client_addr_);
    reason = "setup failed";
  } else {
    // No deadline here: the front door shuts the socket down when the
    // handshake runs past it, wherever FreeRDP is blocked.
    HANDLE handles[MAXIMUM_WAIT_OBJECTS];
    // The longest the loop was away from the client's input (what a key
    // waits at most), and how often that exceeded 50 ms.
    std::chrono::steady_clock::time_point busy_from{};
    double max_busy_ms = 0;
    std::uint64_t slow_turns = 0;
    for (;;) {
      DWORD n = peer_->GetEventHandles(peer_, handles,
                                       MAXIMUM_WAIT_OBJECTS - 4 - ClientDisplayControl::kMaxWaitHandles);
      if (n == 0) {
        reason = "client connection failed";
        break;
      }
      handles[n++] = WTSVirtualChannelManagerGetEventHandle(vcm_);
      handles[n++] = stop_event_;
      handles[n++] = target_done_;
      handles[n++] = refresh_;
      n += static_cast<DWORD>(display_.waitHandles(handles + n));
      const auto idle_from = std::chrono::steady_clock::now();
      // Measured from 3 s after activation (the bench's window), not the handshake.
      if (busy_from > activated_at_ + std::chrono::seconds(3) && activated_at_.time_since_epoch().count()) {
        const double ms = std::chrono::duration<double, std::milli>(idle_from - busy_from).count();
        max_busy_ms = std::max(max_busy_ms, ms);
        if (ms > 50) ++slow_turns;
      }
      if (WaitForMultipleObjects(n, handles, FALSE, INFINITE) == WAIT_FAILED) {
        reason = "wait failed";
        break;
      }
      busy_from = std::chrono::steady_clock::now();
      if (WaitForSingleObject(stop_event_, 0) == WAIT_OBJECT_0) break;
      if (WaitForSingleObject(target_done_, 0) == WAIT_OBJECT_0) break;
      if (WaitForSingleObject(refresh_, 0) == WAIT_OBJECT_0) {
        // The target's screen is complete between paints.
        withScreen([this](const Frame& screen) {
          if (session_ && !screen.empty()) session_->frame(screen, DirtyRegion{});
        });
      }
      if (!peer_->CheckFileDescriptor(peer_)) break;
      if (!WTSVirtualChannelManagerCheckFileDescriptor(vcm_)) {
        reason = "client channel error";
        break;
      }
      display_.poll(vcm_, peer_->context, session_ ? session_->id() : "");
      maybeOpenGfx();
    }
    if (admitted_)
      spdlog::info("rdp: client input loop session={} longest_busy_ms={:.1f} turns_over_50ms={}",
                   session_ ? session_->id() : "", max_busy_ms, slow_turns);
  }
  reason = endReason(reason);
  if (!admitted_) {
    // The core logged a refusal of credentials; a refusal in the protocol
    // handshake says why at info here; a client that just went away, at
    // debug (a flood of abandoned handshakes must not flood the log).
    const std::string why = endUnauthenticated(reason);
    const bool explained = why != reason && (!deps_.explain_budget || deps_.explain_budget->take());
    spdlog::log(explained ? spdlog::level::info : spdlog::level::debug,
                "rdp: connection ended before authentication client={} reason=\"{}\"",
                client_addr_, why);
  }

  // Tear down: the GFX sender (it reads the target's screen), the target
  // leg (joins its thread), then the client.
  stopGfxThread();
  std::unique_ptr<RdpClient> target;
  {
    std::lock_guard lock(mutex_);
    target = std::move(target_);
  }
  if (target) target->stop();
  display_.close();
  stopClipboard();
  {
    std::lock_guard lock(screen_mutex_);
    gfx_.reset();  // joins the rdpgfx thread before the channel manager closes
    encoder_.reset();
    client_active_ = false;
    if (rfx_passed_ || rfx_encoded_) {
      spdlog::info("rdp: session={} target RemoteFX messages passed_through={} paints_reencoded={}",
                   session_ ? session_->id() : "", rfx_passed_, rfx_encoded_);
    }
  }
  if (peer_->context) peer_->Disconnect(peer_);
  if (vcm_ && vcm_ != INVALID_HANDLE_VALUE) WTSCloseServer(vcm_);
  vcm_ = nullptr;
  if (peer_->context) freerdp_peer_context_free(peer_);
  freerdp_peer_free(peer_);
  peer_ = nullptr;
  target.reset();

  core_.finish(reason);
  session_.reset();
}

bool RdpConnection::onCapabilities() {
  if (admitted_) return true;  // reactivation
  admitted_ = admitAndConnect();
  return admitted_;
}

bool RdpConnection::admitAndConnect() {
  rdpSettings* s = peer_->settings;
  const std::string username = getString(s, FreeRDP_Username);
  std::string user = username, target_name;
  if (auto login = parseRdpUsername(username)) {
    user = login->user;
    target_name = login->target;
  }
  // Malformed names still go through the Gatekeeper so the refusal is
  // recorded and throttled like any other.
  auto session = core_.admit(user, target_name, getString(s, FreeRDP_Password));
  if (!session.ok()) {
    std::lock_guard lock(mutex_);
    if (close_reason_.empty()) close_reason_ = "refused: " + session.message();
    return false;
  }
  session_ = std::move(session.value());
  const TargetConfig* target = core_.target();

  std::uint32_t client_layout = getU32(s, FreeRDP_KeyboardLayout);
  KeyboardLayout layout = layoutFromId(client_layout);
  if (!target->keyboard_layout.empty()) {
    if (auto l = layoutFromName(target->keyboard_layout)) {
      layout = *l;
    } else {
      spdlog::warn("rdp: target={} unknown keyboard_layout \"{}\", using the client's",
                   target->name, target->keyboard_layout);
    }
  }
  keymap_.setLayout(layout);

  const FrontDoorConfig& door = deps_.cfg->front_door;
  RdpClientOptions o;
  o.host = target->host;
  o.port = target->port;
  o.username = target->username;
  o.password = target->password;
  o.width = std::clamp(static_cast<int>(getU32(s, FreeRDP_DesktopWidth)), 200,
                       std::min(deps_.opts.max_width, door.max_desktop_width));
  o.height = std::clamp(static_cast<int>(getU32(s, FreeRDP_DesktopHeight)), 200,
                        std::min(deps_.opts.max_height, door.max_desktop_height));
  o.keyboard_layout = client_layout ? client_layout : 0x0409;
  o.gfx = deps_.opts.target_gfx;
  o.keep_remotefx = deps_.opts.pass_remotefx;
  o.clipboard = deps_.opts.clipboard;
  o.connect_timeout_ms = deps_.opts.target_connect_timeout_ms;
  // Fail closed at the target: no success (and no screen) before it confirmed
  // the logon; its desktop bounded before the target leg allocates it.
  o.target_name = target->name;
  o.require_logon_confirmation = target->logon_confirmation;
  if (!target->logon_confirmation)
    spdlog::warn("rdp: session={} target {} has logon_confirmation = false: the session starts without "
                 "the target confirming the vaulted logon", session_->id(), target->name);
  o.logon_timeout_ms = deps_.opts.target_logon_timeout_ms;
  o.max_width = door.max_desktop_width;
  o.max_height = door.max_desktop_height;
  o.check_certificate = [pins = deps_.pins, target](const std::string& fingerprint) {
    return pins->check(*target, fingerprint);
  };
  {
    std::lock_guard lock(mutex_);
    if (!close_reason_.empty()) return false;
    target_ = std::make_unique<RdpClient>(o, this);
  }
  spdlog::debug("rdp: session={} connecting target size={}x{} layout={}", session_->id(), o.width,
                o.height, toString(layout));
  if (Status st = target_->connect(); !st.ok()) {
    TargetFailure kind = TargetFailure::Unreachable;
    switch (target_->lastFailure()) {
      case RdpConnectFailure::CredentialsRejected: kind = TargetFailure::Rejected; break;
      case RdpConnectFailure::CertificateRefused: kind = TargetFailure::Untrusted; break;
      case RdpConnectFailure::DesktopTooLarge: kind = TargetFailure::TooLarge; break;
      default: break;
    }
    // The target leg's message already says "target NAME unreachable: ".
    std::string detail = st.message();
    const std::string said = "target " + target->name + " unreachable: ";
    if (detail.rfind(said, 0) == 0) detail.erase(0, said.size());
    const std::string why = core_.targetFailed(kind, detail);
    std::lock_guard lock(mutex_);
    if (close_reason_.empty()) close_reason_ = why;
    return false;
  }
  const int w = target_->width(), h = target_->height();
  if (Status st = core_.targetConnected(this, w, h); !st.ok()) {
    std::lock_guard lock(mutex_);
    if (close_reason_.empty()) close_reason_ = st.message();
    return false;
  }
  // The client gets the target's real size in the Demand Active.
  setU32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(w));
  setU32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(h));
  return true;
}

bool RdpConnection::onPostConnect() {
  startClipboard();
  return true;
}

bool RdpConnection::onActivate() {
  activated_at_ = std::chrono::steady_clock::now();
  withScreen([this](const Frame& screen) {
    encoder_ = std::make_unique<ClientEncoder>(peer_);
    client_active_ = true;
    client_visible_ = true;
    spdlog::info("rdp: client activated session={} codec={} bpp={}",
                  session_ ? session_->id() : "", encoder_->codecName(),
                  getU32(peer_->settings, FreeRDP_ColorDepth));
    pending_.clear();
    sendScreen(screen, DirtyRegion(screen.bounds()));
    // A (re)activated client starts with an empty pointer cache.
    const ClientPointerCaps caps = clientPointerCaps(peer_->settings);
    pointer_.reset(caps);
    resendPointer();
    spdlog::debug("rdp: client pointer cache={} max={} large={}", caps.cache_size,
                  caps.max_new_size, caps.large);
  });
  // Like Windows once a user is logged on: the logon notification (Save
  // Session Info, plain notify), so a client that waits for it, such as a
  // gateway's target leg, sees this TLS-only server confirm the logon.
  if (peer_->update->SaveSessionInfo &&
      !peer_->update->SaveSessionInfo(peer_->context, INFO_TYPE_LOGON_PLAIN_NOTIFY, nullptr)) {
    spdlog::debug("rdp: sending the logon notification to the client failed");
  }
  if (!target_started_ && target_) {
    target_started_ = true;
    target_->start();
  }
  return true;
}

bool RdpConnection::clientShowing() const {
  return encoder_ && client_active_ && client_visible_;
}

void RdpConnection::withScreen(const std::function<void(const Frame&)>& fn) {
  // target_ is written only by this (the peer) thread.
  if (target_) {
    target_->readScreen([&](const Frame& screen) {
      std::lock_guard lock(screen_mutex_);
      fn(screen);
    });
    return;
  }
  static const Frame kNoScreen;
  std::lock_guard lock(screen_mutex_);
  fn(kNoScreen);
}

void RdpConnection::sendScreen(const Frame& screen, const DirtyRegion& region) {
  pending_.add(region);
  if (!clientShowing() || screen.empty()) return;
  pending_.clipTo(screen.width(), screen.height());
  if (gfx_ && gfx_->state() == GfxEncoder::State::Avc420) {
    // The GFX thread copies the damage and encodes it outside the locks.
    kickGfx();
    return;
  }
  DirtyRegion all = std::move(pending_);
  pending_.clear();
  // GFX not (or no longer) usable: the legacy codec repaints everything
  // the surface showed.
  if (gfx_showing_) all = DirtyRegion(screen.bounds());
  gfx_showing_ = false;
  if (all.empty()) return;
  if (!encoder_->send(screen, all)) {
    spdlog::debug("rdp: sending the screen to the client failed");
  }
}

void RdpConnection::maybeOpenGfx() {
  if (gfx_tried_ || !deps_.opts.client_gfx || !peer_->activated) return;
  if (!getBool(peer_->settings, FreeRDP_SupportGraphicsPipeline)) {
    gfx_tried_ = true;  // the client did not ask for GFX
    return;
  }
  if (!WTSVirtualChannelManagerIsChannelJoined(vcm_, "drdynvc") ||
      WTSVirtualChannelManagerGetDrdynvcState(vcm_) != DRDYNVC_STATE_READY) {
    return;
  }
  gfx_tried_ = true;
  auto gfx = std::make_unique<GfxEncoder>(peer_, vcm_, [this] { kickGfx(); });
  if (!gfx->open()) {
    spdlog::info("rdp: session={} the client's graphics pipeline did not open, staying on codec={}",
                 session_ ? session_->id() : "", encoder_ ? encoder_->codecName() : "none");
    return;
  }
  {
    std::lock_guard lock(screen_mutex_);
    gfx_ = std::move(gfx);
  }
  gfx_thread_ = std::thread([this] { gfxLoop(); });
}

void RdpConnection::kickGfx() {
  {
    std::lock_guard lock(gfx_mutex_);
    gfx_kick_ = true;
  }
  gfx_cv_.notify_one();
}

void RdpConnection::stopGfxThread() {
  if (!gfx_thread_.joinable()) return;
  {
    std::lock_guard lock(gfx_mutex_);
    gfx_stop_ = true;
  }
  gfx_cv_.notify_one();
  gfx_thread_.join();
}

void RdpConnection::logGfxState() {
  const GfxEncoder::State state = gfx_->state();
  if (state == gfx_logged_ || state == GfxEncoder::State::Negotiating) return;
  gfx_logged_ = state;
  std::lock_guard lock(screen_mutex_);
  const std::string_view legacy = encoder_ ? encoder_->codecName() : "none";
  if (state == GfxEncoder::State::Avc420) {
    spdlog::info("rdp: client graphics pipeline session={} version=0x{:x} codec=avc420",
                 session_ ? session_->id() : "", gfx_->version());
  } else {
    spdlog::info("rdp: client graphics pipeline session={} version=0x{:x} without AVC420, codec={}",
                 session_ ? session_->id() : "", gfx_->version(), legacy);
  }
}

bool RdpConnection::takeGfxDamage(DirtyRegion& damage) {
  bool showing = false;
  withScreen([&](const Frame& screen) {
    if (!clientShowing() || screen.empty()) return;
    showing = true;
    // Only the changed area is copied under the target's paint lock; a new
    // size or a new surface takes the whole screen.
    if (gfx_frame_.width() != screen.width() || gfx_frame_.height() != screen.height() ||
        gfx_->needsSurface()) {
      gfx_frame_.resize(screen.width(), screen.height());
      pending_ = DirtyRegion(screen.bounds());
    }
    pending_.clipTo(screen.width(), screen.height());
    for (const Rect& r : pending_.rects()) gfx_frame_.copyRect(screen, r);
    damage = std::move(pending_);
    pending_.clear();
  });
  return showing;
}

void RdpConnection::gfxResult(GfxEncoder::SendResult result, const DirtyRegion& damage) {
  if (result == GfxEncoder::SendResult::Sent) {
    std::lock_guard lock(screen_mutex_);
    gfx_showing_ = true;
    return;
  }
  // Busy: sent again later. Unavailable: sendScreen() repaints it with the
  // legacy codec (the whole screen if the surface showed anything).
  withScreen([&](const Frame& screen) {
    pending_.add(damage);
    if (result == GfxEncoder::SendResult::Unavailable) sendScreen(screen, DirtyRegion{});
  });
}

void RdpConnection::gfxLoop() {
  nameThisThread("rdp-gfx");
  auto next_tick = std::chrono::steady_clock::now() + kGfxTick;
  std::uint64_t frames_seen = 0;  // avcFrames() at the last tick
  int still_ticks = 0;            // ticks since avcFrames() last moved
  for (;;) {
    bool kicked = false;
    {
      std::unique_lock lock(gfx_mutex_);
      gfx_cv_.wait_until(lock, next_tick, [this] { return gfx_stop_ || gfx_kick_; });
      if (gfx_stop_) return;
      kicked = gfx_kick_;
      gfx_kick_ = false;
    }
    logGfxState();
    if (gfx_->state() != GfxEncoder::State::Avc420) {
      // Negotiating or unusable: the legacy codec serves (once more with
      // the whole screen if the surface showed it).
      if (kicked) withScreen([this](const Frame& screen) { sendScreen(screen, DirtyRegion{}); });
      continue;
    }
    if (kicked && gfx_->canSend()) {
      DirtyRegion damage;
      if (takeGfxDamage(damage) && !damage.empty()) gfxResult(gfx_->send(gfx_frame_, damage), damage);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now < next_tick) continue;
    next_tick = now + kGfxTick;
    const std::uint64_t frames = gfx_->avcFrames();
    if (frames != frames_seen) {
      frames_seen = frames;  // still moving
      still_ticks = 0;
      continue;
    }
    // A scrolling terminal pauses between bursts: refine only a screen
    // still for kGfxStillTicks, or the lossless pass outweighs the video.
    if (++still_ticks < kGfxStillTicks) continue;  // then every tick: a no-op once refined
    bool quiet = false;
    {
      std::lock_guard lock(screen_mutex_);
      quiet = clientShowing() && pending_.empty();
    }
    if (quiet && !gfx_frame_.empty()) gfxResult(gfx_->refine(gfx_frame_), DirtyRegion{});
  }
}

void RdpConnection::onPaint(const Frame& screen, const DirtyRegion& changed) {
  std::lock_guard lock(screen_mutex_);
  if (session_) session_->frame(screen, changed);
  sendScreen(screen, changed);
}

void RdpConnection::onPaintRfx(const Frame& screen, const DirtyRegion& changed, const RfxPaint& rfx) {
  std::lock_guard lock(screen_mutex_);
  if (session_) session_->frame(screen, changed);
  if (passRfx(screen, rfx)) return;
  ++rfx_encoded_;
  sendScreen(screen, changed);
}

bool RdpConnection::passRfx(const Frame& screen, const RfxPaint& rfx) {
  if (rfx.messages.empty() || !clientShowing() || screen.empty() || gfx_showing_ ||
      (gfx_ && gfx_->state() == GfxEncoder::State::Avc420)) {
    return false;
  }
  encoder_->adopt(rfx.messages.back().header);
  for (const RfxMessage& m : rfx.messages) {
    if (!encoder_->canPass(m, screen)) return false;
  }
  // The messages first, in order; then what they don't carry, encoded from
  // the screen as it is now, so it ends up on top of anything they drew.
  for (const RfxMessage& m : rfx.messages) {
    if (!encoder_->pass(m)) {
      spdlog::debug("rdp: sending the screen to the client failed");
      return true;
    }
    ++rfx_passed_;
  }
  pending_.add(rfx.rest);
  pending_.clipTo(screen.width(), screen.height());
  DirtyRegion rest = std::move(pending_);
  pending_.clear();
  if (!rest.empty() && !encoder_->send(screen, rest)) {
    spdlog::debug("rdp: sending the screen to the client failed");
  }
  return true;
}

void RdpConnection::onResize(int width, int height) {
  if (Status st = core_.resized(width, height); !st.ok()) {
    close(st.message());
    return;
  }
  std::lock_guard lock(screen_mutex_);
  if (session_) session_->resized(width, height);
  if (!peer_ || !peer_->activated) return;
  rdpSettings* s = peer_->settings;
  if (!getBool(s, FreeRDP_DesktopResize)) {
    spdlog::warn("rdp: target resized to {}x{} but the client cannot resize", width, height);
    return;
  }
  setU32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(width));
  setU32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(height));
  // The client reactivates; onActivate() then sends the whole new screen.
  client_active_ = false;
  encoder_.reset();
  pending_.clear();
  peer_->update->DesktopResize(peer_->update->context);
}

void RdpConnection::resendPointer() {
  PeerPointerSender sender(peer_);
  if (!pointer_.resend(sender)) spdlog::debug("rdp: sending the pointer to the client failed");
}

void RdpConnection::onPointer(const PointerUpdate& update) {
  // Like the screen: sent from the target thread under the screen lock, or
  // only remembered until the client shows the screen again.
  std::lock_guard lock(screen_mutex_);
  if (!clientShowing()) {
    pointer_.apply(update, nullptr);
    return;
  }
  PeerPointerSender sender(peer_);
  if (!pointer_.apply(update, &sender)) {
    spdlog::debug("rdp: sending the pointer to the client failed");
  }
}

void RdpConnection::onClipboardText(const std::string& text) {
  if (session_) (void)session_->input(ClipboardInput{text, Direction::ServerToClient});
  clipboard_.setText(text);
}

void RdpConnection::onClientClipboard(const std::string& text) {
  if (session_ && !session_->input(ClipboardInput{text, Direction::ClientToServer})) return;
  std::lock_guard lock(mutex_);
  if (target_) target_->setClipboardText(text);
}

void RdpConnection::onDisconnected(const std::string& reason) {
  {
    std::lock_guard lock(mutex_);
    if (target_end_reason_.empty()) target_end_reason_ = reason;
  }
  SetEvent(target_done_);
}

void RdpConnection::onKeyboard(std::uint16_t flags, std::uint16_t code) {
  const bool down = (flags & KBD_FLAGS_RELEASE) == 0;
  const bool extended = (flags & KBD_FLAGS_EXTENDED) != 0;
  bool deliver = true;  // false: a rule holds the key back
  if (session_) {
    if (auto ks = keymap_.key(static_cast<std::uint8_t>(code & 0x7f), extended, down)) {
      deliver = session_->input(KeyInput{*ks, down});
    } else {
      deliver = !session_->terminated();
    }
  }
  if (target_ && deliver) target_->sendKey(flags, code);
}

void RdpConnection::onUnicode(std::uint16_t flags, std::uint16_t code) {
  const bool down = (flags & KBD_FLAGS_RELEASE) == 0;
  std::uint32_t cp = code;
  if (code >= 0xd800 && code <= 0xdbff) {
    // First half of a pair: wait for the second before recording.
    if (down) high_surrogate_ = code;
    cp = 0;
  } else if (code >= 0xdc00 && code <= 0xdfff) {
    cp = high_surrogate_ ? 0x10000 + ((high_surrogate_ - 0xd800u) << 10) + (code - 0xdc00u) : 0;
    if (!down) high_surrogate_ = 0;
  }
  bool deliver = !session_ || !session_->terminated();
  if (session_ && cp) {
    if (std::uint32_t ks = keysymForCodepoint(cp)) deliver = session_->input(KeyInput{ks, down});
  }
  if (target_ && deliver) target_->sendUnicode(flags, code);
}

void RdpConnection::onSynchronize(std::uint32_t flags) {
  keymap_.setLocks((flags & KBD_SYNC_CAPS_LOCK) != 0, (flags & KBD_SYNC_NUM_LOCK) != 0);
  if (target_) target_->sendSynchronize(flags);
}

void RdpConnection::onFocusIn(std::uint16_t toggles) {
  keymap_.setLocks((toggles & KBD_SYNC_CAPS_LOCK) != 0, (toggles & KBD_SYNC_NUM_LOCK) != 0);
  if (target_) target_->sendSynchronize(toggles);
}

void RdpConnection::onMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  if (session_) {
    const bool down = (flags & PTR_FLAGS_DOWN) != 0;
    auto set = [&](std::uint32_t bit) { buttons_ = down ? (buttons_ | bit) : (buttons_ & ~bit); };
    if (flags & PTR_FLAGS_BUTTON1) set(1u << 0);
    if (flags & PTR_FLAGS_BUTTON3) set(1u << 1);
    if (flags & PTR_FLAGS_BUTTON2) set(1u << 2);
    if (flags & PTR_FLAGS_WHEEL) {
      // A wheel notch is a press and release of the RFB wheel "button".
      const std::uint32_t bit = (flags & PTR_FLAGS_WHEEL_NEGATIVE) ? (1u << 4) : (1u << 3);
      (void)session_->input(PointerInput{x, y, buttons_ | bit});
    }
    if (!session_->input(PointerInput{x, y, buttons_})) return;
  }
  if (target_) target_->sendMouse(flags, x, y);
}

void RdpConnection::onExtendedMouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  if (session_ && !session_->input(PointerInput{x, y, buttons_})) return;
  if (target_) target_->sendExtendedMouse(flags, x, y);
}

void RdpConnection::onRefresh(const DirtyRegion* area) {
  withScreen([&](const Frame& screen) {
    sendScreen(screen, area ? *area : DirtyRegion(screen.bounds()));
  });
}

void RdpConnection::onSuppressOutput(bool allow) {
  withScreen([&](const Frame& screen) {
    client_visible_ = allow;
    if (allow) {
      sendScreen(screen, DirtyRegion(screen.bounds()));
      if (clientShowing()) resendPointer();
    }
  });
}

void RdpConnection::startClipboard() {
  if (!deps_.opts.clipboard || cliprdr_ || !vcm_) return;
  if (!WTSVirtualChannelManagerIsChannelJoined(vcm_, CLIPRDR_SVC_CHANNEL_NAME)) return;
  cliprdr_ = cliprdr_server_context_new(vcm_);
  if (!cliprdr_) return;
  cliprdr_->rdpcontext = peer_->context;
  cliprdr_->custom = &clipboard_;
  cliprdr_->useLongFormatNames = TRUE;
  cliprdr_->streamFileClipEnabled = FALSE;
  cliprdr_->fileClipNoFilePaths = TRUE;
  cliprdr_->canLockClipData = FALSE;
  cliprdr_->autoInitializationSequence = TRUE;
  cliprdr_->ClientCapabilities = cbClientCaps;
  cliprdr_->ClientFormatList = cbClientFormatList;
  cliprdr_->ClientFormatListResponse = cbClientFormatListResponse;
  cliprdr_->ClientFormatDataRequest = cbClientDataRequest;
  cliprdr_->ClientFormatDataResponse = cbClientDataResponse;
  cliprdr_->TempDirectory = cbTempDirectory;
  clipboard_.attach(cliprdr_, [this](const std::string& t) { onClientClipboard(t); }, true);
  if (cliprdr_->Start(cliprdr_) != CHANNEL_RC_OK) {
    spdlog::debug("rdp: clipboard channel did not start");
    clipboard_.detach();
    cliprdr_server_context_free(cliprdr_);
    cliprdr_ = nullptr;
  }
}

void RdpConnection::stopClipboard() {
  if (!cliprdr_) return;
  clipboard_.detach();
  cliprdr_->Stop(cliprdr_);
  cliprdr_server_context_free(cliprdr_);
  cliprdr_ = nullptr;
}

}  // namespace vigil::gateway::rdp
