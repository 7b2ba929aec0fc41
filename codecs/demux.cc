#include "codecs/demux.h"

#include <spdlog/spdlog.h>

namespace vigil::codecs {

namespace {
constexpr int kIoBufferSize = 64 * 1024;
}  // namespace

Result<std::unique_ptr<RecordingIo>> RecordingIo::open(const std::string& path,
                                                       const storage::KeyRing& keys) {
  auto reader = storage::RecordingReader::open(path, keys);
  if (!reader) return reader.status();
  std::unique_ptr<RecordingIo> io(new RecordingIo());
  io->reader_ = std::move(reader.value());
  auto* buffer = static_cast<unsigned char*>(av_malloc(kIoBufferSize));
  if (!buffer) return Status::Error("out of memory reading " + path);
  io->pb_ = avio_alloc_context(buffer, kIoBufferSize, 0, io.get(), &RecordingIo::read, nullptr,
                               &RecordingIo::seek);
  if (!io->pb_) {
    av_free(buffer);
    return Status::Error("out of memory reading " + path);
  }
  return io;
}

RecordingIo::~RecordingIo() {
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
}

int RecordingIo::read(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<RecordingIo*>(opaque);
  auto n = self->reader_->readAt(self->pos_, buf, static_cast<std::size_t>(size));
  if (!n) {
    if (self->error_.ok()) self->error_ = n.status();
    return AVERROR(EIO);
  }
  if (*n == 0) return AVERROR_EOF;
  self->pos_ += *n;
  return static_cast<int>(*n);
}

int64_t RecordingIo::seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<RecordingIo*>(opaque);
  const auto size = static_cast<int64_t>(self->reader_->size());
  switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return size;
    case SEEK_SET: break;
    case SEEK_CUR: offset += static_cast<int64_t>(self->pos_); break;
    case SEEK_END: offset += size; break;
    default: return AVERROR(EINVAL);
  }
  if (offset < 0) return AVERROR(EINVAL);
  self->pos_ = static_cast<std::uint64_t>(offset);
  return offset;
}

Result<InputVideo> openInputVideo(const std::string& path, const storage::KeyRing& keys) {
  auto io = RecordingIo::open(path, keys);
  if (!io) return io.status();
  AVFormatContext* raw = avformat_alloc_context();
  if (!raw) return Status::Error("out of memory reading " + path);
  raw->pb = (*io)->pb();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  // On failure avformat_open_input frees the context (not our pb).
  if (int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr); err < 0) {
    if (!(*io)->error().ok()) return (*io)->error();
    return avError("cannot open recording " + path, err);
  }
  InputVideo in;
  in.io = std::move(io.value());
  in.ctx.reset(raw);
  in.stream = av_find_best_stream(in.ctx.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (in.stream < 0) return Status::Error("recording " + path + " holds no video stream");
  return in;
}

int readVideoPacket(InputVideo& in, AVPacket* pkt) {
  while (true) {
    const int r = av_read_frame(in.ctx.get(), pkt);
    if (r == AVERROR_EOF) return r;
    if (r < 0) {
      spdlog::debug("event=recording_read_stopped error=\"{}\"", avErrorText(r));
      return AVERROR_EOF;
    }
    if (pkt->stream_index != in.stream) {
      av_packet_unref(pkt);
      continue;
    }
    if (pkt->flags & AV_PKT_FLAG_CORRUPT) {
      av_packet_unref(pkt);
      return AVERROR_EOF;
    }
    return 0;
  }
}

}  // namespace vigil::codecs
