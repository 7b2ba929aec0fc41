// Recorder replay: feeds a lossless capture of a desktop session (made by
// capture_workload.sh from recorder_bench's scripted workload) through
// codecs::Recorder frame by frame, so encoder settings can be compared on the
// same real screen content, deterministically and faster than real time.
// Each captured frame that differs from the previous one is published with
// damage = its changed 64x64 tiles (runs per tile row) and the capture's
// timestamp, and the replay waits until the recorder's worker has encoded it
// (no merging: every change is a frame). Reports MB per session-hour, frames,
// keyframes (and their share of the bytes), encoder CPU (the process's CPU
// minus this thread's: decoding the capture and diffing are not counted) and
// the PSNR of the recording against the captured frames (every Nth frame and
// the last). Usage:
//   recorder_replay --in workload.mkv [--out rec.mp4] [--qp N] [--preset P]
//                   [--x264 "k=v:k=v"] [--keyint-ms K] [--key-ratio R] [--key-floor BYTES_PER_PX]
//                   [--keyint-max-ms M] [--key-fresh SHARE] [--key-wait-ratio R]
//                   [--sample-every N] [--session-s S] [--loops N]
//                   [--min-interval-ms N] [--label TEXT] [--json FILE] [--dump DIR]
// --session-s: the session length for MB/h (default: up to the last change).
// --min-interval-ms: publish at most one change per N ms (later changes wait
// for the next capture after that; the final state is always published);
// default: the recorder's min_frame_interval_ms.
// --loops N: the capture N times in a row (a longer session of the same
// content, for the keyframe policy; the session is N × --session-s).
// --frame-log FILE: per published frame, how much of the screen it changed
// and brought anew (the keyframe placement study in docs/recording.md), one
// line each: index t_ms damage changed fresh fresh_refs textured fresh_textured
// (see ChangeMeasure).
// --json appends one JSON object per run (one line) to FILE.
// --dump DIR: every 5th PSNR sample as two PPM pictures, the captured frame
// (DIR/src_T.ppm) and the recording's frame shown then (DIR/rec_T.ppm), T
// in ms: for legibility checks (bench/recorder/legibility.py).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "codecs/demux.h"
#include "codecs/ffmpeg_owners.h"
#include "codecs/recorder.h"
#include "codecs/video_reader.h"
#include "tests/testbed/testbed.h"

namespace vigil::bench {
namespace {

using codecs::AvCodecCtxPtr;
using codecs::AvFramePtr;
using codecs::AvPacketPtr;
using codecs::SwsContextPtr;

double cpuSeconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Reads a video file picture by picture, as BGRX, with times in ms from the
// stream's first picture. Tallies packet bytes by keyframe / other.
class SequentialDecoder {
 public:
  static Result<std::unique_ptr<SequentialDecoder>> open(const std::string& path) {
    auto in = codecs::openInputVideo(path, storage::KeyRing());
    if (!in) return in.status();
    std::unique_ptr<SequentialDecoder> d(new SequentialDecoder(std::move(*in)));
    const AVCodec* codec = avcodec_find_decoder(d->in_.st()->codecpar->codec_id);
    if (!codec) return Status::Error("no decoder for the video of " + path);
    d->dec_.reset(avcodec_alloc_context3(codec));
    d->pkt_.reset(av_packet_alloc());
    d->frame_.reset(av_frame_alloc());
    if (!d->dec_ || !d->pkt_ || !d->frame_) return Status::Error("out of memory decoding " + path);
    if (int e = avcodec_parameters_to_context(d->dec_.get(), d->in_.st()->codecpar); e < 0)
      return codecs::avError("cannot set up the decoder", e);
    d->dec_->thread_count = 1;  // no decoder threads: the CPU figures stay the encoder's
    if (int e = avcodec_open2(d->dec_.get(), codec, nullptr); e < 0)
      return codecs::avError("cannot open the decoder for " + path, e);
    return d;
  }

  // The next picture into `out`; false at the end of the stream.
  Result<bool> next(Frame& out, Millis& t) {
    while (true) {
      const int r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == 0) {
        const AVRational tb = in_.st()->time_base;
        const Millis ms = av_rescale_q(frame_->best_effort_timestamp, tb, AVRational{1, 1000});
        if (first_ms_ < 0) first_ms_ = ms;
        t = ms - first_ms_;
        Status st = toBgrx(out);
        av_frame_unref(frame_.get());
        if (!st.ok()) return st;
        return true;
      }
      if (r == AVERROR_EOF) return false;
      if (r != AVERROR(EAGAIN)) return codecs::avError("cannot decode", r);
      if (draining_) return false;
      if (codecs::readVideoPacket(in_, pkt_.get()) != 0) {
        draining_ = true;
        (void)avcodec_send_packet(dec_.get(), nullptr);
        continue;
      }
      if (pkt_->flags & AV_PKT_FLAG_KEY) {
        ++keyframes_;
        key_bytes_ += pkt_->size;
      } else {
        other_bytes_ += pkt_->size;
      }
      const int e = avcodec_send_packet(dec_.get(), pkt_.get());
      av_packet_unref(pkt_.get());
      if (e < 0 && e != AVERROR(EAGAIN)) return codecs::avError("cannot decode", e);
    }
  }

  long long keyframes() const { return keyframes_; }
  long long keyBytes() const { return key_bytes_; }
  long long otherBytes() const { return other_bytes_; }

 private:
  explicit SequentialDecoder(codecs::InputVideo in) : in_(std::move(in)) {}

  Status toBgrx(Frame& out) {
    const AVFrame& f = *frame_;
    if (out.width() != f.width || out.height() != f.height) out.resize(f.width, f.height);
    sws_.reset(sws_getCachedContext(sws_.release(), f.width, f.height,
                                    static_cast<AVPixelFormat>(f.format), f.width, f.height,
                                    AV_PIX_FMT_BGR0, SWS_POINT, nullptr, nullptr, nullptr));
    if (!sws_) return Status::Error("cannot convert the decoded picture");
    uint8_t* dst[4] = {out.data(), nullptr, nullptr, nullptr};
    const int dst_stride[4] = {out.stride(), 0, 0, 0};
    sws_scale(sws_.get(), f.data, f.linesize, 0, f.height, dst, dst_stride);
    return Status::Ok();
  }

  codecs::InputVideo in_;
  AvCodecCtxPtr dec_;
  AvPacketPtr pkt_;
  AvFramePtr frame_;
  SwsContextPtr sws_;
  bool draining_ = false;
  Millis first_ms_ = -1;
  long long keyframes_ = 0, key_bytes_ = 0, other_bytes_ = 0;
};

// The 64x64 tiles where `cur` differs from `prev`, as runs of tiles per tile row.
DirtyRegion changedTiles(const Frame& prev, const Frame& cur) {
  constexpr int kTile = 64;
  DirtyRegion d;
  if (prev.width() != cur.width() || prev.height() != cur.height()) {
    d.add(cur.bounds());
    return d;
  }
  for (int ty = 0; ty < cur.height(); ty += kTile) {
    const int th = std::min(kTile, cur.height() - ty);
    int run_x = -1;
    for (int tx = 0; tx <= cur.width(); tx += kTile) {
      bool dirty = false;
      if (tx < cur.width()) {
        const int tw = std::min(kTile, cur.width() - tx);
        const std::size_t off = static_cast<std::size_t>(tx) * Frame::kBytesPerPixel;
        const std::size_t n = static_cast<std::size_t>(tw) * Frame::kBytesPerPixel;
        for (int y = ty; y < ty + th && !dirty; ++y)
          dirty = std::memcmp(prev.row(y) + off, cur.row(y) + off, n) != 0;
      }
      if (dirty && run_x < 0) run_x = tx;
      if (!dirty && run_x >= 0) {
        d.add(Rect{run_x, ty, std::min(tx, cur.width()) - run_x, th});
        run_x = -1;
      }
    }
  }
  return d;
}

struct Sample {
  Millis t;
  Frame f;
};

// Per-frame measures of how much of the screen a change brings anew (for
// the keyframe placement study): the screen in kStrips column strips, one
// row of a strip a segment.
struct ChangeMeasure {
  double damage = 0;     // damaged tiles' area / screen
  double changed = 0;    // changed segments / all
  double fresh = 0;      // changed segments whose content is nowhere in the old picture's strip
  double fresh_refs = 0; // changed segments found neither there nor in the two pictures before (x264's references)
  double textured = 0;   // non-uniform segments of the new picture / all
  double fresh_textured = 0;  // fresh and non-uniform / all non-uniform segments of the new picture
};

std::uint64_t hashSeg(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = (h ^ v) * 1099511628211ull;
    h ^= h >> 29;
  }
  return h;
}

bool uniformSeg(const std::uint8_t* p, std::size_t n) {
  for (std::size_t i = 4; i < n; i += 4)
    if (std::memcmp(p, p + i, 4) != 0) return false;
  return true;
}

ChangeMeasure measureChange(const Frame& old, const Frame& cur, const DirtyRegion& damage,
                            const std::vector<const Frame*>& older = {}) {
  constexpr int kStrips = 8;
  ChangeMeasure m;
  const double all = static_cast<double>(cur.width()) * cur.height();
  m.damage = damage.area() / all;
  if (old.width() != cur.width() || old.height() != cur.height()) return m;
  const int sw = cur.width() / kStrips;
  long long changed = 0, fresh = 0, fresh_refs = 0, textured = 0, fresh_tex = 0;
  for (int s = 0; s < kStrips; ++s) {
    const std::size_t off = static_cast<std::size_t>(s) * sw * 4, n = static_cast<std::size_t>(sw) * 4;
    std::vector<std::uint64_t> old_all;
    for (int y = 0; y < old.height(); ++y) old_all.push_back(hashSeg(old.row(y) + off, n));
    std::vector<std::uint64_t> refs = old_all;
    for (const Frame* o : older)
      if (o->width() == cur.width() && o->height() == cur.height())
        for (int y = 0; y < o->height(); ++y) refs.push_back(hashSeg(o->row(y) + off, n));
    std::sort(old_all.begin(), old_all.end());
    std::sort(refs.begin(), refs.end());
    for (int y = 0; y < cur.height(); ++y) {
      const bool tex = !uniformSeg(cur.row(y) + off, n);
      textured += tex;
      if (std::memcmp(old.row(y) + off, cur.row(y) + off, n) == 0) continue;
      ++changed;
      const std::uint64_t h = hashSeg(cur.row(y) + off, n);
      if (!std::binary_search(old_all.begin(), old_all.end(), h)) {
        ++fresh;
        fresh_tex += tex;
      }
      if (!std::binary_search(refs.begin(), refs.end(), h)) ++fresh_refs;
    }
  }
  const double segs = static_cast<double>(kStrips) * cur.height();
  m.changed = changed / segs;
  m.fresh = fresh / segs;
  m.fresh_refs = fresh_refs / segs;
  m.textured = textured / segs;
  m.fresh_textured = textured ? static_cast<double>(fresh_tex) / textured : 0;
  return m;
}

struct Args {
  std::string in, out = "/tmp/vigil-recorder-replay.mp4", label, json, frame_log, dump;
  codecs::RecorderOptions opts;
  int sample_every = 10;
  int loops = 1;
  double session_s = 0;
  // The recorder's frame interval, emulated on the capture's clock: changes
  // merge until then.
  Millis min_interval_ms = codecs::RecorderOptions{}.min_frame_interval_ms;
};

int run(const Args& a) {
  auto src = SequentialDecoder::open(a.in);
  if (!src) {
    std::fprintf(stderr, "recorder_replay: %s\n", src.message().c_str());
    return 1;
  }
  codecs::RecorderOptions opts = a.opts;
  opts.overwrite = true;
  // Wall time runs faster than session time here. No idle flushes either:
  // on a busy machine an encode slower than the flush interval made the
  // muxer flush the held frame "until now" (session time extrapolated from
  // wall time), shifting the next frames' times and the PSNR samples.
  opts.park_encoder_after_ms = 0;
  opts.min_frame_interval_ms = 0;
  opts.flush_interval_ms = 3600 * 1000;
  const double cpu_all0 = cpuSeconds(RUSAGE_SELF), cpu_main0 = cpuSeconds(RUSAGE_THREAD);
  const auto wall0 = std::chrono::steady_clock::now();
  auto rec = codecs::Recorder::open(a.out, opts);
  if (!rec) {
    std::fprintf(stderr, "recorder_replay: %s\n", rec.message().c_str());
    return 1;
  }
  // `prev` is the last published picture; with --min-interval-ms a change
  // sooner than that after it waits (in `pending`) for a later capture.
  Frame prev, cur, pending;
  Millis t = 0, last_t = 0, pending_t = 0;
  bool has_pending = false;
  long long captured = 0, published = 0, held = 0;
  std::vector<Sample> samples;
  Millis loop_offset = 0, loop_len = 0;  // --loops
  std::ofstream frame_log;
  std::vector<Frame> history;  // the pictures before `prev`, for the frame log
  if (!a.frame_log.empty()) frame_log.open(a.frame_log);
  auto publish = [&](Frame& f, const DirtyRegion& damage, Millis ft) -> bool {
    if (frame_log.is_open()) {
      std::vector<const Frame*> older;
      for (const Frame& o : history) older.push_back(&o);
      const ChangeMeasure m = measureChange(prev, f, damage, older);
      history.push_back(prev);
      if (history.size() > 2) history.erase(history.begin());
      frame_log << published << " " << ft << " " << m.damage << " " << m.changed << " " << m.fresh << " "
                << m.fresh_refs << " " << m.textured << " " << m.fresh_textured << "\n";
    }
    const long long before = (*rec)->stats().publishesHandled();
    (*rec)->onFrame(f, damage, ft);
    while ((*rec)->stats().publishesHandled() <= before && (*rec)->healthy())
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (!(*rec)->healthy()) {
      std::fprintf(stderr, "recorder_replay: %s\n", (*rec)->lastError().c_str());
      return false;
    }
    // (each sample holds a whole screen: with --loops only the first pass is sampled)
    if (published % a.sample_every == 0 && (loop_len == 0 || ft < loop_len)) samples.push_back({ft, f});
    ++published;
    last_t = ft;
    std::swap(prev, f);
    return true;
  };
  // --loops: the capture again and again, each pass starting one session
  // length (or its last change + 100 ms) after the previous one.
  for (int loop = 0;;) {
    auto more = (*src)->next(cur, t);
    if (!more) {
      std::fprintf(stderr, "recorder_replay: %s\n", more.message().c_str());
      return 1;
    }
    if (!*more) {
      if (++loop >= a.loops) break;
      if (loop_len == 0) loop_len = a.session_s > 0 ? static_cast<Millis>(a.session_s * 1000) : t + 100;
      loop_offset += loop_len;
      src = SequentialDecoder::open(a.in);
      if (!src) {
        std::fprintf(stderr, "recorder_replay: %s\n", src.message().c_str());
        return 1;
      }
      continue;
    }
    t += loop_offset;
    ++captured;
    const DirtyRegion damage = published == 0 ? DirtyRegion(cur.bounds()) : changedTiles(prev, cur);
    if (damage.empty()) {
      has_pending = false;  // changed back to the published picture
      continue;
    }
    if (published > 0 && t - last_t < a.min_interval_ms) {
      pending = cur;
      pending_t = t;
      has_pending = true;
      ++held;
      continue;
    }
    has_pending = false;
    if (!publish(cur, damage, t)) return 1;
  }
  if (has_pending && !publish(pending, changedTiles(prev, pending), pending_t)) return 1;
  if (samples.empty() || samples.back().t != last_t) samples.push_back({last_t, prev});
  (*rec)->close();
  const double cpu_enc = (cpuSeconds(RUSAGE_SELF) - cpu_all0) - (cpuSeconds(RUSAGE_THREAD) - cpu_main0);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (!(*rec)->status().ok()) {
    std::fprintf(stderr, "recorder_replay: %s\n", (*rec)->lastError().c_str());
    return 1;
  }
  const codecs::RecorderStats s = (*rec)->stats();

  // PSNR: decode the recording once, in step with the samples' times (the
  // picture shown at t is the last one with pts <= t).
  auto recd = SequentialDecoder::open(a.out);
  if (!recd) {
    std::fprintf(stderr, "recorder_replay: %s\n", recd.message().c_str());
    return 1;
  }
  Frame shown, next_pic;
  Millis next_t = 0;
  bool have_next = false, at_end = false;
  double psnr_sum = 0, psnr_min = 1e9, psnr_last = 0;
  Millis psnr_min_t = 0;
  int n_psnr = 0;
  for (const Sample& smp : samples) {
    while (!at_end) {
      if (!have_next) {
        auto more = (*recd)->next(next_pic, next_t);
        if (!more) {
          std::fprintf(stderr, "recorder_replay: %s\n", more.message().c_str());
          return 1;
        }
        if (!*more) { at_end = true; break; }
        have_next = true;
      }
      if (next_t > smp.t && !shown.empty()) break;
      std::swap(shown, next_pic);
      have_next = false;
    }
    const double p = std::min(codecs::psnr(shown, smp.f), 99.0);
    if (!a.dump.empty() && n_psnr % 5 == 0) {
      std::ofstream(a.dump + "/src_" + std::to_string(smp.t) + ".ppm", std::ios::binary) << testbed::ppmBytes(smp.f);
      std::ofstream(a.dump + "/rec_" + std::to_string(smp.t) + ".ppm", std::ios::binary) << testbed::ppmBytes(shown);
    }
    psnr_sum += p;
    ++n_psnr;
    if (p < psnr_min) { psnr_min = p; psnr_min_t = smp.t; }
    psnr_last = p;
  }
  while (!at_end) {  // the rest, for the byte tallies
    auto more = (*recd)->next(next_pic, next_t);
    if (!more || !*more) at_end = true;
  }
  const double session_s = a.session_s > 0 ? a.session_s * a.loops : last_t / 1000.0;
  const double mb_h = static_cast<double>(s.bytes_written) / 1e6 * 3600.0 / session_s;
  const long long pkt_bytes = (*recd)->keyBytes() + (*recd)->otherBytes();
  nlohmann::json r = {
      {"label", a.label},
      {"qp", opts.qp},
      {"preset", opts.preset},
      {"x264", opts.x264_params},
      {"keyint_ms", opts.keyframe_interval_ms},
      {"key_ratio", opts.keyframe_bytes_ratio},
      {"keyint_max_ms", opts.keyframe_max_interval_ms},
      {"key_fresh", opts.keyframe_fresh_share},
      {"key_wait_ratio", opts.keyframe_wait_bytes_ratio},
      {"session_s", session_s},
      {"loops", a.loops},
      {"captured", captured},
      {"min_interval_ms", a.min_interval_ms},
      {"held", held},
      {"frames", s.frames_encoded},
      {"keyframes", s.keyframes},
      {"bytes", s.bytes_written},
      {"mb_per_hour", mb_h},
      {"key_share", pkt_bytes > 0 ? static_cast<double>((*recd)->keyBytes()) / pkt_bytes : 0.0},
      {"encoder_cpu_s", cpu_enc},
      {"encode_ms_total", s.encode_ms_total},
      {"wall_s", wall},
      {"psnr_mean", n_psnr ? psnr_sum / n_psnr : 0.0},
      {"psnr_min", psnr_min},
      {"psnr_min_t_ms", psnr_min_t},
      {"psnr_last", psnr_last},
      {"psnr_samples", n_psnr},
  };
  std::printf("%-28s MB/h %6.1f  frames %4lld  keys %2lld (%2.0f%% of bytes)  cpu %6.2f s  "
              "psnr mean %5.2f min %5.2f (t=%.1fs) last %5.2f\n",
              a.label.c_str(), mb_h, s.frames_encoded, s.keyframes, 100.0 * r["key_share"].get<double>(),
              cpu_enc, r["psnr_mean"].get<double>(), psnr_min, psnr_min_t / 1000.0, psnr_last);
  if (!a.json.empty()) std::ofstream(a.json, std::ios::app) << r.dump() << "\n";
  return 0;
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  vigil::bench::Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--in") a.in = v;
    else if (k == "--out") a.out = v;
    else if (k == "--qp" || k == "--crf") a.opts.qp = std::stoi(v);  // --crf: its name before the constant QP
    else if (k == "--preset") a.opts.preset = v;
    else if (k == "--x264") a.opts.x264_params = v;
    else if (k == "--keyint-ms") a.opts.keyframe_interval_ms = std::stoll(v);
    else if (k == "--key-ratio") a.opts.keyframe_bytes_ratio = std::stod(v);
    else if (k == "--key-floor") a.opts.keyframe_floor_bytes_per_pixel = std::stod(v);
    else if (k == "--keyint-max-ms") a.opts.keyframe_max_interval_ms = std::stoll(v);
    else if (k == "--key-fresh") a.opts.keyframe_fresh_share = std::stod(v);
    else if (k == "--key-wait-ratio") a.opts.keyframe_wait_bytes_ratio = std::stod(v);
    else if (k == "--sample-every") a.sample_every = std::max(1, std::stoi(v));
    else if (k == "--loops") a.loops = std::max(1, std::stoi(v));
    else if (k == "--session-s") a.session_s = std::stod(v);
    else if (k == "--min-interval-ms") a.min_interval_ms = std::stoll(v);
    else if (k == "--label") a.label = v;
    else if (k == "--json") a.json = v;
    else if (k == "--frame-log") a.frame_log = v;
    else if (k == "--dump") a.dump = v;
    else {
      std::fprintf(stderr, "recorder_replay: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (a.in.empty()) {
    std::fprintf(stderr, "usage: recorder_replay --in CAPTURE [--out FILE.mp4] [options]\n");
    return 2;
  }
  if (a.label.empty()) a.label = "qp" + std::to_string(a.opts.qp) + " " + a.opts.preset + " " + a.opts.x264_params;
  return vigil::bench::run(a);
}
