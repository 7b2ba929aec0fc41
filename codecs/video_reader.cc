#include "codecs/video_reader.h"

#include <cmath>
#include <limits>

#include "codecs/demux.h"
#include "codecs/ffmpeg_owners.h"

namespace vigil::codecs {

namespace {
constexpr AVRational kMillis{1, 1000};
constexpr Millis kFarFuture = 1000000000000LL;  // ms; past any recording

Millis toMs(int64_t ts, AVRational tb) { return av_rescale_q(ts, tb, kMillis); }

Result<Frame> toFrame(const AVFrame& f) {
  Frame out(f.width, f.height);
  SwsContextPtr sws(sws_getContext(f.width, f.height, static_cast<AVPixelFormat>(f.format), f.width,
                                   f.height, AV_PIX_FMT_BGR0, SWS_POINT, nullptr, nullptr, nullptr));
  if (!sws) return Status::Error("cannot convert the decoded picture");
  uint8_t* dst[4] = {out.data(), nullptr, nullptr, nullptr};
  const int dst_stride[4] = {out.stride(), 0, 0, 0};
  sws_scale(sws.get(), f.data, f.linesize, 0, f.height, dst, dst_stride);
  return out;
}
}  // namespace

Result<VideoInfo> probe(const std::string& path, const storage::KeyRing& keys) {
  auto in = openInputVideo(path, keys);
  if (!in) return in.status();
  const AVCodecParameters* par = in->st()->codecpar;
  VideoInfo info;
  info.width = par->width;
  info.height = par->height;
  info.codec = avcodec_get_name(par->codec_id);
  AvPacketPtr pkt(av_packet_alloc());
  if (!pkt) return Status::Error("out of memory reading " + path);
  const AVRational tb = in->st()->time_base;
  while (readVideoPacket(*in, pkt.get()) == 0) {
    const int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    ++info.frame_count;
    if (pkt->flags & AV_PKT_FLAG_KEY) ++info.keyframe_count;
    info.frame_pts.push_back(toMs(pts, tb));
    info.duration_ms = std::max(info.duration_ms, toMs(pts + pkt->duration, tb));
    av_packet_unref(pkt.get());
  }
  if (!in->io->error().ok()) return in->io->error();
  return info;
}

namespace {
// Decodes forward (after an optional seek) to the frame shown at `t`.
Result<Frame> decodeAt(const std::string& path, Millis t, bool seek, const storage::KeyRing& keys) {
  auto in = openInputVideo(path, keys);
  if (!in) return in.status();
  const AVCodec* codec = avcodec_find_decoder(in->st()->codecpar->codec_id);
  if (!codec) return Status::Error("no decoder for the video of " + path);
  AvCodecCtxPtr dec(avcodec_alloc_context3(codec));
  AvPacketPtr pkt(av_packet_alloc());
  AvFramePtr frame(av_frame_alloc()), best(av_frame_alloc());
  if (!dec || !pkt || !frame || !best) return Status::Error("out of memory decoding " + path);
  if (int e = avcodec_parameters_to_context(dec.get(), in->st()->codecpar); e < 0)
    return avError("cannot set up the decoder", e);
  dec->thread_count = 1;
  if (int e = avcodec_open2(dec.get(), codec, nullptr); e < 0)
    return avError("cannot open the decoder", e);

  const AVRational tb = in->st()->time_base;
  if (seek) {
    // Lands on the keyframe at or before t; decoding from an earlier one (an
    // index that does not reach that far) is slower but gives the same picture.
    (void)av_seek_frame(in->ctx.get(), in->stream, av_rescale_q(std::min(t, kFarFuture), kMillis, tb),
                        AVSEEK_FLAG_BACKWARD);
  }
  bool have = false, done = false, draining = false;
  while (!done) {
    if (!draining) {
      if (readVideoPacket(*in, pkt.get()) == 0) {
        const int e = avcodec_send_packet(dec.get(), pkt.get());
        av_packet_unref(pkt.get());
        if (e < 0 && e != AVERROR(EAGAIN) && e != AVERROR_INVALIDDATA)
          return avError("cannot decode " + path, e);
      } else {
        draining = true;
        (void)avcodec_send_packet(dec.get(), nullptr);
      }
    }
    while (true) {
      const int r = avcodec_receive_frame(dec.get(), frame.get());
      if (r == AVERROR(EAGAIN)) break;
      if (r == AVERROR_EOF) { done = true; break; }
      if (r < 0) return avError("cannot decode " + path, r);
      const Millis pts = toMs(frame->best_effort_timestamp, tb);
      if (pts <= t || !have) {
        // The seek went past t (fragment index quirks): decode from the start.
        if (pts > t && seek) return Status::Error("seek overshoot");
        av_frame_unref(best.get());
        av_frame_move_ref(best.get(), frame.get());
        have = true;
        if (pts > t) done = true;  // t is before the first frame
      } else {
        done = true;
      }
      av_frame_unref(frame.get());
      if (done) break;
    }
  }
  if (!in->io->error().ok()) return in->io->error();
  if (!have) return Status::Error("recording " + path + " holds no decodable frame");
  return toFrame(*best);
}
}  // namespace

Result<Frame> decodeFrameAt(const std::string& path, Millis t, const storage::KeyRing& keys) {
  auto f = decodeAt(path, t, true, keys);
  // A crash can leave an indexed keyframe whose data never reached the disk,
  // or the index can send the seek too far: then read from the start.
  if (!f.ok()) return decodeAt(path, t, false, keys);
  return f;
}

Result<Frame> decodeLastFrame(const std::string& path, const storage::KeyRing& keys) {
  return decodeFrameAt(path, kFarFuture, keys);
}

double psnr(const Frame& a, const Frame& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.empty()) return 0.0;
  double sse = 0;
  for (int y = 0; y < a.height(); ++y) {
    const uint8_t* pa = a.row(y);
    const uint8_t* pb = b.row(y);
    for (int x = 0; x < a.width(); ++x, pa += 4, pb += 4) {
      for (int c = 0; c < 3; ++c) {
        const double d = static_cast<double>(pa[c]) - pb[c];
        sse += d * d;
      }
    }
  }
  if (sse == 0) return std::numeric_limits<double>::infinity();
  const double mse = sse / (3.0 * a.width() * a.height());
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

}  // namespace vigil::codecs
