// Reading the video stream of a recording, tolerant of a crash-cut tail.
// Internal to codecs/ (FFmpeg types). Recordings are read through
// storage::RecordingReader (sealed or plain), handed to FFmpeg as a custom
// AVIOContext with read and seek.
#pragma once

#include <memory>
#include <string>

#include "codecs/ffmpeg_owners.h"
#include "core/status.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"

namespace vigil::codecs {

// Owns a RecordingReader and the AVIOContext (and its buffer) FFmpeg reads it
// through. Must outlive the AVFormatContext using pb(). One thread at a time
// (FFmpeg's).
class RecordingIo {
 public:
  static Result<std::unique_ptr<RecordingIo>> open(const std::string& path,
                                                   const storage::KeyRing& keys);
  ~RecordingIo();
  RecordingIo(const RecordingIo&) = delete;
  RecordingIo& operator=(const RecordingIo&) = delete;

  AVIOContext* pb() { return pb_; }
  storage::RecordingReader& reader() { return *reader_; }
  // The first read error (a record that does not authenticate), if any:
  // demuxing stops there like at a crash-cut tail, so callers that must not
  // pass off a damaged file as a short one check this.
  const Status& error() const { return error_; }

 private:
  RecordingIo() = default;
  static int read(void* opaque, uint8_t* buf, int size);
  static int64_t seek(void* opaque, int64_t offset, int whence);

  std::unique_ptr<storage::RecordingReader> reader_;
  AVIOContext* pb_ = nullptr;
  std::uint64_t pos_ = 0;
  Status error_;
};

struct InputVideo {
  std::unique_ptr<RecordingIo> io;  // declared first: destroyed after ctx
  AvInputCtxPtr ctx;
  int stream = -1;
  AVStream* st() const { return ctx->streams[stream]; }
};

Result<InputVideo> openInputVideo(const std::string& path, const storage::KeyRing& keys);

// Next complete packet of the video stream. Returns 0, or AVERROR_EOF at the
// end, including where a crash cut the file (a short or unreadable sample
// ends the stream: what follows it is the partial last fragment).
int readVideoPacket(InputVideo& in, AVPacket* pkt);

}  // namespace vigil::codecs
