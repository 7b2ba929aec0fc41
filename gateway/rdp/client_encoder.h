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
#include <optional>
#include <string>
#include <vector>

#include "core/frame.h"
#include "gateway/rdp/rfx_stream.h"

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
  // True if the client's RemoteFX decoder, primed by this encoder's stream
  // for a screen like `fb`, decodes `m` as the target meant it, and the
  // client takes a message that large.
  bool canPass(const RfxMessage& m, const Frame& fb) const;
  // Takes the target's RemoteFX entropy coding (RLGR1/3) for what this
  // encoder sends from now on, so that the target's messages suit the client.
  void adopt(const RfxHeader& target);
  // Sends a RemoteFX message of the target unchanged. False when the client
  // connection failed.
  bool pass(const RfxMessage& m);

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
  std::optional<RfxHeader> rfx_header_;  // what our stream announced to the client
  UINT32 frame_id_ = 0;
  std::vector<BYTE> tile_buf_;
  std::vector<BYTE> padded_tile_;  // an edge tile widened to a multiple of 4
};

}  // namespace vigil::gateway::rdp
