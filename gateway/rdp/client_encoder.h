// Internal (FreeRDP types): sends changed parts of the session framebuffer to
// the RDP client in the best codec it negotiated: RemoteFX surface bits,
// else planar bitmaps (32 bpp), else interleaved bitmaps (15/16 bpp by
// FreeRDP, 24 bpp by rle24.h).
// Used on the target leg's thread only.
#pragma once

#include <freerdp/codec/interleaved.h>
#include <freerdp/codec/planar.h>
#include <freerdp/codec/rfx.h>
#include <freerdp/peer.h>

#include <memory>
#include <string>
#include <vector>

#include "core/frame.h"

namespace vigil::gateway::rdp {

class ClientEncoder {
 public:
  enum class Codec { RemoteFx, Planar, Interleaved };

  // `peer` must be activated; the encoder reads its negotiated settings.
  explicit ClientEncoder(freerdp_peer* peer);
  ~ClientEncoder();
  ClientEncoder(const ClientEncoder&) = delete;
  ClientEncoder& operator=(const ClientEncoder&) = delete;

  Codec codec() const { return codec_; }
  std::string_view codecName() const;
  // Sends `region` of `fb` (which has the client's desktop size). False when
  // the client connection failed.
  bool send(const Frame& fb, const DirtyRegion& region);

 private:
  bool sendRemoteFx(const Frame& fb, const DirtyRegion& region);
  bool sendRemoteFxRects(const Frame& fb, const std::vector<RFX_RECT>& rects);
  bool sendBitmaps(const Frame& fb, const DirtyRegion& region);

  freerdp_peer* peer_;
  Codec codec_ = Codec::Planar;
  UINT32 max_update_ = 0;
  int color_depth_ = 32;
  RFX_CONTEXT* rfx_ = nullptr;
  BITMAP_PLANAR_CONTEXT* planar_ = nullptr;
  BITMAP_INTERLEAVED_CONTEXT* interleaved_ = nullptr;
  wStream* stream_ = nullptr;
  int rfx_w_ = 0, rfx_h_ = 0;
  UINT32 frame_id_ = 0;
  std::vector<BYTE> tile_buf_;
  std::vector<BYTE> padded_tile_;  // an edge tile widened to a multiple of 4
};

}  // namespace vigil::gateway::rdp
