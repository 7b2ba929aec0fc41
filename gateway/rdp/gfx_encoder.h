// Internal (FreeRDP types): the graphics pipeline (MS-RDPEGFX) towards the
// RDP client, over drdynvc, with each update one AVC420 (H.264) frame whose
// metablock names the changed rects. Used only when the client advertised
// GFX with AVC420 and FFmpeg has libx264 (codecs::H264Encoder); else the connection keeps
// ClientEncoder (RemoteFX, planar, interleaved).
// Threads: open() on the peer thread, then send()/refine()/canSend()/
// needsSurface() on the connection's GFX sender thread only (no lock held:
// writes go through the channel manager's queue, drained by the peer
// thread); the caps and frame acknowledgements arrive on FreeRDP's rdpgfx
// thread, which only updates state here and calls `wake`.
#pragma once

#include <freerdp/codec/planar.h>
#include <freerdp/peer.h>
#include <freerdp/server/rdpgfx.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "codecs/h264_encoder.h"
#include "core/frame.h"

namespace vigil::gateway::rdp {

// The capability set to confirm from those a client advertised (the
// highest version known here in which the client allows AVC, if
// `have_h264`; else the highest) and whether AVC420 is on in it. The set's flags are those
// to confirm (AVC switched off when not used). nullopt: no known version.
struct GfxCapsChoice {
  RDPGFX_CAPSET caps;
  bool avc420;
};
std::optional<GfxCapsChoice> chooseGfxCaps(const RDPGFX_CAPSET* sets, std::size_t count, bool have_h264);

class GfxEncoder {
 public:
  enum class State { Negotiating, Avc420, NoAvc, Failed };
  enum class SendResult { Sent, Busy, Unavailable };

  // `vcm` is the peer's virtual channel manager with drdynvc ready; both
  // must outlive this. `wake` runs on the rdpgfx thread when the pipeline
  // becomes usable or an acknowledgement frees room for a frame: the owner
  // then calls send() with its pending damage (which may be empty).
  GfxEncoder(freerdp_peer* peer, void* vcm, std::function<void()> wake);
  ~GfxEncoder();  // closes the channel (joins its thread)
  GfxEncoder(const GfxEncoder&) = delete;
  GfxEncoder& operator=(const GfxEncoder&) = delete;

  // Opens the RDPGFX channel; false when the client cannot have it.
  bool open();
  State state() const { return state_.load(); }
  // The confirmed RDPGFX capability version (0 before the confirm).
  std::uint32_t version() const { return version_.load(); }

  // Sends `region` of `fb` as one frame. The first frame on a surface (and
  // after a resize: Reset Graphics + a new surface) covers the whole screen.
  // Busy: too many frames unacknowledged, keep the damage for later.
  // Unavailable: no AVC420 (now or any more): use the legacy path.
  SendResult send(const Frame& fb, const DirtyRegion& region);
  // Sends what AVC420 has shown since the last call again, losslessly
  // (planar), so a still screen ends pixel-exact; the owner calls it once
  // the screen has been still for a moment. Same results as send().
  SendResult refine(const Frame& fb);
  // Room for another frame (fewer than N unacknowledged).
  bool canSend() const { return !busy(); }
  // The next send() starts a new surface (covering the whole screen).
  bool needsSurface() const { return need_surface_.load() || !surface_; }
  // AVC420 frames sent so far (sender thread).
  std::uint64_t avcFrames() const { return avc_frames_; }

  // FreeRDP callbacks (rdpgfx thread).
  UINT onCapsAdvertise(const RDPGFX_CAPS_ADVERTISE_PDU* caps);
  UINT onFrameAcknowledge(const RDPGFX_FRAME_ACKNOWLEDGE_PDU* ack);

 private:
  struct ContextFree {
    void operator()(RdpgfxServerContext* c) const;
  };
  struct PlanarFree {
    void operator()(BITMAP_PLANAR_CONTEXT* c) const { freerdp_bitmap_planar_context_free(c); }
  };

  bool createSurface(int width, int height);
  bool busy() const;
  std::uint32_t nextFrameId() const { return sent_.load() + 1; }

  freerdp_peer* peer_;
  std::function<void()> wake_;
  std::unique_ptr<RdpgfxServerContext, ContextFree> gfx_;
  bool opened_ = false;
  std::atomic<State> state_{State::Negotiating};
  std::atomic<std::uint32_t> version_{0};

  // Frame flow (screen path writes sent_, rdpgfx thread writes acked_).
  std::atomic<std::uint32_t> sent_{0};   // last frame id sent
  std::atomic<std::uint32_t> acked_{0};  // last frame id the client acknowledged
  std::atomic<bool> acks_suspended_{false};
  std::atomic<bool> need_surface_{true};  // set by a caps confirm

  // Surface (screen path only).
  int surface_w_ = 0, surface_h_ = 0;
  bool surface_ = false;
  std::unique_ptr<codecs::H264Encoder> h264_;  // one per surface: its first frame is an IDR
  DirtyRegion lossy_;  // shown by AVC420 since the last refinement
  std::unique_ptr<BITMAP_PLANAR_CONTEXT, PlanarFree> planar_;
  std::vector<BYTE> tile_, flipped_;
  std::uint64_t avc_frames_ = 0, refinements_ = 0, bytes_ = 0;
  double max_avc_ms_ = 0, max_refine_ms_ = 0;  // longest encode + send of each kind, for the log
  double sum_avc_ms_ = 0;                       // for the mean in the log
  std::chrono::steady_clock::time_point first_avc_, last_avc_;  // AVC420 frames per second, for the log
};

}  // namespace vigil::gateway::rdp
