// Export: a recording (fragmented MP4, possibly cut short by a crash) into a
// standard MP4 with its index first ("faststart") that any player opens.
#pragma once

#include <functional>
#include <string>

#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::codecs {

// One frame slot of an export: 25 fps, a rate every editor knows.
inline constexpr int kExportFps = 25;

// Remuxes without re-encoding. The recording's millisecond times (variable
// frame rate) are moved onto a 1/kExportFps s grid, each frame to the next
// free slot (at most 40 ms later; the recorder makes at most 10 fps), so
// tools see a constant rate with gaps: ffprobe's r_frame_rate is 25/1, no
// two frames share a time, and ffmpeg's default constant-rate re-encode
// fills gaps with copies and drops none. A partial last fragment is dropped. Writes to
// `out_mp4`.partial and renames on success, so `out_mp4` is never half
// written. `progress` (may be empty) gets 0..1 on the calling thread.
// Blocking; any thread. A sealed recording is decrypted with `keys`
// (storage::RecordingReader); the output is always a plain MP4. A record that
// fails authentication fails the export.
Status exportMp4(const std::string& in_fragmented, const std::string& out_mp4,
                 std::function<void(double fraction)> progress,
                 const storage::KeyRing& keys = storage::KeyRing());

}  // namespace vigil::codecs
