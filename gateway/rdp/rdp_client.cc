#include "gateway/rdp/rdp_client.h"

#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/client/rdpgfx.h>
#include <freerdp/event.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/gdi/gfx.h>
#include <freerdp/input.h>
#include <winpr/synch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
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
}  // namespace

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
  std::string certificate_error;  // why the server's certificate was refused
  std::condition_variable connect_cv;

  CliprdrClientContext* cliprdr = nullptr;
  TextClipboard<CliprdrClientContext> clipboard;
  int last_w = 0, last_h = 0;
  // The framebuffer FreeRDP's GDI draws into (its primary buffer), so the
  // gateway reads the target's screen without keeping a copy. Held from
  // BeginPaint to EndPaint; other threads read it between paints.
  Frame screen;
  mutable std::mutex paint_mutex;
  int paint_depth = 0;  // paint brackets may nest; the holding thread only
  int pointer_slots = 0;          // the pointer cache size announced to the server
  bool pointer_warned = false;    // a rejected shape is logged once per connection

  static Impl* of(freerdp* inst) {
    return reinterpret_cast<ClientContext*>(inst->context)->impl;
  }
  static Impl* of(rdpContext* ctx) { return reinterpret_cast<ClientContext*>(ctx)->impl; }

  // --- FreeRDP callbacks (connecting thread, then the event thread) ---
  static BOOL preConnect(freerdp* inst);
  static BOOL postConnect(freerdp* inst);
  static void postDisconnect(freerdp* inst);
  static BOOL beginPaint(rdpContext* ctx);
  static BOOL endPaint(rdpContext* ctx);
  static BOOL desktopResize(rdpContext* ctx);
  static int verifyX509(freerdp* inst, const BYTE* data, size_t length, const char* host,
                        UINT16 port, DWORD flags);
  static BOOL authenticate(freerdp*, char**, char**, char**) { return FALSE; }
  static BOOL pointerPosition(rdpContext* ctx, const POINTER_POSITION_UPDATE* p);
  static BOOL pointerSystem(rdpContext* ctx, const POINTER_SYSTEM_UPDATE* p);
  static BOOL pointerColor(rdpContext* ctx, const POINTER_COLOR_UPDATE* p);
  static BOOL pointerNew(rdpContext* ctx, const POINTER_NEW_UPDATE* p);
  static BOOL pointerLarge(rdpContext* ctx, const POINTER_LARGE_UPDATE* p);
  static BOOL pointerCached(rdpContext* ctx, const POINTER_CACHED_UPDATE* p);
  static void channelConnected(void* ctx, ChannelConnectedEventArgs* e);
  static void channelDisconnected(void* ctx, ChannelDisconnectedEventArgs* e);

  void run();
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
  Impl* self = of(inst);
  rdpSettings* s = inst->settings;
  setU32(s, FreeRDP_OsMajorType, OSMAJORTYPE_UNIX);
  setU32(s, FreeRDP_OsMinorType, OSMINORTYPE_NATIVE_XSERVER);
  PubSub_SubscribeChannelConnected(inst->context->pubSub, channelConnected);
  PubSub_SubscribeChannelDisconnected(inst->context->pubSub, channelDisconnected);
  if (!freerdp_client_load_addins(inst->context->channels, s)) {
    spdlog::warn("rdp-client: could not load channel addins");
    return FALSE;
  }
  (void)self;
  return TRUE;
}

namespace {
void keepPixels(void*) {}  // the Frame owns GDI's buffer
}  // namespace

BOOL RdpClient::Impl::postConnect(freerdp* inst) {
  Impl* d = of(inst);
  rdpSettings* s = inst->settings;
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
  PubSub_UnsubscribeChannelConnected(inst->context->pubSub, channelConnected);
  PubSub_UnsubscribeChannelDisconnected(inst->context->pubSub, channelDisconnected);
  if (inst->context->gdi) gdi_free(inst);
}

void RdpClient::Impl::checkSize() {
  rdpGdi* gdi = instance->context->gdi;
  const int w = static_cast<int>(gdi->width), h = static_cast<int>(gdi->height);
  if (w != last_w || h != last_h) {
    last_w = w;
    last_h = h;
    observer->onResize(w, h);
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
  of(ctx)->lockPaint();
  return TRUE;
}

BOOL RdpClient::Impl::endPaint(rdpContext* ctx) {
  Impl* self = of(ctx);
  self->reportPaint();
  self->unlockPaint();
  return TRUE;
}

void RdpClient::Impl::reportPaint() {
  rdpGdi* gdi = instance->context->gdi;
  if (!gdi || !gdi->primary) return;
  HGDI_WND hwnd = gdi->primary->hdc->hwnd;
  if (hwnd->invalid->null) return;
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
  region.clipTo(screen.width(), screen.height());
  if (!region.empty()) observer->onPaint(screen, region);
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
  rdpSettings* s = ctx->settings;
  self->lockPaint();
  const bool ok = self->fitScreen(ctx->gdi, static_cast<int>(getU32(s, FreeRDP_DesktopWidth)),
                                  static_cast<int>(getU32(s, FreeRDP_DesktopHeight)));
  if (ok) self->checkSize();
  self->unlockPaint();
  return ok ? TRUE : FALSE;
}

// FreeRDP has parsed and length-checked these; they are checked again here
// (bounds, hot spot, exact mask lengths) because the server is untrusted and
// the shape goes on to another client. Callbacks return TRUE even for a
// rejected shape: a bad cursor is no reason to drop the session.
BOOL RdpClient::Impl::pointerPosition(rdpContext* ctx, const POINTER_POSITION_UPDATE* p) {
  PointerUpdate u;
  u.kind = PointerUpdate::Kind::Position;
  u.x = static_cast<int>(p->xPos);
  u.y = static_cast<int>(p->yPos);
  of(ctx)->observer->onPointer(u);
  return TRUE;
}

BOOL RdpClient::Impl::pointerSystem(rdpContext* ctx, const POINTER_SYSTEM_UPDATE* p) {
  PointerUpdate u;
  u.kind = p->type == SYSPTR_NULL ? PointerUpdate::Kind::Hidden : PointerUpdate::Kind::Default;
  of(ctx)->observer->onPointer(u);
  return TRUE;
}

BOOL RdpClient::Impl::pointerColor(rdpContext* ctx, const POINTER_COLOR_UPDATE* p) {
  of(ctx)->newPointer(p->cacheIndex, 24, p->width, p->height, p->xPos, p->yPos, p->xorMaskData,
                      p->lengthXorMask, p->andMaskData, p->lengthAndMask);
  return TRUE;
}

BOOL RdpClient::Impl::pointerNew(rdpContext* ctx, const POINTER_NEW_UPDATE* p) {
  const POINTER_COLOR_UPDATE& c = p->colorPtrAttr;
  of(ctx)->newPointer(c.cacheIndex, p->xorBpp, c.width, c.height, c.xPos, c.yPos, c.xorMaskData,
                      c.lengthXorMask, c.andMaskData, c.lengthAndMask);
  return TRUE;
}

BOOL RdpClient::Impl::pointerLarge(rdpContext* ctx, const POINTER_LARGE_UPDATE* p) {
  of(ctx)->newPointer(p->cacheIndex, p->xorBpp, p->width, p->height, p->hotSpotX, p->hotSpotY,
                      p->xorMaskData, p->lengthXorMask, p->andMaskData, p->lengthAndMask);
  return TRUE;
}

BOOL RdpClient::Impl::pointerCached(rdpContext* ctx, const POINTER_CACHED_UPDATE* p) {
  Impl* self = of(ctx);
  PointerUpdate u;
  if (p->cacheIndex < static_cast<UINT32>(self->pointer_slots)) {
    u.kind = PointerUpdate::Kind::Cached;
    u.cache_index = static_cast<int>(p->cacheIndex);
  }
  self->observer->onPointer(u);
  return TRUE;
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
  observer->onPointer(u);
}

// Every server certificate comes here (ExternalCertificateManagement):
// FreeRDP's own store under $HOME and its CA check are not used, so the
// gateway decides by the fingerprint alone (opts.check_certificate).
int RdpClient::Impl::verifyX509(freerdp* inst, const BYTE* data, size_t length,
                                const char* host, UINT16 port, DWORD) {
  Impl* self = of(inst);
  auto fp = certificateFingerprint(std::string(reinterpret_cast<const char*>(data), length));
  Status verdict = fp.ok() ? Status::Ok() : Status::Error("the server's certificate is unreadable");
  if (fp.ok()) {
    spdlog::info("rdp-client: server certificate host={}:{} fingerprint={}", host ? host : "",
                 port, *fp);
    if (self->opts.check_certificate) verdict = self->opts.check_certificate(*fp);
  }
  std::lock_guard lock(self->mutex);
  if (fp.ok()) self->fingerprint = *fp;
  if (verdict.ok()) return 1;
  self->certificate_error = verdict.message();
  return -1;
}

namespace {
UINT cbMonitorReady(CliprdrClientContext* c, const CLIPRDR_MONITOR_READY*) {
  return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onMonitorReady();
}
UINT cbServerCaps(CliprdrClientContext* c, const CLIPRDR_CAPABILITIES*) {
  return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onCapabilities();
}
UINT cbServerFormatList(CliprdrClientContext* c, const CLIPRDR_FORMAT_LIST* l) {
  return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatList(l);
}
UINT cbServerFormatListResponse(CliprdrClientContext*, const CLIPRDR_FORMAT_LIST_RESPONSE*) {
  return CHANNEL_RC_OK;
}
UINT cbServerDataRequest(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_REQUEST* r) {
  return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatDataRequest(r);
}
UINT cbServerDataResponse(CliprdrClientContext* c, const CLIPRDR_FORMAT_DATA_RESPONSE* r) {
  return static_cast<TextClipboard<CliprdrClientContext>*>(c->custom)->onFormatDataResponse(r);
}
}  // namespace

void RdpClient::Impl::channelConnected(void* ctx, ChannelConnectedEventArgs* e) {
  auto* context = static_cast<rdpContext*>(ctx);
  Impl* self = of(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_init(context->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
    spdlog::debug("rdp-client: graphics pipeline up");
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
        cliprdr, [self](const std::string& text) { self->observer->onClipboardText(text); },
        false);
  }
}

void RdpClient::Impl::channelDisconnected(void* ctx, ChannelDisconnectedEventArgs* e) {
  auto* context = static_cast<rdpContext*>(ctx);
  Impl* self = of(context);
  if (std::strcmp(e->name, RDPGFX_DVC_CHANNEL_NAME) == 0) {
    gdi_graphics_pipeline_uninit(context->gdi, static_cast<RdpgfxClientContext*>(e->pInterface));
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
    const DWORD st = WaitForMultipleObjects(n, handles, FALSE, INFINITE);
    if (st == WAIT_FAILED) {
      reason = "wait failed";
      break;
    }
    if (WaitForSingleObject(stop_event.get(), 0) == WAIT_OBJECT_0) {
      reason = "closed";
      break;
    }
    if (!freerdp_check_event_handles(instance->context)) {
      reason = freerdpError(instance->context);
      break;
    }
    if (freerdp_shall_disconnect(instance)) {
      reason = "server ended the session";
      break;
    }
  }
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

Status RdpClient::connect() {
  Impl& d = *impl_;
  if (d.instance) return Status::Error("connect() called twice");
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
  std::thread watchdog([&d] {
    std::unique_lock lock(d.mutex);
    if (!d.connect_cv.wait_for(lock, std::chrono::milliseconds(d.opts.connect_timeout_ms),
                               [&d] { return !d.connecting; })) {
      freerdp_abort_connect(d.instance);
    }
  });
  const BOOL connected = freerdp_connect(inst);
  {
    std::lock_guard lock(d.mutex);
    d.connecting = false;
    d.alive = connected && !d.stopped;
  }
  d.connect_cv.notify_all();
  watchdog.join();
  if (!connected) {
    std::string why = freerdpError(inst->context);
    {
      std::lock_guard lock(d.mutex);
      if (!d.certificate_error.empty()) why = "certificate refused: " + d.certificate_error;
    }
    return Status::Error("cannot connect to " + o.host + ":" + std::to_string(o.port) + " (" +
                         why + ")");
  }
  if (!d.alive) return Status::Error("closed while connecting");
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

}  // namespace vigil::gateway::rdp
