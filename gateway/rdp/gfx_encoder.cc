#include "gateway/rdp/gfx_encoder.h"

#include <freerdp/codec/color.h>
#include <winpr/sysinfo.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

#include "gateway/rdp/freerdp_compat.h"

namespace vigil::gateway::rdp {
namespace {

// Frames sent and not yet acknowledged before damage waits (and merges):
// enough to hide a loopback or LAN round trip, few enough that a slow
// client never has seconds of video queued.
constexpr std::uint32_t kMaxFramesInFlight = 3;
constexpr std::uint16_t kSurfaceId = 0;
// The constant quantiser of every AVC420 frame, also stated in the
// metablock for each rect.
constexpr BYTE kQp = 22;
// Fast enough to follow a scrolling terminal on a small gateway (measured
// against veryfast and FreeRDP's medium in docs/BENCHMARKS.md).
constexpr const char* kPreset = "superfast";
constexpr int kTile = 64;  // planar refinement tiles

GfxEncoder* self(RdpgfxServerContext* c) { return static_cast<GfxEncoder*>(c->custom); }

UINT cbCapsAdvertise(RdpgfxServerContext* c, const RDPGFX_CAPS_ADVERTISE_PDU* pdu) {
  return self(c)->onCapsAdvertise(pdu);
}
UINT cbFrameAcknowledge(RdpgfxServerContext* c, const RDPGFX_FRAME_ACKNOWLEDGE_PDU* pdu) {
  return self(c)->onFrameAcknowledge(pdu);
}

// Versions this server confirms, best first (8.0 last, it has no AVC);
// AVC420 unless the client set its AVC-disabled flag (10.x) or left AVC420
// off (8.1).
constexpr std::array<UINT32, 10> kVersions = {
    RDPGFX_CAPVERSION_107, RDPGFX_CAPVERSION_106, RDPGFX_CAPVERSION_106_ERR, RDPGFX_CAPVERSION_105,
    RDPGFX_CAPVERSION_104, RDPGFX_CAPVERSION_103, RDPGFX_CAPVERSION_102, RDPGFX_CAPVERSION_101,
    RDPGFX_CAPVERSION_10,  RDPGFX_CAPVERSION_81};

// `avc_off_in_10` : the client set AVC_DISABLED in a 10.x set that has
// flags. 10.1 has none (FreeRDP's client sends it even with H.264 off), so
// it allows AVC only when no other 10.x set refuses it.
bool avcAllowed(const RDPGFX_CAPSET& caps, bool avc_off_in_10) {
  if (caps.version == RDPGFX_CAPVERSION_81) return (caps.flags & RDPGFX_CAPS_FLAG_AVC420_ENABLED) != 0;
  if (caps.version == RDPGFX_CAPVERSION_8) return false;
  if (caps.version == RDPGFX_CAPVERSION_101) return !avc_off_in_10;
  return (caps.flags & RDPGFX_CAPS_FLAG_AVC_DISABLED) == 0;
}

UINT32 timestamp() {
  SYSTEMTIME t;
  GetSystemTime(&t);
  return static_cast<UINT32>(t.wHour) << 22 | static_cast<UINT32>(t.wMinute) << 16 |
         static_cast<UINT32>(t.wSecond) << 10 | t.wMilliseconds;
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::optional<GfxCapsChoice> chooseGfxCaps(const RDPGFX_CAPSET* sets, std::size_t count, bool have_h264) {
  if (!sets) return std::nullopt;
  bool avc_off_in_10 = false;
  for (std::size_t i = 0; i < count; ++i) {
    const UINT32 v = sets[i].version;
    if (v >= RDPGFX_CAPVERSION_10 && v != RDPGFX_CAPVERSION_101 &&
        (sets[i].flags & RDPGFX_CAPS_FLAG_AVC_DISABLED) != 0)
      avc_off_in_10 = true;
  }
  // The highest version that allows AVC420, else the highest version.
  const RDPGFX_CAPSET* chosen = nullptr;
  for (int pass = have_h264 ? 0 : 1; pass < 2 && !chosen; ++pass) {
    for (UINT32 v : kVersions) {
      for (std::size_t i = 0; i < count && !chosen; ++i)
        if (sets[i].version == v && (pass == 1 || avcAllowed(sets[i], avc_off_in_10))) chosen = &sets[i];
      if (chosen) break;
    }
  }
  for (std::size_t i = 0; i < count && !chosen; ++i)
    if (sets[i].version == RDPGFX_CAPVERSION_8) chosen = &sets[i];
  if (!chosen) return std::nullopt;
  GfxCapsChoice c{*chosen, have_h264 && avcAllowed(*chosen, avc_off_in_10)};
  if (!c.avc420) {
    if (c.caps.version == RDPGFX_CAPVERSION_81) c.caps.flags &= ~RDPGFX_CAPS_FLAG_AVC420_ENABLED;
    else if (c.caps.version != RDPGFX_CAPVERSION_8) c.caps.flags |= RDPGFX_CAPS_FLAG_AVC_DISABLED;
  }
  return c;
}

void GfxEncoder::ContextFree::operator()(RdpgfxServerContext* c) const { rdpgfx_server_context_free(c); }

GfxEncoder::GfxEncoder(freerdp_peer* peer, void* vcm, std::function<void()> wake)
    : peer_(peer), wake_(std::move(wake)), gfx_(rdpgfx_server_context_new(vcm)) {
  if (!gfx_) return;
  gfx_->rdpcontext = peer->context;
  gfx_->custom = this;
  gfx_->CapsAdvertise = cbCapsAdvertise;
  gfx_->FrameAcknowledge = cbFrameAcknowledge;
}

GfxEncoder::~GfxEncoder() {
  // Join the channel's thread before anything it calls into goes away.
  if (gfx_ && opened_) gfx_->Close(gfx_.get());
  if (avc_frames_ > 0) {
    // Frames per second between the first and the last AVC420 frame: the
    // rate while the screen changed (a still screen sends none).
    const double span_s = std::chrono::duration<double>(last_avc_ - first_avc_).count();
    spdlog::info("rdp: client graphics pipeline closed avc420_frames={} avc420_fps={:.1f} refinements={} "
                 "bytes={} mean_avc420_ms={:.1f} max_avc420_ms={:.1f} max_refine_ms={:.1f}",
                 avc_frames_, span_s > 0 ? static_cast<double>(avc_frames_ - 1) / span_s : 0.0,
                 refinements_, bytes_, sum_avc_ms_ / static_cast<double>(avc_frames_), max_avc_ms_,
                 max_refine_ms_);
  }
}

bool GfxEncoder::busy() const {
  return !acks_suspended_ && sent_.load() - acked_.load() >= kMaxFramesInFlight;
}

bool GfxEncoder::open() {
  if (!gfx_ || opened_) return false;
  opened_ = gfx_->Open(gfx_.get()) != FALSE;
  if (!opened_) state_ = State::Failed;
  return opened_;
}

UINT GfxEncoder::onCapsAdvertise(const RDPGFX_CAPS_ADVERTISE_PDU* pdu) {
  if (!pdu || !pdu->capsSets) return ERROR_INVALID_DATA;
  // Without libx264 in FFmpeg, GFX is confirmed with AVC off and the
  // legacy path serves.
  const auto choice = chooseGfxCaps(pdu->capsSets, pdu->capsSetCount, codecs::H264Encoder::available());
  if (!choice) {
    state_ = State::Failed;
    if (wake_) wake_();
    return CHANNEL_RC_UNSUPPORTED_VERSION;
  }
  RDPGFX_CAPSET caps = choice->caps;
  const bool avc = choice->avc420;
  RDPGFX_CAPS_CONFIRM_PDU confirm{};
  confirm.capsSet = &caps;
  const UINT rc = gfx_->CapsConfirm(gfx_.get(), &confirm);
  version_ = caps.version;
  need_surface_ = true;  // a (re)negotiated pipeline starts without surfaces
  state_ = (rc == CHANNEL_RC_OK && avc) ? State::Avc420 : (rc == CHANNEL_RC_OK ? State::NoAvc : State::Failed);
  if (wake_) wake_();
  return rc;
}

UINT GfxEncoder::onFrameAcknowledge(const RDPGFX_FRAME_ACKNOWLEDGE_PDU* pdu) {
  if (!pdu) return ERROR_INVALID_DATA;
  acks_suspended_ = pdu->queueDepth == SUSPEND_FRAME_ACKNOWLEDGEMENT;
  // Ids only move forward; an id from the future (a confused client) is
  // clamped to what was sent.
  const std::uint32_t id = std::min(pdu->frameId, sent_.load());
  if (id - acked_.load() < 0x80000000u) acked_ = id;  // later than the last one (ids wrap)
  if (wake_) wake_();
  return CHANNEL_RC_OK;
}

bool GfxEncoder::createSurface(int width, int height) {
  if (surface_) {
    RDPGFX_DELETE_SURFACE_PDU del{};
    del.surfaceId = kSurfaceId;
    (void)gfx_->DeleteSurface(gfx_.get(), &del);
    surface_ = false;
  }
  MONITOR_DEF monitor{};
  monitor.right = width - 1;
  monitor.bottom = height - 1;
  monitor.flags = MONITOR_PRIMARY;
  RDPGFX_RESET_GRAPHICS_PDU reset{};
  reset.width = static_cast<UINT32>(width);
  reset.height = static_cast<UINT32>(height);
  reset.monitorCount = 1;
  reset.monitorDefArray = &monitor;
  RDPGFX_CREATE_SURFACE_PDU create{};
  create.surfaceId = kSurfaceId;
  create.width = static_cast<UINT16>(width);
  create.height = static_cast<UINT16>(height);
  create.pixelFormat = GFX_PIXEL_FORMAT_XRGB_8888;
  RDPGFX_MAP_SURFACE_TO_OUTPUT_PDU map{};
  map.surfaceId = kSurfaceId;
  if (gfx_->ResetGraphics(gfx_.get(), &reset) != CHANNEL_RC_OK ||
      gfx_->CreateSurface(gfx_.get(), &create) != CHANNEL_RC_OK ||
      gfx_->MapSurfaceToOutput(gfx_.get(), &map) != CHANNEL_RC_OK) {
    return false;
  }
  // A new encoder per surface: the client's new surface gets a new decoder,
  // which must start at an IDR with SPS/PPS.
  codecs::H264Encoder::Options opts;
  opts.preset = kPreset;
  opts.qp = kQp;
  auto enc = codecs::H264Encoder::open(width, height, opts);
  if (!enc.ok()) {
    spdlog::warn("rdp: {}", enc.message());
    h264_.reset();
    return false;
  }
  h264_ = std::move(*enc);
  surface_ = true;
  surface_w_ = width;
  surface_h_ = height;
  return true;
}

GfxEncoder::SendResult GfxEncoder::send(const Frame& fb, const DirtyRegion& region) {
  if (state_ != State::Avc420) return SendResult::Unavailable;
  if (fb.empty()) return SendResult::Sent;
  if (busy()) return SendResult::Busy;
  const bool new_surface = need_surface_.exchange(false) || !surface_ || surface_w_ != fb.width() ||
                           surface_h_ != fb.height();
  if (!new_surface && region.empty()) return SendResult::Sent;
  if (new_surface) {
    // x264 wants even sizes; an odd desktop stays on the legacy path.
    if (fb.width() % 2 || fb.height() % 2 || fb.width() > 0xFFFF || fb.height() > 0xFFFF ||
        !createSurface(fb.width(), fb.height())) {
      spdlog::info("rdp: graphics pipeline unusable for {}x{}, back to the legacy codec", fb.width(),
                   fb.height());
      state_ = State::Failed;
      return SendResult::Unavailable;
    }
  }
  DirtyRegion damage = new_surface ? DirtyRegion(fb.bounds()) : region;
  damage.clipTo(fb.width(), fb.height());
  if (damage.empty()) return SendResult::Sent;

  // The whole screen is encoded (unchanged macroblocks cost almost
  // nothing); the metablock tells the client which rects to take from it.
  const auto t0 = std::chrono::steady_clock::now();
  auto au = h264_->encode(fb, false);
  if (!au.ok() || (*au)->size() > 0xFFFFFFFFu) {
    spdlog::warn("rdp: AVC420 encoding failed ({}), back to the legacy codec", au.message());
    state_ = State::Failed;
    return SendResult::Unavailable;
  }
  // FreeRDP's API takes a non-const pointer; it only reads the bytes.
  BYTE* data = const_cast<BYTE*>((*au)->data());
  const auto length = static_cast<UINT32>((*au)->size());
  std::vector<RECTANGLE_16> rects;
  std::vector<RDPGFX_H264_QUANT_QUALITY> quality;
  for (const Rect& r : damage.rects()) {
    rects.push_back(RECTANGLE_16{static_cast<UINT16>(r.x), static_cast<UINT16>(r.y),
                                 static_cast<UINT16>(r.x + r.w), static_cast<UINT16>(r.y + r.h)});
    RDPGFX_H264_QUANT_QUALITY q{};
    q.qp = kQp;
    q.qualityVal = 100 - kQp;
    quality.push_back(q);
  }
  RDPGFX_AVC420_BITMAP_STREAM avc{};
  avc.data = data;
  avc.length = length;
  avc.meta.numRegionRects = static_cast<UINT32>(rects.size());
  avc.meta.regionRects = rects.data();
  avc.meta.quantQualityVals = quality.data();

  RDPGFX_SURFACE_COMMAND cmd{};
  cmd.surfaceId = kSurfaceId;
  cmd.codecId = RDPGFX_CODECID_AVC420;
  cmd.format = PIXEL_FORMAT_BGRX32;
  cmd.right = static_cast<UINT32>(fb.width());
  cmd.bottom = static_cast<UINT32>(fb.height());
  cmd.width = cmd.right;
  cmd.height = cmd.bottom;
  cmd.extra = &avc;
  const std::uint32_t id = nextFrameId();
  RDPGFX_START_FRAME_PDU start{};
  start.frameId = id;
  start.timestamp = timestamp();
  RDPGFX_END_FRAME_PDU end{};
  end.frameId = id;
  if (gfx_->SurfaceFrameCommand(gfx_.get(), &cmd, &start, &end) != CHANNEL_RC_OK) {
    state_ = State::Failed;
    return SendResult::Unavailable;
  }
  sent_ = id;
  const double ms = msSince(t0);
  max_avc_ms_ = std::max(max_avc_ms_, ms);
  sum_avc_ms_ += ms;
  last_avc_ = std::chrono::steady_clock::now();
  if (avc_frames_ == 0) first_avc_ = last_avc_;
  ++avc_frames_;
  bytes_ += length;
  lossy_.add(damage);
  return SendResult::Sent;
}

GfxEncoder::SendResult GfxEncoder::refine(const Frame& fb) {
  if (state_ != State::Avc420 || !surface_) return SendResult::Unavailable;
  if (lossy_.empty() || fb.width() != surface_w_ || fb.height() != surface_h_) return SendResult::Sent;
  if (busy()) return SendResult::Busy;
  if (!planar_) {
    planar_.reset(freerdp_bitmap_planar_context_new(PLANAR_FORMAT_HEADER_RLE | PLANAR_FORMAT_HEADER_NA,
                                                    kTile, kTile));
    if (!planar_) return SendResult::Unavailable;
    tile_.resize(kTile * kTile * 4 + 256);  // planar never exceeds raw plus its header
    flipped_.resize(kTile * kTile * 4);
  }
  // The 64x64 cells the lossy rects touch, each once.
  const int cols = (fb.width() + kTile - 1) / kTile, rows = (fb.height() + kTile - 1) / kTile;
  std::vector<char> touched(static_cast<std::size_t>(cols) * rows, 0);
  for (const Rect& r : lossy_.rects()) {
    const Rect c = r.intersect(fb.bounds());
    if (c.empty()) continue;
    for (int ty = c.y / kTile; ty <= (c.y + c.h - 1) / kTile; ++ty)
      for (int tx = c.x / kTile; tx <= (c.x + c.w - 1) / kTile; ++tx)
        touched[static_cast<std::size_t>(ty) * cols + tx] = 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint32_t id = nextFrameId();
  RDPGFX_START_FRAME_PDU start{};
  start.frameId = id;
  start.timestamp = timestamp();
  if (gfx_->StartFrame(gfx_.get(), &start) != CHANNEL_RC_OK) return SendResult::Unavailable;
  bool ok = true;
  for (int ty = 0; ty < rows && ok; ++ty) {
    for (int tx = 0; tx < cols && ok; ++tx) {
      if (!touched[static_cast<std::size_t>(ty) * cols + tx]) continue;
      const int x = tx * kTile, y = ty * kTile;
      const int w = std::min(kTile, fb.width() - x), h = std::min(kTile, fb.height() - y);
      // FreeRDP's planar encoder writes rows bottom-up (as legacy bitmap
      // updates want); a GFX surface command is read top-down: flip first.
      for (int row = 0; row < h; ++row)
        std::memcpy(flipped_.data() + static_cast<std::size_t>(h - 1 - row) * w * 4,
                    fb.row(y + row) + static_cast<std::size_t>(x) * 4, static_cast<std::size_t>(w) * 4);
      UINT32 size = 0;
      if (!freerdp_bitmap_compress_planar(planar_.get(), flipped_.data(), PIXEL_FORMAT_BGRX32,
                                          static_cast<UINT32>(w), static_cast<UINT32>(h),
                                          static_cast<UINT32>(w) * 4, tile_.data(), &size)) {
        ok = false;
        break;
      }
      RDPGFX_SURFACE_COMMAND cmd{};
      cmd.surfaceId = kSurfaceId;
      cmd.codecId = RDPGFX_CODECID_PLANAR;
      cmd.format = PIXEL_FORMAT_BGRX32;
      cmd.left = static_cast<UINT32>(x);
      cmd.top = static_cast<UINT32>(y);
      cmd.right = static_cast<UINT32>(x + w);
      cmd.bottom = static_cast<UINT32>(y + h);
      cmd.width = static_cast<UINT32>(w);
      cmd.height = static_cast<UINT32>(h);
      cmd.length = size;
      cmd.data = tile_.data();
      ok = gfx_->SurfaceCommand(gfx_.get(), &cmd) == CHANNEL_RC_OK;
      bytes_ += size;
    }
  }
  RDPGFX_END_FRAME_PDU end{};
  end.frameId = id;
  if (gfx_->EndFrame(gfx_.get(), &end) != CHANNEL_RC_OK || !ok) {
    state_ = State::Failed;
    return SendResult::Unavailable;
  }
  sent_ = id;
  max_refine_ms_ = std::max(max_refine_ms_, msSince(t0));
  ++refinements_;
  lossy_.clear();
  return SendResult::Sent;
}

}  // namespace vigil::gateway::rdp
