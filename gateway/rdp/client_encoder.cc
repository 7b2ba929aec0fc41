#include "gateway/rdp/client_encoder.h"

#include <freerdp/codec/color.h>
#include <freerdp/update.h>
#include <winpr/stream.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

#include "gateway/rdp/freerdp_compat.h"
#include "gateway/rdp/rle24.h"

namespace vigil::gateway::rdp {
namespace {
constexpr int kTile = 64;
// Room for one compressed 64x64 tile: planar/interleaved never exceed raw
// size plus their small headers.
constexpr std::size_t kTileSlot = kTile * kTile * 4 + 256;
constexpr int kRfxBand = 4 * kTile;  // rows of the screen per RemoteFX encode
constexpr std::size_t kBatchTiles = 64;  // bitmap tiles encoded per send (~1 MB buffer)
}  // namespace

ClientEncoder::ClientEncoder(freerdp_peer* peer) : peer_(peer) {
  rdpSettings* s = peer->settings;
  color_depth_ = static_cast<int>(getU32(s, FreeRDP_ColorDepth));
  max_update_ = std::clamp<UINT32>(getU32(s, FreeRDP_MultifragMaxRequestSize), 16384, 0x3F0000);
  if (getBool(s, FreeRDP_RemoteFxCodec) && getU32(s, FreeRDP_RemoteFxCodecId) != 0 &&
      getBool(s, FreeRDP_SurfaceCommandsEnabled)) {
    codec_ = Codec::RemoteFx;
  } else if (color_depth_ == 32) {
    codec_ = Codec::Planar;
  } else {
    codec_ = Codec::Interleaved;
    if (color_depth_ != 15 && color_depth_ != 16 && color_depth_ != 24) color_depth_ = 16;
  }
  stream_ = Stream_New(nullptr, 1 << 20);
}

ClientEncoder::~ClientEncoder() {
  if (rfx_) rfx_context_free(rfx_);
  if (planar_) freerdp_bitmap_planar_context_free(planar_);
  if (interleaved_) bitmap_interleaved_context_free(interleaved_);
  if (stream_) Stream_Free(stream_, TRUE);
}

std::string_view ClientEncoder::codecName() const {
  switch (codec_) {
    case Codec::RemoteFx: return "remotefx";
    case Codec::Planar: return "planar";
    case Codec::Interleaved: return "interleaved";
  }
  return "?";
}

bool ClientEncoder::send(const Frame& fb, const DirtyRegion& region) {
  if (region.empty() || fb.empty() || !stream_) return true;
  if (codec_ == Codec::RemoteFx) return sendRemoteFx(fb, region);
  return sendBitmaps(fb, region);
}

bool ClientEncoder::sendRemoteFx(const Frame& fb, const DirtyRegion& region) {
  if (!rfx_) {
    rfx_ = rfx_context_new(TRUE);
    if (!rfx_) return false;
    rfx_context_set_pixel_format(rfx_, PIXEL_FORMAT_BGRX32);
  }
  if (rfx_w_ != fb.width() || rfx_h_ != fb.height()) {
    rfx_header_.reset();
    if (!rfx_context_reset(rfx_, static_cast<UINT32>(fb.width()), static_cast<UINT32>(fb.height())))
      return false;
    rfx_w_ = fb.width();
    rfx_h_ = fb.height();
  }
  // FreeRDP's encoder keeps, in a pool it never shrinks, buffers for every
  // tile of the largest region it was given; a whole screen in one go (each
  // activation) left ~5 MB per session. Bands of kRfxBand rows bound it.
  const Rect bounds = region.bounds().intersect(fb.bounds());
  for (int top = bounds.y - bounds.y % kRfxBand; top < bounds.y + bounds.h; top += kRfxBand) {
    const Rect band{0, top, fb.width(), std::min(kRfxBand, fb.height() - top)};
    std::vector<RFX_RECT> rects;
    for (const Rect& r : region.rects()) {
      const Rect c = r.intersect(band);
      if (c.empty()) continue;
      rects.push_back(RFX_RECT{static_cast<UINT16>(c.x), static_cast<UINT16>(c.y),
                               static_cast<UINT16>(c.w), static_cast<UINT16>(c.h)});
    }
    if (!rects.empty() && !sendRemoteFxRects(fb, rects)) return false;
  }
  return true;
}

bool ClientEncoder::sendRemoteFxRects(const Frame& fb, const std::vector<RFX_RECT>& rects) {
  size_t count = 0;
  RFX_MESSAGE* messages = rfx_encode_messages_ex(
      rfx_, rects.data(), rects.size(), fb.data(), static_cast<UINT32>(fb.width()),
      static_cast<UINT32>(fb.height()), static_cast<UINT32>(fb.stride()), &count, max_update_);
  if (!messages) return false;
  // FreeRDP 2 hands back one array whose messages share the first one's rect
  // list: free each message, then the shared rects and the array.
  RFX_RECT* shared_rects = count > 0 ? messages[0].rects : nullptr;
  SURFACE_BITS_COMMAND cmd{};
  cmd.cmdType = CMDTYPE_STREAM_SURFACE_BITS;
  cmd.destRight = static_cast<UINT32>(fb.width());
  cmd.destBottom = static_cast<UINT32>(fb.height());
  cmd.bmp.codecID = static_cast<UINT16>(getU32(peer_->settings, FreeRDP_RemoteFxCodecId));
  cmd.bmp.bpp = 32;
  cmd.bmp.width = static_cast<UINT16>(fb.width());
  cmd.bmp.height = static_cast<UINT16>(fb.height());
  cmd.skipCompression = TRUE;
  bool ok = true;
  for (size_t i = 0; i < count; ++i) {
    if (ok) {
      Stream_SetPosition(stream_, 0);
      if (!rfx_write_message(rfx_, stream_, &messages[i])) {
        ok = false;
      } else {
        cmd.bmp.bitmapDataLength = static_cast<UINT32>(Stream_GetPosition(stream_));
        cmd.bmp.bitmapData = Stream_Buffer(stream_);
        if (auto h = readRfxHeader({cmd.bmp.bitmapData, cmd.bmp.bitmapDataLength})) rfx_header_ = h;
        ok = peer_->update->SurfaceBits(peer_->update->context, &cmd);
      }
    }
    rfx_message_free(rfx_, &messages[i]);
  }
  free(shared_rects);
  free(messages);
  return ok;
}

bool ClientEncoder::canPass(const RfxMessage& m, const Frame& fb) const {
  // Room for the fast-path and surface command headers around the message.
  constexpr std::size_t kOverhead = 64;
  return codec_ == Codec::RemoteFx && rfx_header_ && *rfx_header_ == m.header &&
         rfx_w_ == fb.width() && rfx_h_ == fb.height() && m.header.width == fb.width() &&
         m.header.height == fb.height() && m.bytes.size() + kOverhead <= max_update_;
}

void ClientEncoder::adopt(const RfxHeader& target) {
  if (codec_ != Codec::RemoteFx || !rfx_) return;
  // TS_RFX_CONTEXT's entropy field (bits 9-12): 1 = RLGR1, 4 = RLGR3.
  const unsigned entropy = (target.properties >> 9) & 0xF;
  if (entropy != 1 && entropy != 4) return;
  const RLGR_MODE mode = entropy == 1 ? RLGR1 : RLGR3;
  if (rfx_->mode == mode) return;
  // FreeRDP 2 has no setter; its own servers set the field too. The reset
  // makes the next message announce the new header.
  rfx_->mode = mode;
  rfx_header_.reset();
  if (!rfx_context_reset(rfx_, static_cast<UINT32>(rfx_w_), static_cast<UINT32>(rfx_h_))) rfx_w_ = rfx_h_ = 0;
}

bool ClientEncoder::pass(const RfxMessage& m) {
  SURFACE_BITS_COMMAND cmd{};
  cmd.cmdType = CMDTYPE_STREAM_SURFACE_BITS;
  cmd.destLeft = static_cast<UINT32>(m.dest.x);
  cmd.destTop = static_cast<UINT32>(m.dest.y);
  cmd.destRight = static_cast<UINT32>(m.dest.x + m.dest.w);
  cmd.destBottom = static_cast<UINT32>(m.dest.y + m.dest.h);
  cmd.bmp.codecID = static_cast<UINT16>(getU32(peer_->settings, FreeRDP_RemoteFxCodecId));
  cmd.bmp.bpp = 32;
  cmd.bmp.width = static_cast<UINT16>(m.dest.w);
  cmd.bmp.height = static_cast<UINT16>(m.dest.h);
  cmd.skipCompression = TRUE;
  // FreeRDP's send path takes a non-const pointer but only reads it.
  cmd.bmp.bitmapData = const_cast<BYTE*>(m.bytes.data());
  cmd.bmp.bitmapDataLength = static_cast<UINT32>(m.bytes.size());
  return peer_->update->SurfaceBits(peer_->update->context, &cmd);
}

bool ClientEncoder::sendBitmaps(const Frame& fb, const DirtyRegion& region) {
  const bool planar = codec_ == Codec::Planar;
  if (planar && !planar_) {
    DWORD flags = PLANAR_FORMAT_HEADER_RLE;
    if (getBool(peer_->settings, FreeRDP_DrawAllowSkipAlpha)) flags |= PLANAR_FORMAT_HEADER_NA;
    planar_ = freerdp_bitmap_planar_context_new(flags, kTile, kTile);
    if (!planar_) return false;
  }
  if (!planar && !interleaved_) {
    interleaved_ = bitmap_interleaved_context_new(TRUE);
    if (!interleaved_) return false;
  }

  // The 64x64 grid cells the damage touches, each sent once.
  const int cols = (fb.width() + kTile - 1) / kTile;
  const int rows = (fb.height() + kTile - 1) / kTile;
  std::vector<char> touched(static_cast<std::size_t>(cols) * rows, 0);
  for (const Rect& r : region.rects()) {
    const Rect c = r.intersect(fb.bounds());
    if (c.empty()) continue;
    for (int ty = c.y / kTile; ty <= (c.y + c.h - 1) / kTile; ++ty)
      for (int tx = c.x / kTile; tx <= (c.x + c.w - 1) / kTile; ++tx)
        touched[static_cast<std::size_t>(ty) * cols + tx] = 1;
  }

  std::vector<BITMAP_DATA> batch;
  std::size_t batch_bytes = 0;
  // Tiles are compressed into slots of tile_buf_ and sent in batches; the
  // buffer holds one batch, not the whole screen.
  const std::size_t slots =
      std::min(kBatchTiles, static_cast<std::size_t>(std::max(1, cols * rows)));
  if (tile_buf_.size() < kTileSlot * slots) tile_buf_.resize(kTileSlot * slots);
  std::size_t slot = 0;
  auto flush = [&]() -> bool {
    slot = 0;
    if (batch.empty()) return true;
    BITMAP_UPDATE update{};
    update.number = static_cast<UINT32>(batch.size());
    update.count = update.number;
    update.rectangles = batch.data();
    const bool ok = peer_->update->BitmapUpdate(peer_->update->context, &update);
    batch.clear();
    batch_bytes = 0;
    return ok;
  };

  for (int ty = 0; ty < rows; ++ty) {
    for (int tx = 0; tx < cols; ++tx) {
      if (!touched[static_cast<std::size_t>(ty) * cols + tx]) continue;
      BITMAP_DATA b{};
      b.destLeft = static_cast<UINT32>(tx * kTile);
      b.destTop = static_cast<UINT32>(ty * kTile);
      b.width = static_cast<UINT32>(std::min(kTile, fb.width() - tx * kTile));
      b.height = static_cast<UINT32>(std::min(kTile, fb.height() - ty * kTile));
      b.destRight = b.destLeft + b.width - 1;
      b.destBottom = b.destTop + b.height - 1;
      b.compressed = TRUE;
      if (slot == slots && !flush()) return false;
      BYTE* out = tile_buf_.data() + kTileSlot * slot++;
      if (planar) {
        UINT32 size = 0;
        const BYTE* src = fb.row(static_cast<int>(b.destTop)) + b.destLeft * 4;
        if (!freerdp_bitmap_compress_planar(planar_, src, PIXEL_FORMAT_BGRX32, b.width, b.height,
                                            static_cast<UINT32>(fb.stride()), out, &size)) {
          return false;
        }
        b.bitsPerPixel = 32;
        b.bitmapLength = size;
        b.cbScanWidth = b.width * 4;
        b.cbUncompressedSize = b.width * b.height * 4;
      } else {
        // Interleaved bitmaps are a multiple of 4 pixels wide (FreeRDP's
        // encoder insists); the padding is cut off by destRight.
        const UINT32 real_w = b.width;
        b.width = (real_w + 3) / 4 * 4;
        const BYTE* src = fb.row(static_cast<int>(b.destTop)) + b.destLeft * 4;
        UINT32 src_stride = static_cast<UINT32>(fb.stride());
        if (b.width != real_w && color_depth_ != 24) {
          padded_tile_.resize(static_cast<std::size_t>(b.width) * b.height * 4);
          for (UINT32 y = 0; y < b.height; ++y) {
            BYTE* row = padded_tile_.data() + static_cast<std::size_t>(y) * b.width * 4;
            std::memcpy(row, src + static_cast<std::size_t>(y) * src_stride, real_w * 4);
            for (UINT32 x = real_w; x < b.width; ++x) std::memcpy(row + x * 4, row + (real_w - 1) * 4, 4);
          }
          src = padded_tile_.data();
          src_stride = b.width * 4;
        }
        UINT32 size = 0;
        if (color_depth_ == 24) {
          // FreeRDP 2's 24 bpp interleaved encoder garbles tiles (rle24.h).
          size = static_cast<UINT32>(encodeRle24(src, src_stride, static_cast<int>(real_w),
                                                 static_cast<int>(b.height), static_cast<int>(b.width),
                                                 out, kTileSlot));
          if (size == 0) return false;
        } else {
          size = static_cast<UINT32>(kTileSlot);
          if (!interleaved_compress(interleaved_, out, &size, b.width, b.height, src,
                                    PIXEL_FORMAT_BGRX32, src_stride, 0, 0, nullptr,
                                    static_cast<UINT32>(color_depth_))) {
            return false;
          }
        }
        const UINT32 bpp = static_cast<UINT32>((color_depth_ + 7) / 8);
        b.bitsPerPixel = static_cast<UINT32>(color_depth_);
        b.bitmapLength = size;
        b.cbScanWidth = b.width * bpp;
        b.cbUncompressedSize = b.width * b.height * bpp;
      }
      b.bitmapDataStream = out;
      b.cbCompFirstRowSize = 0;
      b.cbCompMainBodySize = b.bitmapLength;
      if (!batch.empty() && batch_bytes + b.bitmapLength + 64 > max_update_ - 1024) {
        // The batch is full without this tile: send it, keep this one.
        if (!flush()) return false;
        std::memmove(tile_buf_.data(), out, b.bitmapLength);
        b.bitmapDataStream = tile_buf_.data();
        slot = 1;
      }
      batch_bytes += b.bitmapLength + 64;
      batch.push_back(b);
    }
  }
  return flush();
}

}  // namespace vigil::gateway::rdp
