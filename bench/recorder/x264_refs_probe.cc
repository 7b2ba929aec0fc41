// Measurement prototype, not built by CMake (it needs libx264-dev, which the
// product does not use: the recorder reaches x264 through FFmpeg, whose
// wrapper fixes the reference count at open). It asks whether older
// reference frames pay on recorder_bench's workload when searched only
// where they matter: x264 is opened with N references (the DPB keeps N
// frames) but searches 3, and x264_encoder_reconfig raises the search to N
// (with a shorter motion range) for a frame in which at least THRESH
// changed luma row segments (1/8 of a row) are found only 4..N frames
// back (a screen coming back: pager left, scrollback, window closed).
// Settings otherwise as codecs/recorder.cc (qp 30, umh 256, mixed refs).
// Input: the lossless capture of capture_workload.sh, every changed frame
// encoded at 100 ms steps; the first frame is the only keyframe unless
// KEYS=1 (the recorder's policy: 30 s, bytes ratio 3, floor 0.05 B/px);
// CALM=ms [BIGDIV=d] holds a due keyframe until no frame changed 1/d of
// the row segments for that long (at most 30 s more).
//   apt-get install libx264-dev
//   g++ -O2 -std=c++20 -o /tmp/x264_refs_probe bench/recorder/x264_refs_probe.cc -lx264
//   /tmp/x264_refs_probe MODE [N [THRESH [X264_OPTS [DEEP_MERANGE]]]]
//     MODE: fixed3 | fixed16 (search all N) | adaptive;  defaults 16 64 "" 0
// Capture path: $CAPTURE or /tmp/cap/workload.mkv. Prints bytes, MB/h for
// 131.6 s, encode and detector thread CPU. Results: docs/recording.md.
#include <cstdint>  // before x264.h
#include <x264.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <string>
#include <unordered_set>
#include <vector>
static double tcpu() { timespec ts; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); return ts.tv_sec + ts.tv_nsec / 1e9; }
int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "adaptive";   // fixed3 | fixed16 | adaptive
  int open_refs = argc > 2 ? atoi(argv[2]) : 16;
  int thresh = argc > 3 ? atoi(argv[3]) : 64;
  const char* extra = argc > 4 ? argv[4] : "";
  int deep_range = argc > 5 ? atoi(argv[5]) : 0;  // 0: as opened
  bool policy = getenv("KEYS") != nullptr;  // the recorder's keyframe policy (30 s, ratio 3, floor 0.05 B/px)
  long long last_key_pts = 0, last_key_bytes = 0, since_key = 0; int keys = 0;
  long long calm_ms = getenv("CALM") ? atoll(getenv("CALM")) : 0, last_big = -1000000, due_since = -1;
  const int W = 1920, H = 1080, SEG = 8, SW = W / SEG;
  const std::string capture = getenv("CAPTURE") ? getenv("CAPTURE") : "/tmp/cap/workload.mkv";
  FILE* in = popen(("ffmpeg -v error -i '" + capture + "' -sws_flags neighbor -f rawvideo -pix_fmt yuv420p -").c_str(), "r");
  if (!in) return 1;
  x264_param_t p;
  x264_param_default_preset(&p, "veryfast", "zerolatency");
  p.i_width = W; p.i_height = H; p.i_csp = X264_CSP_I420;
  p.i_fps_num = 30; p.i_fps_den = 1; p.i_timebase_num = 1; p.i_timebase_den = 1000;
  p.i_threads = 1; p.i_keyint_max = 100000; p.b_repeat_headers = 1; p.b_annexb = 1;
  p.rc.i_rc_method = X264_RC_CQP; p.rc.i_qp_constant = 30;
  std::string params = std::string("aq-mode=0:ipratio=1.26:me=umh:merange=256:scenecut=0:mixed-refs=1:weightp=0:trellis=1:no-deblock=1:ref=") +
                       std::to_string(strcmp(mode, "fixed3") == 0 ? 3 : open_refs) + (extra[0] ? std::string(":") + extra : "");
  for (size_t pos = 0; pos < params.size();) {
    size_t e = params.find(':', pos); if (e == std::string::npos) e = params.size();
    std::string kv = params.substr(pos, e - pos); pos = e + 1;
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "1" : kv.substr(eq + 1);
    if (x264_param_parse(&p, k.c_str(), v.c_str()) < 0) { fprintf(stderr, "bad %s\n", kv.c_str()); return 1; }
  }
  x264_param_apply_profile(&p, "high");
  x264_t* enc = x264_encoder_open(&p);
  x264_picture_t pic, out; x264_picture_alloc(&pic, X264_CSP_I420, W, H);
  const size_t fsz = W * H * 3 / 2;
  std::vector<uint8_t> buf(fsz), prev(fsz);
  std::deque<std::unordered_set<uint64_t>> hist;  // hash sets of the encoded frames, newest first
  std::vector<uint64_t> cur(H * SEG), last(H * SEG, 0);
  long long bytes = 0, frames = 0, deep_frames = 0; int cur_refs = strcmp(mode, "adaptive") == 0 ? 3 : p.i_frame_reference;
  if (strcmp(mode, "adaptive") == 0) { x264_param_t q; x264_encoder_parameters(enc, &q); q.i_frame_reference = 3; x264_encoder_reconfig(enc, &q); }
  double enc_cpu = 0, det_cpu = 0; int idx = -1; bool have_prev = false;
  while (fread(buf.data(), 1, fsz, in) == fsz) {
    ++idx;
    if (have_prev && memcmp(buf.data(), prev.data(), fsz) == 0) continue;
    double t0 = tcpu();
    // Row-segment hashes of luma; uniform segments (blank) are 0.
    std::unordered_set<uint64_t> set;
    int changed = 0, old_only = 0, fresh = 0;
    for (int y = 0; y < H; ++y)
      for (int s = 0; s < SEG; ++s) {
        const uint8_t* r = buf.data() + y * W + s * SW;
        bool uni = true; for (int x = 1; x < SW; ++x) if (r[x] != r[0]) { uni = false; break; }
        uint64_t h = 0;
        if (!uni) { h = 1469598103934665603ull; for (int x = 0; x < SW; x += 8) { uint64_t w; memcpy(&w, r + x, 8); h = (h ^ w) * 1099511628211ull; h ^= h >> 29; } h |= 1; set.insert(h); }
        cur[y * SEG + s] = h;
        if (h && h != last[y * SEG + s] && !hist.empty()) {
          ++changed;
          bool recent = false, older = false;
          for (size_t k = 0; k < hist.size(); ++k) {
            if (hist[k].count(h)) { if (k < 3) { recent = true; break; } older = true; }
          }
          if (!recent) { if (older) ++old_only; else ++fresh; }
        }
      }
    int want = cur_refs;
    if (strcmp(mode, "adaptive") == 0) want = old_only >= thresh ? open_refs : 3;
    det_cpu += tcpu() - t0;
    double t1 = tcpu();
    if (want != cur_refs) { x264_param_t q; x264_encoder_parameters(enc, &q); q.i_frame_reference = want; if (deep_range) q.analyse.i_me_range = want > 3 ? deep_range : 256; x264_encoder_reconfig(enc, &q); cur_refs = want; }
    if (want > 3) ++deep_frames;
    memcpy(pic.img.plane[0], buf.data(), W * H);
    memcpy(pic.img.plane[1], buf.data() + W * H, W * H / 4);
    memcpy(pic.img.plane[2], buf.data() + W * H * 5 / 4, W * H / 4);
    pic.i_pts = idx * 100;
    bool key = frames == 0;
    if (policy && !key) { double kb = std::max<double>(last_key_bytes, 0.05 * W * H); bool due = idx * 100 - last_key_pts >= 30000 && since_key >= kb * 3;
      if (due && due_since < 0) due_since = idx * 100;
      bool settled = calm_ms == 0 || idx * 100 - last_big >= calm_ms || idx * 100 - due_since >= 30000;
      key = (due && settled) || idx * 100 - last_key_pts >= 300000; }
    pic.i_type = key ? X264_TYPE_IDR : X264_TYPE_AUTO;
    x264_nal_t* nal; int nn;
    int sz = x264_encoder_encode(enc, &nal, &nn, &pic, &out);
    enc_cpu += tcpu() - t1;
    if (sz > 0) bytes += sz;
    int changed_all = 0; for (int i = 0; i < H * SEG; ++i) changed_all += cur[i] != last[i];
    if (changed_all * (getenv("BIGDIV") ? atoi(getenv("BIGDIV")) : 4) >= H * SEG) last_big = idx * 100;
    if (key) { ++keys; due_since = -1; last_key_pts = idx * 100; last_key_bytes = sz; since_key = 0; hist.clear(); fprintf(stderr, "key t=%d size=%d\n", idx * 100, sz); } else since_key += sz;
    if (getenv("VERBOSE") && (sz > 3000 || want > 3)) fprintf(stderr, "t=%d size=%d refs=%d changed=%d old_only=%d fresh=%d\n", idx * 100, sz, want, changed, old_only, fresh);
    ++frames;
    if (key) hist.clear();
    hist.push_front(std::move(set)); if (hist.size() > 16) hist.pop_back();
    last.swap(cur); prev.swap(buf); have_prev = true;
  }
  while (x264_encoder_delayed_frames(enc)) { x264_nal_t* nal; int nn; int sz = x264_encoder_encode(enc, &nal, &nn, nullptr, &out); if (sz > 0) bytes += sz; }
  x264_encoder_close(enc);
  printf("%s open=%d thresh=%d deep_range=%d %s: keys %d frames %lld deep %lld bytes %lld MB/h %.2f encode cpu %.2f s detector cpu %.2f s\n", mode, open_refs, thresh, deep_range, extra, keys, frames, deep_frames, bytes, bytes / 1e6 * 3600 / 131.6, enc_cpu, det_cpu);
  pclose(in);
}
