#include "codecs/recorder.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "codecs/ffmpeg_owners.h"
#include "codecs/fmp4_muxer.h"
#include "codecs/fresh_content.h"
#include "core/thread_name.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

namespace vigil::codecs {

using Steady = std::chrono::steady_clock::time_point;

namespace {
int roundUpEven(int v) { return v + (v & 1); }
int roundDownEven(int v) { return v & ~1; }
}  // namespace

// Everything FFmpeg: lives on the Recorder's worker thread only.
class RecorderEngine {
 public:
  RecorderEngine(const RecorderOptions& opts, std::unique_ptr<Fmp4Muxer> muxer)
      : opts_(opts), muxer_(std::move(muxer)) {}

  // `damage`: the pixels that changed since the last call (CoalescingSlot
  // reports only those), empty if a repaint changed nothing.
  Status frame(const Frame& screen, const DirtyRegion& damage, Millis t, Steady now);
  Status timer(Steady now) { return muxer_->onTimer(now, sessionNow(now)); }
  std::optional<Steady> deadline() const { return muxer_->deadline(); }
  Status finish(Steady now);
  // Parking frees the encoder of a still screen; the canvas (the last
  // picture) stays, and the next encode reopens the encoder with a keyframe.
  // Only once everything encoded is on disk.
  bool canPark() const { return enc_ && !muxer_->holding(); }
  void park();
  RecorderStats& stats() { return stats_; }
  Fmp4Muxer& muxer() { return *muxer_; }

 private:
  Status start(int width, int height);
  Status openEncoder(int width, int height);
  Status resume();
  // Converts the damaged part of `screen` into the canvas (all of it when
  // the placement changed or most of the screen is damaged).
  Status convert(const Frame& screen, const DirtyRegion& damage);
  Status convertRect(const Frame& screen, Rect r);
  Status encode(Millis pts, bool key, Steady now);
  FreshContent::Plane lumaPlane() const {
    return {canvas_->data[0], canvas_->linesize[0], canvas_->width, canvas_->height};
  }
  // Hands FreshContent the canvas rows that converting `damage` may change.
  void rememberRows(const Frame& screen, const DirtyRegion& damage);
  Status drainPackets(Steady now);
  // The session clock now, extrapolated from the newest frame's time.
  Millis sessionNow(Steady now) const {
    return anchor_t_ + std::chrono::duration_cast<std::chrono::milliseconds>(now - anchor_now_).count();
  }

  const RecorderOptions opts_;
  std::unique_ptr<Fmp4Muxer> muxer_;
  AvCodecCtxPtr enc_;  // null while parked
  std::string extradata_;  // the stream's SPS/PPS, as in the file's init segment
  bool resume_key_ = false;  // the next encode is the first after parking
  AvFramePtr canvas_;  // the picture the encoder saw last (yuv420p, even size)
  AvPacketPtr pkt_;
  SwsContextPtr sws_;  // whole frames (native or letterboxed)
  std::map<std::pair<int, int>, SwsContextPtr> rect_sws_;  // damage rects, by size
  Rect placed_;        // where the source lands on the canvas (letterbox)
  bool started_ = false;
  Millis last_pts_ = -1;
  Millis last_key_pts_ = 0;
  std::int64_t last_key_bytes_ = 0;   // size of the last keyframe
  std::int64_t bytes_since_key_ = 0;  // P-frame bytes after it
  FreshContent fresh_;                // where a due keyframe lands
  Millis anchor_t_ = 0;
  Steady anchor_now_{};
  RecorderStats stats_;
};

Status RecorderEngine::start(int width, int height) {
  pkt_.reset(av_packet_alloc());
  canvas_.reset(av_frame_alloc());
  if (!pkt_ || !canvas_) return Status::Error("out of memory starting the video encoder");
  if (Status st = openEncoder(width, height); !st.ok()) return st;
  extradata_.assign(reinterpret_cast<const char*>(enc_->extradata),
                    static_cast<std::size_t>(enc_->extradata_size));

  canvas_->format = AV_PIX_FMT_YUV420P;
  canvas_->width = enc_->width;
  canvas_->height = enc_->height;
  if (int e = av_frame_get_buffer(canvas_.get(), 0); e < 0)
    return avError("cannot allocate the video canvas", e);
  placed_ = {};
  if (Status st = muxer_->begin(*enc_); !st.ok()) return st;
  started_ = true;
  spdlog::debug("event=recording_started width={} height={} preset={} qp={}", enc_->width,
                enc_->height, opts_.preset, opts_.qp);
  return Status::Ok();
}

Status RecorderEngine::openEncoder(int width, int height) {
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  if (!codec) return Status::Error("FFmpeg has no libx264 encoder: install a libavcodec built with x264");
  enc_.reset(avcodec_alloc_context3(codec));
  if (!enc_) return Status::Error("out of memory starting the video encoder");
  enc_->width = roundUpEven(width);
  enc_->height = roundUpEven(height);
  enc_->pix_fmt = AV_PIX_FMT_YUV420P;
  enc_->time_base = {1, 1000};  // pts are session milliseconds: variable frame rate
  enc_->framerate = {30, 1};    // nominal, for x264's rate control only
  enc_->gop_size = 100000;      // keyframes are forced by session time instead
  enc_->max_b_frames = 0;
  enc_->thread_count = std::max(1, opts_.threads);
  enc_->thread_type = FF_THREAD_SLICE;  // frame threads would delay output
  enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  // swscale converts with BT.601 limited range; say so, so players invert it.
  enc_->color_range = AVCOL_RANGE_MPEG;
  enc_->colorspace = AVCOL_SPC_SMPTE170M;
  enc_->color_primaries = AVCOL_PRI_SMPTE170M;
  enc_->color_trc = AVCOL_TRC_SMPTE170M;
  AVDictionary* o = nullptr;
  av_dict_set(&o, "preset", opts_.preset.c_str(), 0);
  av_dict_set(&o, "qp", std::to_string(opts_.qp).c_str(), 0);
  av_dict_set(&o, "forced-idr", "1", 0);
  // Every frame must leave the encoder at once (a crash loses little, live
  // view is prompt): no B-frames, no lookahead.
  // zerolatency: no B-frames, no lookahead, sliced threads. It also makes
  // x264's rate control ignore frame durations (force-cfr), which it must:
  // with variable-rate input x264 holds each frame until the next arrives.
  // The timestamps still pass through to the file unchanged.
  av_dict_set(&o, "tune", "zerolatency", 0);
  // Screen text (measured, docs/recording.md): no variance AQ (it takes bits
  // from text edges to flat areas) and one QP for every P-frame (a big
  // update, a page of command output, is not quantized harder); keyframes
  // 2 QP finer (ipratio 1.26). Scrolling moves text by whole lines, far
  // beyond veryfast's 16 px search: an uneven-hexagon search over 256 px
  // codes a scrolled page as motion (2.7x smaller on the admin workload),
  // and with it x264's scene-cut keyframes, more reference frames (a window
  // switch back; 3: -5 % for +25 % encoder CPU; 4 saved little more on the
  // real bench for +27 % recorder CPU) and rarer forced keyframes pay off.
  // New text is mostly glyphs seen before: letting each 8x8 block of a
  // macroblock pick its own reference frame (mixed-refs) finds them
  // in more places, -8 % on the admin workload for +25 % encoder CPU, which
  // the constant QP and no weighted prediction (a fade tool; it too needs
  // the half-size copies) pay back. Not partitions=all (4x4 motion, another
  // -5 %): x264 does not keep it within level 4's 16 motion vectors per two
  // macroblocks, and a strict (hardware) decoder may refuse such a stream.
  // Glyph edges: trellis quantization keeps them sharper for the bits, and
  // the deblocking filter only smooths them (it is made for camera blocks);
  // together they pay for QP 30-32 (30 is 15 % smaller than 27 on the
  // admin workload, text as legible) and cost no CPU (no filtering pass).
  std::string params =
      "aq-mode=0:ipratio=1.26:me=umh:merange=256:scenecut=0:ref=3:mixed-refs=1:weightp=0:"
      "trellis=1:no-deblock=1";
  if (!opts_.x264_params.empty()) params += ":" + opts_.x264_params;
  av_dict_set(&o, "x264-params", params.c_str(), 0);
  const int err = avcodec_open2(enc_.get(), codec, &o);
  av_dict_free(&o);
  if (err < 0) {
    enc_.reset();
    return avError("cannot open the libx264 encoder", err);
  }
  return Status::Ok();
}

void RecorderEngine::park() {
  // Zero latency: every frame sent has left the encoder already.
  enc_.reset();
  sws_.reset();
  rect_sws_.clear();
  resume_key_ = true;
  ++stats_.parks;
  spdlog::debug("event=recording_encoder_parked pts={}", last_pts_);
}

Status RecorderEngine::resume() {
  if (Status st = openEncoder(canvas_->width, canvas_->height); !st.ok()) return st;
  // The file has one init segment: the new encoder must describe the stream
  // exactly as the first did (same settings, so it does).
  if (std::string_view(reinterpret_cast<const char*>(enc_->extradata),
                       static_cast<std::size_t>(enc_->extradata_size)) != extradata_) {
    return Status::Error("the reopened video encoder's stream headers differ from the file's");
  }
  spdlog::debug("event=recording_encoder_resumed pts={}", last_pts_);
  return Status::Ok();
}

Status RecorderEngine::convertRect(const Frame& screen, Rect r) {
  // Even rows, so 2x2 chroma blocks are converted whole, as in a full pass;
  // columns in steps of 32 because swscale's SIMD writes whole 32-pixel runs
  // (a narrower rect would clobber its right neighbour; at the right edge the
  // overrun lands in the canvas' line padding, as in a full pass).
  const int x0 = r.x & ~31, y0 = roundDownEven(r.y);
  const int x1 = std::min((r.x + r.w + 31) & ~31, screen.width());
  const int y1 = std::min(roundUpEven(r.y + r.h), screen.height());
  const int w = x1 - x0, h = y1 - y0;
  if (w <= 0 || h <= 0) return Status::Ok();
  SwsContextPtr& ctx = rect_sws_[{w, h}];
  if (!ctx) {
    ctx.reset(sws_getContext(w, h, AV_PIX_FMT_BGR0, w, h, AV_PIX_FMT_YUV420P, SWS_POINT, nullptr,
                             nullptr, nullptr));
    if (!ctx) return Status::Error("cannot set up the pixel converter");
  }
  const uint8_t* src[4] = {screen.row(y0) + x0 * Frame::kBytesPerPixel, nullptr, nullptr, nullptr};
  const int src_stride[4] = {screen.stride(), 0, 0, 0};
  uint8_t* dst[4] = {canvas_->data[0] + y0 * canvas_->linesize[0] + x0,
                     canvas_->data[1] + (y0 / 2) * canvas_->linesize[1] + x0 / 2,
                     canvas_->data[2] + (y0 / 2) * canvas_->linesize[2] + x0 / 2, nullptr};
  const int dst_stride[4] = {canvas_->linesize[0], canvas_->linesize[1], canvas_->linesize[2], 0};
  sws_scale(ctx.get(), src, src_stride, 0, h, dst, dst_stride);
  return Status::Ok();
}

void RecorderEngine::rememberRows(const Frame& screen, const DirtyRegion& damage) {
  // At the native size a damaged row is the same canvas row (converted in
  // pairs of rows); scaled or newly placed, any row may change.
  const bool native = roundUpEven(screen.width()) == canvas_->width &&
                      roundUpEven(screen.height()) == canvas_->height && placed_ == screen.bounds();
  const Rect b = damage.bounds();
  const int y0 = native ? roundDownEven(b.y) : 0;
  const int y1 = native ? roundUpEven(b.y + b.h) : canvas_->height;
  fresh_.remember(lumaPlane(), y0, y1);
}

Status RecorderEngine::convert(const Frame& screen, const DirtyRegion& damage) {
  if (int e = av_frame_make_writable(canvas_.get()); e < 0)
    return avError("cannot write the video canvas", e);
  const int cw = enc_->width, ch = enc_->height;
  // Native size (the first frame's) maps 1:1 with padding; any other size is
  // scaled to fit, centred, with black bars: one file, one canvas.
  Rect place{0, 0, screen.width(), screen.height()};
  if (screen.width() > cw || screen.height() > ch ||
      roundUpEven(screen.width()) != cw || roundUpEven(screen.height()) != ch) {
    const double scale = std::min(static_cast<double>(cw) / screen.width(),
                                  static_cast<double>(ch) / screen.height());
    place.w = std::clamp(roundDownEven(static_cast<int>(screen.width() * scale)), 2, cw);
    place.h = std::clamp(roundDownEven(static_cast<int>(screen.height() * scale)), 2, ch);
    place.x = roundDownEven((cw - place.w) / 2);
    place.y = roundDownEven((ch - place.h) / 2);
  }
  const bool native = place.w == screen.width() && place.h == screen.height();
  if (place == placed_ && native && damage.area() * 2 < screen.bounds().area()) {
    if (rect_sws_.size() > 64) rect_sws_.clear();  // damage sizes vary; keep the cache small
    for (const Rect& r : damage.rects()) {
      if (Status st = convertRect(screen, r.intersect(screen.bounds())); !st.ok()) return st;
    }
    return Status::Ok();
  }
  if (!(place == placed_)) {
    // Black (limited range) everywhere, so padding and bars stay clean.
    const ptrdiff_t ls[4] = {canvas_->linesize[0], canvas_->linesize[1], canvas_->linesize[2], 0};
    av_image_fill_black(canvas_->data, ls, AV_PIX_FMT_YUV420P, AVCOL_RANGE_MPEG, cw, ch);
    placed_ = place;
  }
  const int flags = native ? SWS_POINT : SWS_AREA;
  sws_.reset(sws_getCachedContext(sws_.release(), screen.width(), screen.height(), AV_PIX_FMT_BGR0,
                                  place.w, place.h, AV_PIX_FMT_YUV420P, flags, nullptr, nullptr,
                                  nullptr));
  if (!sws_) return Status::Error("cannot set up the pixel converter");
  const uint8_t* src[4] = {screen.data(), nullptr, nullptr, nullptr};
  const int src_stride[4] = {screen.stride(), 0, 0, 0};
  uint8_t* dst[4] = {
      canvas_->data[0] + place.y * canvas_->linesize[0] + place.x,
      canvas_->data[1] + (place.y / 2) * canvas_->linesize[1] + place.x / 2,
      canvas_->data[2] + (place.y / 2) * canvas_->linesize[2] + place.x / 2, nullptr};
  const int dst_stride[4] = {canvas_->linesize[0], canvas_->linesize[1], canvas_->linesize[2], 0};
  sws_scale(sws_.get(), src, src_stride, 0, screen.height(), dst, dst_stride);
  return Status::Ok();
}

Status RecorderEngine::drainPackets(Steady now) {
  while (true) {
    const int r = avcodec_receive_packet(enc_.get(), pkt_.get());
    if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return Status::Ok();
    if (r < 0) return avError("video encoder failed", r);
    AvPacketPtr out(av_packet_alloc());
    if (!out) return Status::Error("out of memory in the video encoder");
    av_packet_move_ref(out.get(), pkt_.get());
    if (out->dts == AV_NOPTS_VALUE) out->dts = out->pts;
    if (out->flags & AV_PKT_FLAG_KEY) {
      ++stats_.keyframes;
      last_key_bytes_ = out->size;
      bytes_since_key_ = 0;
    } else {
      bytes_since_key_ += out->size;
    }
    ++stats_.frames_encoded;
    if (Status st = muxer_->add(std::move(out), now); !st.ok()) return st;
  }
}

Status RecorderEngine::encode(Millis pts, bool key, Steady now) {
  if (!enc_) {
    if (Status st = resume(); !st.ok()) return st;
  }
  key = key || resume_key_;  // a reopened encoder starts from nothing
  resume_key_ = false;
  canvas_->pts = pts;
  compat::requestKeyframe(canvas_.get(), key);
  if (int e = avcodec_send_frame(enc_.get(), canvas_.get()); e < 0)
    return avError("video encoder refused a frame", e);
  last_pts_ = pts;
  if (key) last_key_pts_ = pts;
  return drainPackets(now);
}

Status RecorderEngine::frame(const Frame& screen, const DirtyRegion& damage, Millis t, Steady now) {
  const auto t0 = std::chrono::steady_clock::now();
  anchor_t_ = t;
  anchor_now_ = now;
  const bool first = !started_;
  if (first) {
    if (Status st = start(screen.width(), screen.height()); !st.ok()) return st;
  } else if (damage.empty()) {
    ++stats_.frames_unchanged;  // repainted, same pixels: costs nothing
    return Status::Ok();
  }
  Millis pts = first ? 0 : std::max(t, last_pts_ + 1);
  if (!first && !muxer_->holding()) {
    // The last picture was flushed lasting until timelineEnd(): continue there,
    // repeating it up to this frame so later frames keep their real times.
    const Millis end = muxer_->timelineEnd();
    if (pts <= end) {
      pts = end;
    } else {
      ++stats_.repeats;
      if (Status st = encode(end, false, now); !st.ok()) return st;
    }
  }
  // A keyframe costs a whole screen of text (~100-400 KB at 1080p); it pays
  // off only when seeking would otherwise decode as much. So one is due after
  // the interval, once the frames since the last keyframe add up to its size
  // times the ratio; it then waits for a frame that replaces most of the
  // screen's content (where it costs little more than the P-frame), up to
  // the wait ratio; and always comes after the max interval.
  const Millis since_key = pts - last_key_pts_;
  const double key_bytes = std::max(static_cast<double>(last_key_bytes_),
                                    opts_.keyframe_floor_bytes_per_pixel * screen.width() * screen.height());
  const bool due = since_key >= opts_.keyframe_interval_ms &&
                   bytes_since_key_ >= static_cast<std::int64_t>(key_bytes * opts_.keyframe_bytes_ratio);
  bool key = first || since_key >= opts_.keyframe_max_interval_ms ||
             (due && (opts_.keyframe_fresh_share <= 0 ||
                      bytes_since_key_ >= static_cast<std::int64_t>(key_bytes * opts_.keyframe_wait_bytes_ratio)));
  // Only a frame that changed a sixteenth of the screen is looked at: typing
  // costs nothing more while a keyframe waits.
  const bool look = due && !key && damage.area() * 16 >= screen.bounds().area();
  if (look) rememberRows(screen, damage);
  if (Status st = convert(screen, damage); !st.ok()) return st;
  if (look) {
    const double share = fresh_.share(lumaPlane());
    key = share >= opts_.keyframe_fresh_share;
    spdlog::debug("event=recording_keyframe_due pts={} fresh_share={:.3f} keyed={}", pts, share, key);
  }
  if (Status st = encode(pts, key, now); !st.ok()) return st;

  stats_.encode_ms_total +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

Status RecorderEngine::finish(Steady now) {
  if (!started_) return muxer_->finish(0);
  Millis end = std::max(sessionNow(now), last_pts_ + 1);
  if (!muxer_->holding()) {
    // The last picture went to disk at an idle flush: continue from there.
    const Millis on_disk = muxer_->timelineEnd();
    end = std::max(end, on_disk);
    if (end > on_disk) {
      ++stats_.repeats;
      if (Status st = encode(on_disk, false, now); !st.ok()) return st;
    }
  }
  // Demuxers of fragmented MP4 do not know the duration of the file's last
  // sample, so the video would end at the last change instead of at the
  // session's end. A 1 ms repeat of the final picture marks the end.
  if (end > last_pts_) {
    ++stats_.repeats;
    if (Status st = encode(end, false, now); !st.ok()) return st;
  }
  if (enc_) {  // still parked if nothing above needed encoding
    if (int e = avcodec_send_frame(enc_.get(), nullptr); e < 0 && e != AVERROR_EOF)
      return avError("cannot drain the video encoder", e);
    if (Status st = drainPackets(now); !st.ok()) return st;
  }
  return muxer_->finish(end + 1);
}

// ---------------------------------------------------------------------------

Recorder::Recorder(std::string path, RecorderOptions opts)
    : path_(std::move(path)), opts_(std::move(opts)) {}

Result<std::unique_ptr<Recorder>> Recorder::open(const std::string& path, RecorderOptions opts) {
  if (opts.qp < 0 || opts.qp > 51) return Status::Error("recorder qp must be within 0..51");
  if (opts.keyframe_interval_ms <= 0 || opts.flush_interval_ms <= 0 ||
      opts.keyframe_max_interval_ms < opts.keyframe_interval_ms)
    return Status::Error("recorder keyframe and flush intervals must be positive, the maximum "
                         "keyframe interval at least the interval");
  if (opts.keyframe_fresh_share < 0 || opts.keyframe_fresh_share > 1 ||
      opts.keyframe_wait_bytes_ratio < opts.keyframe_bytes_ratio)
    return Status::Error("recorder keyframe_fresh_share must be within 0..1 and "
                         "keyframe_wait_bytes_ratio at least keyframe_bytes_ratio");
  if (opts.park_encoder_after_ms < 0)
    return Status::Error("recorder park_encoder_after_ms must be 0 (never) or positive");
  if (opts.min_frame_interval_ms < 0)
    return Status::Error("recorder min_frame_interval_ms must be 0 (every change) or positive");
  std::unique_ptr<Recorder> r(new Recorder(path, opts));
  auto muxer = Fmp4Muxer::create(path, opts.overwrite,
                                 std::chrono::milliseconds(opts.flush_interval_ms), r->bytes_,
                                 opts.seal_keys.get());
  if (!muxer) return muxer.status();
  Recorder* self = r.get();
  muxer.value()->setByteSink([self](bool is_init, const std::uint8_t* data, std::size_t n, bool key) {
    self->deliverFragment(is_init, data, n, key);
  });
  r->engine_ = std::make_unique<RecorderEngine>(r->opts_, std::move(muxer.value()));
  r->worker_ = std::thread([self] {
    nameThisThread("record");
    lowerThisThreadPriority();  // the relay must not wait for CPU behind x264
    self->run();
  });
  spdlog::debug("event=recording_opened path={}", path);
  return r;
}

Recorder::~Recorder() { close(); }

void Recorder::onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) {
  if (fb.empty()) return;
  slot_.publish(fb, changed, t);
  {
    std::lock_guard lock(wake_mu_);
    ++published_;
  }
  wake_cv_.notify_one();
}

void Recorder::onResize(int width, int height, Millis t) {
  // The next frame carries the new size; the worker letterboxes it.
  spdlog::debug("event=recording_resize path={} width={} height={} t={}", path_, width, height, t);
}

void Recorder::fail(const Status& st) {
  std::lock_guard lock(state_mu_);
  if (!error_.ok()) return;
  error_ = st;
  spdlog::error("event=recording_failed path={} error=\"{}\"", path_, st.message());
}

void Recorder::deliverFragment(bool is_init, const std::uint8_t* data, std::size_t n, bool key) {
  if (is_init || !tap_.load(std::memory_order_acquire)) return;
  FragmentListener listener;
  {
    std::lock_guard lock(state_mu_);
    listener = listener_;
  }
  if (listener) listener(LiveFragment{engine_->muxer().initSegment(), data, n, key});
}

void Recorder::setFragmentListener(FragmentListener listener) {
  std::lock_guard lock(state_mu_);
  tap_.store(static_cast<bool>(listener), std::memory_order_release);
  listener_ = std::move(listener);
}

void Recorder::run() {
  Frame work;  // the latest screen; the slot copies only what changed into it
  DirtyRegion damage;
  Millis t = 0;
  long long seen = 0;
  bool healthy = true;
  auto publishStats = [&] {
    RecorderStats s = engine_->stats();
    s.fragments = engine_->muxer().fragments();
    s.frames_merged = slot_.merged();
    std::lock_guard lock(state_mu_);
    stats_ = s;
  };
  auto check = [&](const Status& st) {
    if (st.ok()) return;
    healthy = false;
    fail(st);
  };
  // An idle session keeps no copy of the screen (4 MB each at 1280x800):
  // after this long without frames the working copy is dropped (the next
  // frame is taken whole, costing one full conversion) and so is the slot's
  // (the next publish copies a whole frame), the latter once the title
  // reader has looked at it (retried every kKeepIdleCopy until then).
  constexpr auto kKeepIdleCopy = std::chrono::seconds(3);
  auto last_frame = std::chrono::steady_clock::now();
  auto idle_at = last_frame + kKeepIdleCopy;
  bool idle_released = false;
  const auto min_interval = std::chrono::milliseconds(opts_.min_frame_interval_ms);
  auto next_take = last_frame;
  while (true) {
    auto now = std::chrono::steady_clock::now();
    const bool may_take = now >= next_take;
    if (may_take && slot_.tryTake(work, damage, t)) {
      last_frame = now;
      next_take = now + min_interval;
      idle_at = last_frame + kKeepIdleCopy;
      idle_released = false;
      if (healthy) check(engine_->frame(work, damage, t, last_frame));
      publishStats();
      continue;
    }
    now = std::chrono::steady_clock::now();
    const auto deadline = healthy ? engine_->deadline() : std::nullopt;
    if (deadline && *deadline <= now) {
      check(engine_->timer(now));
      publishStats();
      continue;
    }
    auto wake = deadline;
    if (!idle_released) {
      if (idle_at <= now) {
        work = Frame{};
        idle_released = slot_.release();
        idle_at = now + kKeepIdleCopy;
        continue;
      }
      if (!wake || idle_at < *wake) wake = idle_at;
    }
    if (healthy && opts_.park_encoder_after_ms > 0 && engine_->canPark()) {
      const auto park_at = last_frame + std::chrono::milliseconds(opts_.park_encoder_after_ms);
      if (park_at <= now) {
        engine_->park();
        publishStats();
        continue;
      }
      if (!wake || park_at < *wake) wake = park_at;
    }
    if (!may_take && (!wake || next_take < *wake)) wake = next_take;  // changes wait their turn
    std::unique_lock lock(wake_mu_);
    if (published_ != seen) {
      seen = published_;
      if (may_take) continue;
    }
    if (closing_) break;
    if (wake) wake_cv_.wait_until(lock, *wake);
    else wake_cv_.wait(lock);
  }
  while (slot_.tryTake(work, damage, t))
    if (healthy) check(engine_->frame(work, damage, t, std::chrono::steady_clock::now()));
  if (healthy) check(engine_->finish(std::chrono::steady_clock::now()));
  publishStats();
}

void Recorder::close() {
  std::lock_guard close_lock(close_mu_);
  if (closed_) return;
  closed_ = true;
  slot_.close();
  {
    std::lock_guard lock(wake_mu_);
    closing_ = true;
  }
  wake_cv_.notify_one();
  if (worker_.joinable()) worker_.join();
  engine_.reset();  // closes the file
  const RecorderStats s = stats();
  spdlog::info(
      "event=recording_closed path={} bytes={} frames={} merged={} keyframes={} parks={} fragments={}",
      path_, bytesWritten(), s.frames_encoded, s.frames_merged, s.keyframes, s.parks, s.fragments);
}

bool Recorder::healthy() const {
  std::lock_guard lock(state_mu_);
  return error_.ok();
}

std::string Recorder::lastError() const {
  std::lock_guard lock(state_mu_);
  return error_.message();
}

Status Recorder::status() const {
  std::lock_guard lock(state_mu_);
  return error_;
}

RecorderStats Recorder::stats() const {
  std::lock_guard lock(state_mu_);
  RecorderStats s = stats_;
  s.bytes_written = bytesWritten();
  return s;
}

}  // namespace vigil::codecs
