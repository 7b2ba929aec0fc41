#include "gateway/rdp/rdp_client.h"

#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/client/disp.h>
#include <freerdp/client/rdpgfx.h>
#include <freerdp/event.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/gdi/gfx.h>
#include <freerdp/input.h>
#include <freerdp/session.h>
#include <winpr/synch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <span>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "gateway/callback_guard.h"
#include "gateway/rdp/clipboard.h"
#include "gateway/rdp/freerdp_compat.h"
#include "gateway/rdp/freerdp_process.h"
#include "gateway/rdp/pointer_relay.h"
#include "gateway/rdp/tls_files.h"

namespace vigil::gateway::rdp {

namespace {
struct ClientContext {
  rdpContext base;  // must be first: FreeRDP allocates ContextSize bytes
  RdpClient::Impl* impl;
};

struct HandleCloser {
  void operator()(void* h) const { if (h) CloseHandle(h); }
};
using EventHandle = std::unique_ptr<void, HandleCloser>;

// MS-RDPBCGR 2.2.1.1.1 requestedProtocols: CredSSP (NLA), with or without
// the Early User Authorization Result PDU. FreeRDP 2 keeps the names private.
constexpr UINT32 kProtocolHybrid = 0x00000002;
constexpr UINT32 kProtocolHybridEx = 0x00000008;

// The longest a surface frame's paints are held waiting for its end marker.
constexpr auto kMaxFrameHold = std::chrono::milliseconds(200);
// RemoteFX kept for one held frame at most; past it the frame is re-encoded.
constexpr std::size_t kMaxHeldRfxBytes = 16u << 20;

}  // namespace

std::string_view toString(RdpConnectFailure f) {
  switch (f) {
    case RdpConnectFailure::None: return "none";
    case RdpConnectFailure::Unreachable: return "unreachable";
    case RdpConnectFailure::CertificateRefused: return "certificate refused";
    case RdpConnectFailure::CredentialsRejected: return "credentials rejected";
    case RdpConnectFailure::DesktopTooLarge: return "desktop too large";
    case RdpConnectFailure::Closed: return "closed";
  }
  return "unknown";
}

Status checkDesktopSize(long long width, long long height, int max_width, int max_height) {
  if (width >= 1 && height >= 1 && width <= max_width && height <= max_height) return Status::Ok();
  return Status::Error("target desktop " + std::to_string(width) + "x" + std::to_string(height) +
                       " exceeds max_desktop " + std::to_string(max_width) + "x" +
                       std::to_string(max_height));
}

struct RdpClient::Impl {
  RdpClientOptions opts;
  RdpClientObserver* observer;
  freerdp* instance = nullptr;
  EventHandle stop_event{CreateEventA(nullptr, TRUE, FALSE, nullptr)};
  std::thread thread;

  // Guards `instance` use by input senders against disconnect.
  mutable std::mutex mutex;
  bool connect_attempted = false;
  bool connecting = false;
  bool alive = false;  // connected and not yet disconnected
  bool stopped = false;
  std::string fingerprint;
  std::string subject;
  std::string certificate_error;  // why the server's certificate was refused
  std::condition_variable connect_cv;
  RdpConnectFailure failure = RdpConnectFailure::None;  // connect()'s thread

  // The logon gate (require_logon_confirmation): nothing reaches the observer
  // until the target confirmed the logon. Written by FreeRDP callbacks on the
  // connecting thread (connect() pumps the connection itself until then).
  std::atomic<bool> logon_confirmed{false};
  std::string logon_error;  // a Logon Error Info the target sent, as text
  // A reason to end the connection found inside a callback (a desktop too
  // large); the loop that pumps the connection ends it with this text.
  std::string fatal;
  bool certificate_accepted = false;  // the TLS handshake got past our check
  bool post_connected = false;        // the connection reached PostConnect

  CliprdrClientContext* cliprdr = nullptr;
  // The Display Control channel; `disp_ready` once the target sent its
  // capabilities. Guarded by disp_mutex (layouts come from other threads).
  std::mutex disp_mutex;
  DispClientContext* disp = nullptr;
  bool disp_ready = false;
  TextClipboard<CliprdrClientContext> clipboard;
  int last_w = 0, last_h = 0;
  // The framebuffer FreeRDP's GDI draws into (its primary buffer), so the
  // gateway reads the target's screen without keeping a copy. Held from
  // BeginPaint to EndPaint; other threads read it between paints.
  Frame screen;
  mutable std::mutex paint_mutex;
  int paint_depth = 0;  // paint brackets may nest; the holding thread only
  // Inside a surface frame (frame markers), paints are held and reported
  // once at its end: a target sends one picture as several surface
  // commands, and passing each on made the client (and the recording) show
  // torn pictures at a fraction of the target's rate. Event thread only.
  pSurfaceFrameMarker gdi_frame_marker = nullptr;  // GDI's own handler, chained
  bool in_frame = false;
  std::chrono::steady_clock::time_point frame_began{};
  DirtyRegion frame_region;
  // keep_remotefx: the RemoteFX messages of the open paint bracket, and those
  // of the held frame whose changes they carry whole (frame_rest: changes
  // drawn otherwise). Event thread, paint lock held.
  pSurfaceBits gdi_surface_bits = nullptr;  // GDI's own handler, chained
  std::optional<RfxHeader> rfx_header;      // the target stream's, once it sent one
  std::vector<RfxMessage> bracket_rfx, frame_rfx;
  std::size_t frame_rfx_bytes = 0;
  DirtyRegion frame_rest;
  int pointer_slots = 0;          // the pointer cache size announced to the server
  bool pointer_warned = false;    // a rejected shape is logged once per connection

  static Impl* of(freerdp* inst) {
    return reinterpret_cast<ClientContext*>(inst->context)->impl;
  }
  static Impl* of(rdpContext* ctx) { return reinterpret_cast<ClientContext*>(ctx)->impl; }

  // --- FreeRDP callbacks (connecting thread, then the event thread) ---
  static BOOL preConnect(freerdp* inst);
  static BOOL postConnect(freerdp* inst);
  BOOL postConnectBody(freerdp* inst);
  static void postDisconnect(freerdp* inst);
  static BOOL beginPaint(rdpContext* ctx);
  static BOOL endPaint(rdpContext* ctx);
  static BOOL frameMarker(rdpContext* ctx, const SURFACE_FRAME_MARKER* marker);
  static BOOL surfaceBits(rdpContext* ctx, const SURFACE_BITS_COMMAND* cmd);
  void keepRfx(const SURFACE_BITS_COMMAND& cmd);
  void holdPaint(const DirtyRegion& region);
  void dropRfx();
  void flushFrame();
  static BOOL desktopResize(rdpContext* ctx);
  static int verifyX509(freerdp* inst, const BYTE* data, size_t length, const char* host,
                        UINT16 port, DWORD flags);
  static BOOL authenticate(freerdp*, char**, char**, char**) { return FALSE; }
  static BOOL saveSessionInfo(rdpContext* ctx, UINT32 type, void* data);
  static int logonErrorInfo(freerdp* inst, UINT32 data, UINT32 type);
  static void errorInfo(void* ctx, ErrorInfoEventArgs* e);
  static BOOL pointerPosition(rdpContext* ctx, const POINTER_POSITION_UPDATE* p);
  static BOOL pointerSystem(rdpContext* ctx, const POINTER_SYSTEM_UPDATE* p);
  static BOOL pointerColor(rdpContext* ctx, const POINTER_COLOR_UPDATE* p);
  static BOOL pointerNew(rdpContext* ctx, const POINTER_NEW_UPDATE* p);
  static BOOL pointerLarge(rdpContext* ctx, const POINTER_LARGE_UPDATE* p);
  static BOOL pointerCached(rdpContext* ctx, const POINTER_CACHED_UPDATE* p);
  static void channelConnected(void* ctx, ChannelConnectedEventArgs* e);
  static UINT dispCaps(DispClientContext* ctx, UINT32 max_monitors, UINT32 factor_a, UINT32 factor_b);
  static void channelDisconnected(void* ctx, ChannelDisconnectedEventArgs* e);
  static void channelConnectedBody(void* ctx, ChannelConnectedEventArgs* e);
  static void channelDisconnectedBody(void* ctx, ChannelDisconnectedEventArgs* e);

  void run();
  // Pumps the connection on the calling thread until the target confirms the
  // logon; the error says why not.
  Status waitForLogon();
  // Opens the gate and shows the observer the whole screen as it is now
  // (what was drawn before stayed unreported).
  void confirmLogon(const std::string& how) {
    logon_confirmed = true;
    spdlog::info("rdp-client: target {} confirmed the logon ({})", targetName(), how);
    lockPaint();
    try {
      if (opts.require_logon_confirmation && !screen.empty()) {
        observer->onPaint(screen, DirtyRegion(screen.bounds()));
      }
    } catch (...) {
      unlockPaint();
      throw;
    }
    unlockPaint();
  }
  bool gateOpen() const { return !opts.require_logon_confirmation || logon_confirmed.load(); }
  std::string targetName() const {
    return opts.target_name.empty() ? opts.host + ":" + std::to_string(opts.port)
                                    : opts.target_name;
  }
  void checkSize();
  void lockPaint();
  void unlockPaint();
  void reportPaint();
  bool fitScreen(rdpGdi* gdi, int width, int height);
  void newPointer(UINT32 index, UINT32 bpp, UINT32 width, UINT32 height, UINT32 hot_x,
                  UINT32 hot_y, const BYTE* xor_mask, UINT32 xor_len, const BYTE* and_mask,
                  UINT32 and_len);
};

BOOL RdpClient::Impl::preConnect(freerdp* inst) {
  return guarded("rdp-client: pre-connect", FALSE, [&]() -> BOOL {
    rdpSettings* s = inst->settings;
    setU32(s, FreeRDP_OsMajorType, OSMAJORTYPE_UNIX);
    setU32(s, FreeRDP_OsMinorType, OSMINORTYPE_NATIVE_XSERVER);
    PubSub_SubscribeChannelConnected(inst->context->pubSub, channelConnected);
    PubSub_SubscribeChannelDisconnected(inst->context->pubSub, channelDisconnected);
    PubSub_SubscribeErrorInfo(inst->context->pubSub, errorInfo);
    // The logon notification can come right after activation, before
    // PostConnect: listen from the start.
    inst->update->SaveSessionInfo = saveSessionInfo;
    if (!freerdp_client_load_addins(inst->context->channels, s)) {
      spdlog::warn("rdp-client: could not load channel addins");
      return FALSE;
    }
    return TRUE;
  });
}

// MS-RDPBCGR 2.2.10.1: the server sends Save Session Info once the user is
// logged on (logon info v1/v2, plain notify, or extended info carrying an
// auto-reconnect cookie). Extended info carrying only logon errors comes
// before a logon, and is not a confirmation.
BOOL RdpClient::Impl::saveSessionInfo(rdpContext* ctx, UINT32 type, void* data) {
  return guarded("rdp-client: save session info", TRUE, [&]() -> BOOL {
    Impl* self = of(ctx);
    bool logged_on = type == INFO_TYPE_LOGON || type == INFO_TYPE_LOGON_LONG ||
                     type == INFO_TYPE_LOGON_PLAIN_NOTIFY;
    if (type == INFO_TYPE_LOGON_EXTENDED_INF && data) {
      const auto* ex = static_cast<const logon_info_ex*>(data);
      logged_on = ex->haveCookie && !ex->haveErrorInfo;
    }
    if (logged_on && !self->logon_confirmed.load()) {
      self->confirmLogon("save session info type " + std::to_string(type));
    }
    return TRUE;
  });
}

// MS-RDPBCGR 2.2.5.1.1 Set Error Info: before the logon is confirmed, any
// error the target reports is a failed logon (it usually disconnects next).
void RdpClient::Impl::errorInfo(void* ctx, ErrorInfoEventArgs* e) {
  guardedVoid("rdp-client: error info", [&] {
    Impl* self = of(static_cast<rdpContext*>(ctx));
    if (!e || e->code == 0 || self->logon_confirmed.load()) return;
    const char* name = freerdp_get_error_info_name(e->code);
    const std::string text = std::string("Set Error Info ") + (name ? name : "?");
    spdlog::info("rdp-client: target {} before the logon: {}", self->targetName(), text);
    if (self->logon_error.empty()) self->logon_error = text;
  });
}

// MS-RDPBCGR 2.2.10.1.1.4.1.1: the logon failed (bad password, no
// permission, ...), or only a notice that it continues.
int RdpClient::Impl::logonErrorInfo(freerdp* inst, UINT32 data, UINT32 type) {
  return guarded("rdp-client: logon error info", 1, [&]() -> int {
    Impl* self = of(inst);
    const char* t = freerdp_get_logon_error_info_type(type);
    const char* d = freerdp_get_logon_error_info_data(data);
    const std::string text = std::string(t ? t : "?") + " " + (d ? d : "?");
    if (type == LOGON_MSG_SESSION_CONTINUE || self->logon_confirmed.load()) {
      spdlog::info("rdp-client: target {} logon notice: {}", self->targetName(), text);
      return 1;
    }
    spdlog::info("rdp-client: target {} logon error: {}", self->targetName(), text);
    if (self->logon_error.empty()) self->logon_error = text;
    return 1;
  });
}

namespace {
void keepPixels(void*) {}  // the Frame owns GDI's buffer
}  // namespace

BOOL RdpClient::Impl::postConnect(freerdp* inst) {
  return guarded("rdp-client: post-connect", FALSE, [&]() -> BOOL { return of(inst)->postConnectBody(inst); });
}

BOOL RdpClient::Impl::postConnectBody(freerdp* inst) {
  Impl* d = this;
  rdpSettings* s = inst->settings;
  post_connected = true;
  // The target's announced desktop, checked before anything is allocated for it.
  if (Status st = checkDesktopSize(getU32(s, FreeRDP_DesktopWidth),
                                   getU32(s, FreeRDP_DesktopHeight), opts.max_width,
                                   opts.max_height);
      !st.ok()) {
    spdlog::warn("rdp-client: target {}: {}", targetName(), st.message());
    fatal = st.message();
    failure = RdpConnectFailure::DesktopTooLarge;
    return FALSE;
  }
  {
    std::lock_guard lock(d->paint_mutex);
    d->screen.resize(static_cast<int>(getU32(s, FreeRDP_DesktopWidth)),
                     static_cast<int>(getU32(s, FreeRDP_DesktopHeight)));
  }
  if (!gdi_init_ex(inst, PIXEL_FORMAT_BGRX32, static_cast<UINT32>(d->screen.stride()),
                   d->screen.data(), keepPixels)) {
    return FALSE;
  }
  inst->update->BeginPaint = beginPaint;
  inst->update->EndPaint = endPaint;
  d->gdi_frame_marker = inst->update->SurfaceFrameMarker;
  inst->update->SurfaceFrameMarker = frameMarker;
  if (d->opts.keep_remotefx) {
    d->gdi_surface_bits = inst->update->SurfaceBits;
    inst->update->SurfaceBits = surfaceBits;
  }
  inst->update->DesktopResize = desktopResize;
  // Pointer updates go to the observer as they come (FreeRDP's own pointer
  // cache, registered before PostConnect, would only draw them).
  rdpPointerUpdate* pointer = inst->update->pointer;
  pointer->PointerPosition = pointerPosition;
  pointer->PointerSystem = pointerSystem;
  pointer->PointerColor = pointerColor;
  pointer->PointerNew = pointerNew;
  pointer->PointerLarge = pointerLarge;
  pointer->PointerCached = pointerCached;
  d->last_w = static_cast<int>(inst->context->gdi->width);
  d->last_h = static_cast<int>(inst->context->gdi->height);
  return TRUE;
}

void RdpClient::Impl::postDisconnect(freerdp* inst) {
  guardedVoid("rdp-client: post-disconnect", [&] {
    PubSub_UnsubscribeChannelConnected(inst->context->pubSub, channelConnected);
    PubSub_UnsubscribeChannelDisconnected(inst->context->pubSub, channelDisconnected);
    PubSub_UnsubscribeErrorInfo(inst->context->pubSub, errorInfo);
    if (inst->context->gdi) gdi_free(inst);
  });
}

void RdpClient::Impl::checkSize() {
  rdpGdi* gdi = instance->context->gdi;
  const int w = static_cast<int>(gdi->width), h = static_cast<int>(gdi->height);
  if (w != last_w || h != last_h) {
    last_w = w;
    last_h = h;
    if (gateOpen()) observer->onResize(w, h);
  }
}

void RdpClient::Impl::lockPaint() {
  if (paint_depth++ == 0) paint_mutex.lock();
}

void RdpClient::Impl::unlockPaint() {
  if (paint_depth > 0 && --paint_depth == 0) paint_mutex.unlock();
}

// FreeRDP brackets every drawing into the primary buffer (fast-path and
// slow-path updates, GFX output) with BeginPaint/EndPaint, and always calls
// EndPaint after BeginPaint, even when decoding failed.
BOOL RdpClient::Impl::beginPaint(rdpContext* ctx) {
  return guarded("rdp-client: begin paint", FALSE, [&]() -> BOOL {
    of(ctx)->lockPaint();
    return TRUE;
  });
}

BOOL RdpClient::Impl::endPaint(rdpContext* ctx) {
  Impl* self = of(ctx);
  const BOOL ok = guarded("rdp-client: end paint", FALSE, [&]() -> BOOL {
    self->reportPaint();
    return TRUE;
  });
  self->unlockPaint();
  return ok;
}

void RdpClient::Impl::reportPaint() {
  rdpGdi* gdi = instance->context->gdi;
  if (!gdi || !gdi->primary) return;
  HGDI_WND hwnd = gdi->primary->hdc->hwnd;
  if (hwnd->invalid->null) {
    bracket_rfx.clear();
    return;
  }
  checkSize();
  DirtyRegion region;
  if (hwnd->ninvalid > 0) {
    for (INT32 i = 0; i < hwnd->ninvalid; ++i) {
      const GDI_RGN& r = hwnd->cinvalid[i];
      region.add(Rect{r.x, r.y, r.w, r.h});
    }
  } else {
    region.add(Rect{hwnd->invalid->x, hwnd->invalid->y, hwnd->invalid->w, hwnd->invalid->h});
  }
  hwnd->invalid->null = TRUE;
  hwnd->ninvalid = 0;
  // Before the logon is confirmed the screen is the target's logon UI (or
  // whatever it shows instead): nobody sees it. The gateway reads the whole
  // screen when its client activates, after connect() returned.
  if (!gateOpen()) {
    bracket_rfx.clear();
    return;
  }
  region.clipTo(screen.width(), screen.height());
  if (region.empty()) {
    bracket_rfx.clear();
    return;
  }
  holdPaint(region);
  // A frame left open (a lost or hostile end marker) is passed on anyway.
  if (in_frame && std::chrono::steady_clock::now() - frame_began < kMaxFrameHold) return;
  flushFrame();
}

// Adds one paint bracket's changes to the held frame. Its RemoteFX messages
// go with them only if they carry every change of the bracket: anything
// else drawn there (an order, a bitmap) must be encoded from the screen.
void RdpClient::Impl::holdPaint(const DirtyRegion& region) {
  frame_region.add(region);
  std::vector<RfxMessage> msgs;
  std::swap(msgs, bracket_rfx);
  const auto inside = [&](const Rect& r) {
    return std::any_of(msgs.begin(), msgs.end(),
                       [&](const RfxMessage& m) { return m.dest.intersect(r) == r; });
  };
  std::size_t bytes = 0;
  for (const RfxMessage& m : msgs) bytes += m.bytes.size();
  if (msgs.empty() || !std::all_of(region.rects().begin(), region.rects().end(), inside) ||
      frame_rfx_bytes + bytes > kMaxHeldRfxBytes) {
    frame_rest.add(region);
    return;
  }
  frame_rfx_bytes += bytes;
  for (RfxMessage& m : msgs) frame_rfx.push_back(std::move(m));
}

void RdpClient::Impl::dropRfx() {
  bracket_rfx.clear();
  frame_rfx.clear();
  frame_rfx_bytes = 0;
  frame_rest.clear();
}

BOOL RdpClient::Impl::surfaceBits(rdpContext* ctx, const SURFACE_BITS_COMMAND* cmd) {
  Impl* self = of(ctx);
  const BOOL ok = self->gdi_surface_bits ? self->gdi_surface_bits(ctx, cmd) : FALSE;
  if (ok) guardedVoid("rdp-client: surface bits", [&] { self->keepRfx(*cmd); });
  return ok;
}

// Called after GDI decoded `cmd` into the screen without error.
void RdpClient::Impl::keepRfx(const SURFACE_BITS_COMMAND& cmd) {
  if (cmd.bmp.codecID != RDP_CODEC_ID_REMOTEFX || !cmd.bmp.bitmapData) return;
  const std::span<const std::uint8_t> bytes(cmd.bmp.bitmapData, cmd.bmp.bitmapDataLength);
  // Followed from the first message: the target sends its header once,
  // usually while the logon gate is still closed.
  if (auto h = readRfxHeader(bytes)) rfx_header = *h;
  if (!rfx_header || !gateOpen()) return;
  // The edges come from the target: bounded before any arithmetic.
  const auto edge = [](UINT32 v) { return static_cast<int>(std::min<UINT32>(v, 0xFFFF)); };
  const int left = edge(cmd.destLeft), top = edge(cmd.destTop);
  const Rect dest =
      Rect{left, top, edge(cmd.destRight) - left, edge(cmd.destBottom) - top}.intersect(screen.bounds());
  if (dest.empty()) return;
  bracket_rfx.push_back(
      RfxMessage{dest, *rfx_header, std::vector<std::uint8_t>(bytes.begin(), bytes.end())});
}

// Called with the paint lock held (or from the event thread between paints:
// the screen then changes only on this thread).
void RdpClient::Impl::flushFrame() {
  if (frame_region.empty()) return;
  DirtyRegion region;
  std::swap(region, frame_region);
  region.clipTo(screen.width(), screen.height());
  RfxPaint rfx{std::move(frame_rfx), std::move(frame_rest)};
  dropRfx();
  if (region.empty()) return;
  if (rfx.messages.empty()) {
    observer->onPaint(screen, region);
  } else {
    rfx.rest.clipTo(screen.width(), screen.height());
    observer->onPaintRfx(screen, region, rfx);
  }
}

BOOL RdpClient::Impl::frameMarker(rdpContext* ctx, const SURFACE_FRAME_MARKER* marker) {
  Impl* self = of(ctx);
  const BOOL ok = self->gdi_frame_marker ? self->gdi_frame_marker(ctx, marker) : TRUE;
  guardedVoid("rdp-client: frame marker", [&] {
    if (marker->frameAction == SURFACECMD_FRAMEACTION_BEGIN) {
      self->in_frame = true;
      self->frame_began = std::chrono::steady_clock::now();
      return;
    }
    self->in_frame = false;
    self->lockPaint();
    self->flushFrame();
    self->unlockPaint();
  });
  return ok;
}

// Resizes the screen and points GDI at its (possibly moved) pixels.
bool RdpClient::Impl::fitScreen(rdpGdi* gdi, int width, int height) {
  screen.resize(width, height);
  return gdi_resize_ex(gdi, static_cast<UINT32>(width), static_cast<UINT32>(height),
                       static_cast<UINT32>(screen.stride()), PIXEL_FORMAT_BGRX32, screen.data(),
                       keepPixels);
}

BOOL RdpClient::Impl::desktopResize(rdpContext* ctx) {
  Impl* self = of(ctx);
  return guarded("rdp-client: desktop resize", FALSE, [&]() -> BOOL {
    rdpSettings* s = ctx->settings;
    const UINT32 w = getU32(s, FreeRDP_DesktopWidth), h = getU32(s, FreeRDP_DesktopHeight);
    // Checked before the screen grows: the size comes from the target.
    if (Status st = checkDesktopSize(w, h, self->opts.max_width, self->opts.max_height);
        !st.ok()) {
      spdlog::warn("rdp-client: target {}: {}", self->targetName(), st.message());
      if (self->fatal.empty()) self->fatal = st.message();
      // GFX's Reset Graphics ignores our answer: the loop ends the connection.
      SetEvent(self->stop_event.get());
      return FALSE;
    }
    self->lockPaint();
    bool ok = false;
    try {
      self->dropRfx();  // drawn for the old size; the new screen is sent whole
      ok = self->fitScreen(ctx->gdi, static_cast<int>(w), static_cast<int>(h));
      if (ok) self->checkSize();
    } catch (...) {
      self->unlockPaint();
      throw;
    }
    self->unlockPaint();
    return ok ? TRUE : FALSE;
  });
}

// FreeRDP has parsed and length-checked these; they are checked again here
// (bounds, hot spot, exact mask lengths) because the server is untrusted and
// the shape goes on to another client. Callbacks return TRUE even for a
// rejected shape: a bad cursor is no reason to drop the session.
BOOL RdpClient::Impl::pointerPosition(rdpContext* ctx, const POINTER_POSITION_UPDATE* p) {
  return guarded("rdp-client: pointerPosition", TRUE, [&]() -> BOOL {
    PointerUpdate u;
    u.kind = PointerUpdate::Kind::Position;
    u.x = static_cast<int>(p->xPos);
    u.y = static_cast<int>(p->yPos);
    if (of(ctx)->gateOpen()) of(ctx)->observer->onPointer(u);
    return TRUE;
  });
}

BOOL RdpClient::Impl::pointerSystem(rdpContext* ctx, const POINTER_SYSTEM_UPDATE* p) {
  return guarded("rdp-client: pointerSystem", TRUE, [&]() -> BOOL {
    PointerUpdate u;
    u.kind = p->type == SYSPTR_NULL ? PointerUpdate::Kind::Hidden : PointerUpdate::Kind::Default;
    if (of(ctx)->gateOpen()) of(ctx)->observer->onPointer(u);
    return TRUE;
  });
}

BOOL RdpClient::Impl::pointerColor(rdpContext* ctx, const POINTER_COLOR_UPDATE* p) {
  return guarded("rdp-client: pointerColor", TRUE, [&]() -> BOOL {
    of(ctx)->newPointer(p->cacheIndex, 24, p->width, p->height, p->xPos, p->yPos, p->xorMaskData,
                        p->lengthXorMask, p->andMaskData, p->lengthAndMask);
    return TRUE;
  });
}

BOOL RdpClient::Impl::pointerNew(rdpContext* ctx, const POINTER_NEW_UPDATE* p) {
  return guarded("rdp-client: pointerNew", TRUE, [&]() -> BOOL {
    const POINTER_COLOR_UPDATE& c = p->colorPtrAttr;
    of(ctx)->newPointer(c.cacheIndex, p->xorBpp, c.width, c.height, c.xPos, c.yPos, c.xorMaskData,
                        c.lengthXorMask, c.andMaskData, c.lengthAndMask);
    return TRUE;
  });
}

BOOL RdpClient::Impl::pointerLarge(rdpContext* ctx, const POINTER_LARGE_UPDATE* p) {
  return guarded("rdp-client: pointerLarge", TRUE, [&]() -> BOOL {
    of(ctx)->newPointer(p->cacheIndex, p->xorBpp, p->width, p->height, p->hotSpotX, p->hotSpotY,
                        p->xorMaskData, p->lengthXorMask, p->andMaskData, p->lengthAndMask);
    return TRUE;
  });
}

BOOL RdpClient::Impl::pointerCached(rdpContext* ctx, const POINTER_CACHED_UPDATE* p) {
  return guarded("rdp-client: pointerCached", TRUE, [&]() -> BOOL {
    Impl* self = of(ctx);
    PointerUpdate u;
    if (p->cacheIndex < static_cast<UINT32>(self->pointer_slots)) {
      u.kind = PointerUpdate::Kind::Cached;
      u.cache_index = static_cast<int>(p->cacheIndex);
    }
    if (self->gateOpen()) self->observer->onPointer(u);
    return TRUE;
  });
}

void RdpClient::Impl::newPointer(UINT32 index, UINT32 bpp, UINT32 width, UINT32 height,
                                 UINT32 hot_x, UINT32 hot_y, const BYTE* xor_mask,
                                 UINT32 xor_len, const BYTE* and_mask, UINT32 and_len) {
  PointerUpdate u;
  u.kind = PointerUpdate::Kind::New;
  u.cache_index = static_cast<int>(index);
  Status st = Status::Ok();
  if (index >= static_cast<UINT32>(pointer_slots)) {
    u.kind = PointerUpdate::Kind::Default;
    st = Status::Error("pointer cache slot " + std::to_string(index) + " beyond the " +
                       std::to_string(pointer_slots) + " announced");
  } else {
    // FreeRDP's fields are 16-bit on the wire, so they fit an int; the
    // bounds are checkPointerShape's.
    PointerShape s;
    s.width = static_cast<int>(std::min<UINT32>(width, 0xFFFF));
    s.height = static_cast<int>(std::min<UINT32>(height, 0xFFFF));
    s.hot_x = static_cast<int>(std::min<UINT32>(hot_x, 0xFFFF));
    s.hot_y = static_cast<int>(std::min<UINT32>(hot_y, 0xFFFF));
    s.xor_bpp = static_cast<int>(std::min<UINT32>(bpp, 0xFFFF));
    // Copy no more than the size allows; a longer mask is rejected below.
    const std::size_t xor_max = pointerXorMaskBytes(s.width, s.height, s.xor_bpp) + 1;
    const std::size_t and_max = pointerAndMaskBytes(s.width, s.height) + 1;
    if (xor_mask) s.xor_mask.assign(xor_mask, xor_mask + std::min<std::size_t>(xor_len, xor_max));
    if (and_mask) s.and_mask.assign(and_mask, and_mask + std::min<std::size_t>(and_len, and_max));
    // A 32 bpp shape may leave out its AND mask (the alpha says what shows):
    // an all-zero mask means the same and keeps every shape in one form.
    if (s.xor_bpp == 32 && s.and_mask.empty()) {
      s.and_mask.assign(pointerAndMaskBytes(s.width, s.height), 0);
    }
    st = checkPointerShape(s);
    if (st.ok()) u.shape = std::move(s);
  }
  if (!st.ok() && !pointer_warned) {
    pointer_warned = true;
    spdlog::warn("rdp-client: {}: showing the default pointer instead", st.message());
  }
  if (gateOpen()) observer->onPointer(u);
}

// Every server certificate comes here (ExternalCertificateManagement):
// FreeRDP's own store under $HOME and its CA check are not used, so the
// gateway decides by the fingerprint alone (opts.check_certificate).
int RdpClient::Impl::verifyX509(freerdp* inst, const BYTE* data, size_t length,
                                const char* host, UINT16 port, DWORD) {
  Impl* self = of(inst);
  const int verdict_code = guarded("rdp-client: certificate check", -1, [&]() -> int {
    const std::string pem(reinterpret_cast<const char*>(data), data ? length : 0);
    auto fp = certificateFingerprint(pem);
    auto subject = certificateSubject(pem);
    Status verdict =
        fp.ok() ? Status::Ok() : Status::Error("the server's certificate is unreadable");
    if (fp.ok()) {
      spdlog::info("rdp-client: server certificate host={}:{} fingerprint={}", host ? host : "",
                   port, *fp);
      {
        // Recorded before the verdict: `vigil trust-target` shows it.
        std::lock_guard lock(self->mutex);
        self->fingerprint = *fp;
        if (subject.ok()) self->subject = *subject;
      }
      if (self->opts.check_certificate) verdict = self->opts.check_certificate(*fp);
    }
    std::lock_guard lock(self->mutex);
    if (verdict.ok()) {
      self->certificate_accepted = true;
      return 1;
    }
    self->certificate_error = verdict.message();
    return -1;
  });
  if (verdict_code != 1) {
    std::lock_guard lock(self->mutex);
    if (self->certificate_error.empty()) self->certificate_error = "the certificate check failed";
  }
  return verdict_code;
}

namespace {
UINT cbMonitorReady(CliprdrClientContext* c, const CLIPRDR_MONITOR_READY*) {
  return guarded("rdp-client: clipboard", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onMonitorReady();
  });
}
UINT cbServerCaps(CliprdrClientContext* c, const CLIPRDR_CAPABILITIES*) {
  return guarded("rdp-client: clipboard", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onCapabilities();
  });
}
UINT cbServerFormatList(CliprdrClientContext* c, const CLIPRDR_FORMAT_LIST* l) {
  return guarded("rdp-client: clipboard", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatList(l);
  });
}
UINT cbServerFormatListResponse(CliprdrClientContext*, const CLIPRDR_FORMAT_LIST_RESPONSE*) {
  return CHANNEL_RC_OK;
}
UINT cbServerDataRequest(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
  return guarded("rdp-client: clipboard", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatDataRequest(r);
  });
}
UINT cbServerDataResponse(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
  return guarded("rdp-client: clipboard", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatDataResponse(r);
  });
}
}  // namespace

void RdpClient::Impl::channelConnected(void* ctx, ChannelConnectedEventArgs* e) {
  guardedVoid("rdp-client: channel connected", [&] { channelConnectedBody(ctx, e); });
}

void RdpClient::Impl::channelConnectedBody(void* ctx, ChannelConnectedEventArgs* e) {
  auto* context = static_cast<rdpContext*>(ctx);
  Impl* self = of(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_init(context->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
    spdlog::debug("rdp-client: graphics pipeline up");
  } else if (std::strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) {
    auto* disp = static_cast<DispClientContext*>(e->pInterface);
    disp->custom = self;
    disp->DisplayControlCaps = dispCaps;
    std::lock_guard lock(self->disp_mutex);
    self->disp = disp;
    self->disp_ready = false;
  } else if (std::strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0) {
    auto* cliprdr = static_cast<CliprdrClientContext*>(e->pInterface);
    self->cliprdr = cliprdr;
    cliprdr->custom = &self->clipboard;
    cliprdr->MonitorReady = cbMonitorReady;
    cliprdr->ServerCapabilities = cbServerCaps;
    cliprdr->ServerFormatList = cbServerFormatList;
    cliprdr->ServerFormatListResponse = cbServerFormatListResponse;
    cliprdr->ServerFormatDataRequest = cbServerDataRequest;
    cliprdr->ServerFormatDataResponse = cbServerDataResponse;
    self->clipboard.attach(
        cliprdr,
        [self](const std::string& text) {
          if (self->gateOpen()) self->observer->onClipboardText(text);
        },
        false);
  }
}

// MS-RDPEDISP 2.2.2.1: the target opened Display Control and says what
// layouts it takes.
UINT RdpClient::Impl::dispCaps(DispClientContext* ctx, UINT32 max_monitors, UINT32 factor_a, UINT32 factor_b) {
  return guarded("rdp-client: display control caps", static_cast<UINT>(ERROR_INTERNAL_ERROR), [&]() -> UINT {
    auto* self = static_cast<Impl*>(ctx->custom);
    {
      std::lock_guard lock(self->disp_mutex);
      if (self->disp != ctx) return CHANNEL_RC_OK;
      self->disp_ready = true;
    }
    spdlog::debug("rdp-client: target {} offers display control monitors={} area={}x{}", self->targetName(),
                  max_monitors, factor_a, factor_b);
    self->observer->onDisplayControl(DisplayCaps{max_monitors, factor_a, factor_b});
    return CHANNEL_RC_OK;
  });
}

void RdpClient::Impl::channelDisconnected(void* ctx, ChannelDisconnectedEventArgs* e) {
  guardedVoid("rdp-client: channel disconnected", [&] { channelDisconnectedBody(ctx, e); });
}

void RdpClient::Impl::channelDisconnectedBody(void* ctx, ChannelDisconnectedEventArgs* e) {
  auto* context = static_cast<rdpContext*>(ctx);
  Impl* self = of(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_uninit(context->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
  } else if (std::strcmp(e->name, DISP_DVC_CHANNEL_NAME) == 0) {
    std::lock_guard lock(self->disp_mutex);
    self->disp = nullptr;
    self->disp_ready = false;
  } else if (std::strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0) {
    self->clipboard.detach();
    self->cliprdr = nullptr;
  }
}

void RdpClient::Impl::run() {
  std::string reason = "disconnected";
  HANDLE handles[MAXIMUM_WAIT_OBJECTS];
  for (;;) {
    DWORD n = freerdp_get_event_handles(instance->context, handles, MAXIMUM_WAIT_OBJECTS - 1);
    if (n == 0) {
      reason = "no event handles";
      break;
    }
    handles[n++] = stop_event.get();
    // Paints held for a frame whose end never comes go out when it is due.
    DWORD timeout = INFINITE;
    if (in_frame && !frame_region.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          frame_began + kMaxFrameHold - std::chrono::steady_clock::now());
      timeout = static_cast<DWORD>(std::max<std::int64_t>(0, left.count()));
    }
    const DWORD st = WaitForMultipleObjects(n, handles, FALSE, timeout);
    if (st == WAIT_FAILED) {
      reason = "wait failed";
      break;
    }
    if (st == WAIT_TIMEOUT) {
      in_frame = false;
      lockPaint();
      guardedVoid("rdp-client: held frame", [&] { flushFrame(); });
      unlockPaint();
      continue;
    }
    if (WaitForSingleObject(stop_event.get(), 0) == WAIT_OBJECT_0) {
      reason = "closed";
      break;
    }
    if (!fatal.empty()) break;
    if (!freerdp_check_event_handles(instance->context)) {
      reason = freerdpError(instance->context);
      break;
    }
    if (freerdp_shall_disconnect(instance)) {
      reason = "server ended the session";
      break;
    }
  }
  if (!fatal.empty()) reason = fatal;  // e.g. the target grew its desktop too large
  observer->onDisconnected(reason);
}

RdpClient::RdpClient(RdpClientOptions opts, RdpClientObserver* observer)
    : impl_(std::make_unique<Impl>()) {
  impl_->opts = std::move(opts);
  impl_->observer = observer;
}

RdpClient::~RdpClient() {
  stop();
  if (impl_->instance) {
    freerdp_context_free(impl_->instance);
    freerdp_free(impl_->instance);
  }
}

namespace {
// FreeRDP's verdicts on credentials (NLA, or the server's own words).
bool credentialsError(UINT32 code) {
  switch (code) {
    case FREERDP_ERROR_AUTHENTICATION_FAILED:
    case FREERDP_ERROR_CONNECT_PASSWORD_EXPIRED:
    case FREERDP_ERROR_CONNECT_PASSWORD_MUST_CHANGE:
    case FREERDP_ERROR_CONNECT_ACCOUNT_DISABLED:
    case FREERDP_ERROR_CONNECT_PASSWORD_CERTAINLY_EXPIRED:
    case FREERDP_ERROR_CONNECT_CLIENT_REVOKED:
    case FREERDP_ERROR_CONNECT_LOGON_FAILURE:
    case FREERDP_ERROR_CONNECT_WRONG_PASSWORD:
    case FREERDP_ERROR_CONNECT_ACCESS_DENIED:
    case FREERDP_ERROR_CONNECT_ACCOUNT_RESTRICTION:
    case FREERDP_ERROR_CONNECT_ACCOUNT_LOCKED_OUT:
    case FREERDP_ERROR_CONNECT_ACCOUNT_EXPIRED:
    case FREERDP_ERROR_CONNECT_LOGON_TYPE_NOT_GRANTED:
    case FREERDP_ERROR_CONNECT_NO_OR_MISSING_CREDENTIALS:
      return true;
    default:
      return false;
  }
}
}  // namespace

Status RdpClient::Impl::waitForLogon() {
  rdpSettings* s = instance->settings;
  if (getU32(s, FreeRDP_SelectedProtocol) & (kProtocolHybrid | kProtocolHybridEx)) {
    // CredSSP checked the credentials before the connection went on.
    confirmLogon("NLA");
    return Status::Ok();
  }
  const std::string rejected = "target " + targetName() + " rejected the vaulted credentials";
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.logon_timeout_ms);
  HANDLE handles[MAXIMUM_WAIT_OBJECTS];
  while (!logon_confirmed.load()) {
    if (!logon_error.empty()) return Status::Error(rejected + " (" + logon_error + ")");
    if (!fatal.empty()) return Status::Error(fatal);
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Status::Error(rejected + " (no logon confirmation within " +
                           std::to_string(opts.logon_timeout_ms) +
                           " ms; a target that shows its own logon screen never confirms)");
    }
    DWORD n = freerdp_get_event_handles(instance->context, handles, MAXIMUM_WAIT_OBJECTS - 1);
    if (n == 0) return Status::Error("no event handles");
    handles[n++] = stop_event.get();
    if (WaitForMultipleObjects(n, handles, FALSE, static_cast<DWORD>(left.count())) ==
        WAIT_FAILED) {
      return Status::Error("wait failed");
    }
    if (WaitForSingleObject(stop_event.get(), 0) == WAIT_OBJECT_0) {
      if (!fatal.empty()) return Status::Error(fatal);
      return Status::Error("closed while waiting for the logon");
    }
    if (!freerdp_check_event_handles(instance->context) || freerdp_shall_disconnect(instance)) {
      if (!fatal.empty()) return Status::Error(fatal);
      if (!logon_error.empty()) return Status::Error(rejected + " (" + logon_error + ")");
      return Status::Error(rejected + " (it ended the connection before confirming the logon: " +
                           freerdpError(instance->context) + ")");
    }
  }
  return Status::Ok();
}

RdpConnectFailure RdpClient::lastFailure() const { return impl_->failure; }

Status RdpClient::connect() {
  Impl& d = *impl_;
  if (d.instance) return Status::Error("connect() called twice");
  d.failure = RdpConnectFailure::Unreachable;  // until it worked
  if (Status st = prepareFreerdpProcess(); !st.ok()) return st;
  freerdp* inst = freerdp_new();
  if (!inst) return Status::Error("out of memory creating an RDP client");
  d.instance = inst;
  inst->ContextSize = sizeof(ClientContext);
  inst->PreConnect = Impl::preConnect;
  inst->PostConnect = Impl::postConnect;
  inst->PostDisconnect = Impl::postDisconnect;
  inst->Authenticate = Impl::authenticate;
  inst->GatewayAuthenticate = Impl::authenticate;
  inst->VerifyX509Certificate = Impl::verifyX509;
  inst->LogonErrorInfo = Impl::logonErrorInfo;
  if (!freerdp_context_new(inst)) return Status::Error("cannot create an RDP client context");
  reinterpret_cast<ClientContext*>(inst->context)->impl = &d;

  rdpSettings* s = inst->settings;
  const RdpClientOptions& o = d.opts;
  d.pointer_slots = std::clamp(o.pointer_cache_size, 0, kMaxPointerCacheSize);
  bool ok = setString(s, FreeRDP_ServerHostname, o.host) &&
            setU32(s, FreeRDP_ServerPort, o.port) &&
            setString(s, FreeRDP_Username, o.username) &&
            setString(s, FreeRDP_Password, o.password) &&
            (o.domain.empty() || setString(s, FreeRDP_Domain, o.domain)) &&
            setU32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(o.width)) &&
            setU32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(o.height)) &&
            setU32(s, FreeRDP_ColorDepth, static_cast<UINT32>(o.color_depth)) &&
            setU32(s, FreeRDP_KeyboardLayout, o.keyboard_layout) &&
            setBool(s, FreeRDP_SoftwareGdi, true) &&
            setBool(s, FreeRDP_RemoteFxCodec, o.remotefx) &&
            setBool(s, FreeRDP_NSCodec, o.remotefx) &&
            setBool(s, FreeRDP_FastPathOutput, true) &&
            setBool(s, FreeRDP_FastPathInput, true) &&
            setBool(s, FreeRDP_FrameMarkerCommandEnabled, true) &&
            setBool(s, FreeRDP_SurfaceFrameMarkerEnabled, true) &&
            setBool(s, FreeRDP_SupportGraphicsPipeline, o.gfx) &&
            setBool(s, FreeRDP_GfxH264, o.gfx) &&
            setBool(s, FreeRDP_GfxAVC444, o.gfx) &&
            setBool(s, FreeRDP_GfxAVC444v2, o.gfx) &&
            setBool(s, FreeRDP_RedirectClipboard, o.clipboard) &&
            setBool(s, FreeRDP_SupportDisplayControl, o.display_control) &&
            setBool(s, FreeRDP_ColorPointerFlag, true) &&
            setU32(s, FreeRDP_PointerCacheSize, static_cast<UINT32>(d.pointer_slots)) &&
            setU32(s, FreeRDP_LargePointerFlag,
                   o.large_pointers ? (kLargePointer96x96 | kLargePointer384x384) : 0) &&
            setBool(s, FreeRDP_AutoReconnectionEnabled, false) &&
            setBool(s, FreeRDP_AudioPlayback, false) && setBool(s, FreeRDP_AudioCapture, false) &&
            setBool(s, FreeRDP_RemoteConsoleAudio, false) &&
            setBool(s, FreeRDP_DeviceRedirection, false) &&
            setBool(s, FreeRDP_IgnoreCertificate, false) &&
            setBool(s, FreeRDP_ExternalCertificateManagement, true) &&
            // TLS or NLA only: Standard RDP Security has no certificate to
            // check, so the vaulted credentials could go to anyone.
            setBool(s, FreeRDP_RdpSecurity, false) && setBool(s, FreeRDP_TlsSecurity, true) &&
            setBool(s, FreeRDP_NlaSecurity, true) &&
            setBool(s, FreeRDP_AllowFontSmoothing, true) &&
            setBool(s, FreeRDP_AsyncUpdate, false) &&
            setBool(s, FreeRDP_AsyncChannels, false) &&
            setU32(s, FreeRDP_TcpConnectTimeout, static_cast<UINT32>(o.connect_timeout_ms));
  if (!ok) return Status::Error("cannot set RDP client settings");
  // Servers that need the large reassembly buffer (RemoteFX, GFX).
  setU32(s, FreeRDP_MultifragMaxRequestSize, 0x3F0000);

  {
    std::lock_guard lock(d.mutex);
    if (d.stopped) return Status::Error("closed before connecting");
    d.connect_attempted = true;
    d.connecting = true;
  }
  // A handshake that stalls is aborted at the deadline.
  bool timed_out = false;  // guarded by d.mutex
  std::thread watchdog([&d, &timed_out] {
    std::unique_lock lock(d.mutex);
    if (!d.connect_cv.wait_for(lock, std::chrono::milliseconds(d.opts.connect_timeout_ms),
                               [&d] { return !d.connecting; })) {
      timed_out = true;
      freerdp_abort_connect(d.instance);
    }
  });
  const BOOL connected = freerdp_connect(inst);
  bool stopped = false;
  std::string certificate_error;
  {
    std::lock_guard lock(d.mutex);
    d.connecting = false;
    stopped = d.stopped;
    certificate_error = d.certificate_error;
  }
  d.connect_cv.notify_all();
  watchdog.join();
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (!connected) {
    const UINT32 code = freerdp_get_last_error(inst->context);
    if (stopped) {
      d.failure = RdpConnectFailure::Closed;
      return Status::Error("closed while connecting");
    }
    if (!certificate_error.empty()) {
      d.failure = RdpConnectFailure::CertificateRefused;
      return Status::Error("certificate refused: " + certificate_error);
    }
    if (!d.fatal.empty()) return Status::Error(d.fatal);  // failure set with it
    // NLA was chosen and the certificate accepted, but the connection never
    // got to PostConnect: the target turned the credentials down (a server
    // often just closes the connection, which FreeRDP 2 reports as a
    // transport error; a network failure in that moment reads the same).
    bool accepted = false;
    {
      std::lock_guard lock(d.mutex);
      accepted = d.certificate_accepted;
    }
    const bool nla = (getU32(s, FreeRDP_SelectedProtocol) & (kProtocolHybrid | kProtocolHybridEx)) != 0;
    if (credentialsError(code) || (nla && accepted && !d.post_connected)) {
      d.failure = RdpConnectFailure::CredentialsRejected;
      return Status::Error("target " + d.targetName() + " rejected the vaulted credentials (" +
                           freerdpError(inst->context) + ")");
    }
    d.failure = RdpConnectFailure::Unreachable;
    std::string why = freerdpError(inst->context);
    {
      std::lock_guard lock(d.mutex);
      if (timed_out) why = "no answer within " + std::to_string(o.connect_timeout_ms) + " ms";
    }
    return Status::Error("target " + d.targetName() + " unreachable: cannot connect to " + where +
                         " (" + why + ")");
  }
  if (stopped) {
    d.failure = RdpConnectFailure::Closed;
    return Status::Error("closed while connecting");
  }
  if (o.require_logon_confirmation) {
    if (Status st = d.waitForLogon(); !st.ok()) {
      std::lock_guard lock(d.mutex);
      if (d.stopped) {
        d.failure = RdpConnectFailure::Closed;
      } else if (!d.fatal.empty()) {
        d.failure = RdpConnectFailure::DesktopTooLarge;
      } else {
        d.failure = RdpConnectFailure::CredentialsRejected;
      }
      spdlog::info("rdp-client: {}", st.message());
      return st;
    }
  }
  {
    std::lock_guard lock(d.mutex);
    if (d.stopped) {
      d.failure = RdpConnectFailure::Closed;
      return Status::Error("closed while connecting");
    }
    d.alive = true;
  }
  d.failure = RdpConnectFailure::None;
  return Status::Ok();
}

void RdpClient::start() {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  if (!d.alive || d.thread.joinable()) return;
  d.thread = std::thread([&d] {
    nameThisThread("rdp-target");
    d.run();
  });
}

void RdpClient::requestStop() {
  Impl& d = *impl_;
  std::lock_guard lock(d.mutex);
  d.stopped = true;
  SetEvent(d.stop_event.get());
  if (d.connecting && d.instance) freerdp_abort_connect(d.instance);
}

bool RdpClient::running() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->alive;
}

void RdpClient::stop() {
  Impl& d = *impl_;
  requestStop();
  if (d.thread.joinable() && d.thread.get_id() != std::this_thread::get_id()) d.thread.join();
  bool disconnect = false;
  {
    std::lock_guard lock(d.mutex);
    disconnect = d.connect_attempted;
    d.connect_attempted = false;
    d.alive = false;
  }
  if (disconnect) freerdp_disconnect(d.instance);
}

int RdpClient::width() const {
  return impl_->instance ? static_cast<int>(getU32(impl_->instance->settings, FreeRDP_DesktopWidth))
                         : 0;
}
int RdpClient::height() const {
  return impl_->instance
             ? static_cast<int>(getU32(impl_->instance->settings, FreeRDP_DesktopHeight))
             : 0;
}

void RdpClient::readScreen(const std::function<void(const Frame&)>& read) const {
  std::lock_guard lock(impl_->paint_mutex);
  read(impl_->screen);
}

std::string RdpClient::serverFingerprint() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->fingerprint;
}

std::string RdpClient::serverSubject() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->subject;
}

bool RdpClient::sendKey(std::uint16_t flags, std::uint16_t scancode) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->alive) return false;
  return freerdp_input_send_keyboard_event(impl_->instance->input, flags, scancode);
}

bool RdpClient::sendUnicode(std::uint16_t flags, std::uint16_t code) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->alive) return false;
  return freerdp_input_send_unicode_keyboard_event(impl_->instance->input, flags, code);
}

bool RdpClient::sendMouse(std::uint16_t flags, int x, int y) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->alive) return false;
  return freerdp_input_send_mouse_event(impl_->instance->input, flags,
                                        static_cast<UINT16>(x), static_cast<UINT16>(y));
}

bool RdpClient::sendExtendedMouse(std::uint16_t flags, int x, int y) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->alive) return false;
  return freerdp_input_send_extended_mouse_event(impl_->instance->input, flags,
                                                 static_cast<UINT16>(x), static_cast<UINT16>(y));
}

bool RdpClient::sendSynchronize(std::uint32_t toggle_flags) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->alive) return false;
  return freerdp_input_send_synchronize_event(impl_->instance->input, toggle_flags);
}

bool RdpClient::tapKey(std::uint8_t scancode, bool extended) {
  const std::uint16_t ext = extended ? KBD_FLAGS_EXTENDED : 0;
  return sendKey(KBD_FLAGS_DOWN | ext, scancode) && sendKey(KBD_FLAGS_RELEASE | ext, scancode);
}

bool RdpClient::setClipboardText(const std::string& text) {
  return impl_->clipboard.setText(text);
}

bool RdpClient::sendMonitorLayout(const std::vector<MonitorLayout>& layout) {
  if (layout.empty() || layout.size() > kMaxLayoutMonitors) return false;
  std::vector<DISPLAY_CONTROL_MONITOR_LAYOUT> monitors(layout.size());
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const MonitorLayout& m = layout[i];
    DISPLAY_CONTROL_MONITOR_LAYOUT& d = monitors[i];
    d.Flags = m.primary ? DISPLAY_CONTROL_MONITOR_PRIMARY : 0;
    d.Left = m.left;
    d.Top = m.top;
    d.Width = m.width;
    d.Height = m.height;
    d.PhysicalWidth = m.physical_width;
    d.PhysicalHeight = m.physical_height;
    d.Orientation = m.orientation;
    d.DesktopScaleFactor = m.desktop_scale;
    d.DeviceScaleFactor = m.device_scale;
  }
  // The channel writes through FreeRDP's channel queue: safe from any thread.
  std::lock_guard lock(impl_->disp_mutex);
  if (!impl_->disp || !impl_->disp_ready) return false;
  return impl_->disp->SendMonitorLayout(impl_->disp, static_cast<UINT32>(monitors.size()), monitors.data()) ==
         CHANNEL_RC_OK;
}

}  // namespace vigil::gateway::rdp
