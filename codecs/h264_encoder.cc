#include "codecs/h264_encoder.h"

extern "C" {
#include <libavutil/opt.h>
}

#include "codecs/ffmpeg_compat.h"
#include "codecs/ffmpeg_owners.h"

namespace vigil::codecs {

struct H264Encoder::Impl {
  AvCodecCtxPtr ctx;
  AvFramePtr yuv;
  AvPacketPtr pkt;
  SwsContextPtr sws;
  std::int64_t pts = 0;
};

namespace {
constexpr int kMaxSide = 8192;
}  // namespace

bool H264Encoder::available() { return avcodec_find_encoder_by_name("libx264") != nullptr; }

H264Encoder::H264Encoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
H264Encoder::~H264Encoder() = default;

int H264Encoder::width() const { return impl_->ctx->width; }
int H264Encoder::height() const { return impl_->ctx->height; }

Result<std::unique_ptr<H264Encoder>> H264Encoder::open(int width, int height, const Options& opts) {
  if (width <= 0 || height <= 0 || width % 2 || height % 2 || width > kMaxSide || height > kMaxSide)
    return Status::Error("H.264 needs an even frame size up to 8192, not " + std::to_string(width) + "x" +
                         std::to_string(height));
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) return Status::Error("FFmpeg has no libx264 encoder: install a libavcodec built with x264");
  auto impl = std::make_unique<Impl>();
  impl->ctx.reset(avcodec_alloc_context3(codec));
  impl->yuv.reset(av_frame_alloc());
  impl->pkt.reset(av_packet_alloc());
  if (!impl->ctx || !impl->yuv || !impl->pkt) return Status::Error("out of memory starting the H.264 encoder");
  AVCodecContext* c = impl->ctx.get();
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = {1, 30};  // nominal: zerolatency makes x264 ignore frame timing
  c->framerate = {30, 1};
  c->max_b_frames = 0;
  c->thread_count = std::max(1, opts.threads);
  c->thread_type = FF_THREAD_SLICE;  // frame threads would hold frames back
  // No global header: SPS/PPS go in-band (Annex-B) before each IDR, which
  // is what an RDPGFX AVC420 bitstream carries.
  c->color_range = AVCOL_RANGE_JPEG;
  c->colorspace = AVCOL_SPC_BT709;
  c->color_primaries = AVCOL_PRI_BT709;
  c->color_trc = AVCOL_TRC_BT709;
  AVDictionary* o = nullptr;
  av_dict_set(&o, "preset", opts.preset.c_str(), 0);
  // zerolatency: no B-frames, no lookahead, no frame threads: one frame in,
  // its access unit out.
  av_dict_set(&o, "tune", "zerolatency", 0);
  av_dict_set(&o, "qp", std::to_string(opts.qp).c_str(), 0);
  av_dict_set(&o, "forced-idr", "1", 0);
  // IDRs only when asked (a new surface): a still screen costs nothing,
  // and no scene-cut keyframe doubles a frame's bytes on a window switch.
  av_dict_set(&o, "x264-params", "keyint=infinite:scenecut=0", 0);
  const int err = avcodec_open2(c, codec, &o);
  av_dict_free(&o);
  if (err < 0) return avError("cannot open the libx264 encoder", err);

  AVFrame* f = impl->yuv.get();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  f->color_range = AVCOL_RANGE_JPEG;
  f->colorspace = AVCOL_SPC_BT709;
  if (int e = av_frame_get_buffer(f, 0); e < 0) return avError("cannot allocate the H.264 input frame", e);
  // Bilinear: chroma averaged over its 2x2 pixels (point sampling tints
  // glyph edges), as FreeRDP's own AVC420 encoder does.
  impl->sws.reset(sws_getContext(width, height, AV_PIX_FMT_BGR0, width, height, AV_PIX_FMT_YUV420P,
                                 SWS_BILINEAR, nullptr, nullptr, nullptr));
  if (!impl->sws) return Status::Error("cannot set up the H.264 pixel converter");
  // The client turns YUV back into RGB with BT.709 full-range formulas
  // (MS-RDPEGFX's clients; FreeRDP's YUV primitives): convert the same way.
  const int* bt709 = sws_getCoefficients(SWS_CS_ITU709);
  if (sws_setColorspaceDetails(impl->sws.get(), bt709, 1, bt709, 1, 0, 1 << 16, 1 << 16) < 0)
    return Status::Error("cannot set the H.264 pixel converter to BT.709 full range");
  return std::unique_ptr<H264Encoder>(new H264Encoder(std::move(impl)));
}

Result<const std::vector<std::uint8_t>*> H264Encoder::encode(const Frame& fb, bool idr) {
  Impl& m = *impl_;
  if (fb.width() != m.ctx->width || fb.height() != m.ctx->height)
    return Status::Error("H.264 frame size changed without a new encoder");
  AVFrame* f = m.yuv.get();
  if (int e = av_frame_make_writable(f); e < 0) return avError("cannot reuse the H.264 input frame", e);
  const std::uint8_t* src[1] = {fb.data()};
  const int src_stride[1] = {fb.stride()};
  sws_scale(m.sws.get(), src, src_stride, 0, fb.height(), f->data, f->linesize);
  f->pts = m.pts++;
  compat::requestKeyframe(f, idr || f->pts == 0);
  if (int e = avcodec_send_frame(m.ctx.get(), f); e < 0) return avError("H.264 encoding failed", e);
  out_.clear();
  last_idr_ = false;
  int units = 0;
  for (;;) {
    const int e = avcodec_receive_packet(m.ctx.get(), m.pkt.get());
    if (e == AVERROR(EAGAIN)) break;
    if (e < 0) return avError("H.264 encoding failed", e);
    ++units;
    out_.insert(out_.end(), m.pkt->data, m.pkt->data + m.pkt->size);
    last_idr_ = last_idr_ || (m.pkt->flags & AV_PKT_FLAG_KEY) != 0;
    av_packet_unref(m.pkt.get());
  }
  // Zero latency promises one access unit per frame; anything else would
  // leave the client a picture behind.
  if (units != 1)
    return Status::Error("the H.264 encoder gave " + std::to_string(units) + " access units for one frame");
  return &out_;
}

}  // namespace vigil::codecs
