// Reading recordings back: for tests, tools and the export path. Whole-file
// operations; each call opens the file itself, so any thread may call them.
#pragma once

#include <string>
#include <vector>

#include "core/event.h"
#include "core/frame.h"
#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::codecs {

struct VideoInfo {
  int width = 0, height = 0;     // the coded picture (padded to even)
  Millis duration_ms = 0;        // end of the last complete frame
  long long frame_count = 0;     // complete frames (a crash-truncated tail is not counted)
  long long keyframe_count = 0;
  std::string codec;             // "h264"
  std::vector<Millis> frame_pts; // presentation time of each frame, in ms
};

// Every function reads sealed and plain recordings (storage::RecordingReader);
// `keys` must hold the key a sealed file names (an empty ring: plain only).
// A record that fails authentication is an error, not a short video.

// Reads every packet (no decoding). Works on fragmented files cut by a crash.
Result<VideoInfo> probe(const std::string& path, const storage::KeyRing& keys = storage::KeyRing());

// The picture shown at `t`: the last frame whose pts <= t (the first frame if
// t is before it, the last one if t is past the end), as BGRX.
Result<Frame> decodeFrameAt(const std::string& path, Millis t,
                            const storage::KeyRing& keys = storage::KeyRing());
Result<Frame> decodeLastFrame(const std::string& path, const storage::KeyRing& keys = storage::KeyRing());

// Peak signal-to-noise ratio over the R, G and B bytes, in dB. Identical
// frames give +infinity; frames of different sizes give 0.
double psnr(const Frame& a, const Frame& b);

}  // namespace vigil::codecs
