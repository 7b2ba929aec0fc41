#include "codecs/fmp4_muxer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace vigil::codecs {

namespace {
constexpr int kAvioBufferSize = 64 * 1024;
constexpr AVRational kMillis{1, 1000};
}  // namespace

Result<std::unique_ptr<Fmp4Muxer>> Fmp4Muxer::create(const std::string& path, bool overwrite,
                                                     std::chrono::milliseconds flush_interval,
                                                     std::atomic<std::uint64_t>& bytes,
                                                     const storage::KeyRing* seal_keys) {
  std::unique_ptr<storage::SealedWriter> sealer;
  if (seal_keys) {
    if (!seal_keys->current())
      return Status::Error("recordings are to be encrypted but there is no recording key: "
                           "recording refused");
    auto w = storage::SealedWriter::create(*seal_keys->current());
    if (!w) return w.status();
    sealer = std::move(w.value());
  }
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  const int fd = ::open(path.c_str(), flags, 0640);
  if (fd < 0)
    return Status::Error("cannot create recording " + path + ": " + std::strerror(errno));
  std::unique_ptr<Fmp4Muxer> m(new Fmp4Muxer(fd, flush_interval, bytes));
  m->sealer_ = std::move(sealer);

  auto* buffer = static_cast<unsigned char*>(av_malloc(kAvioBufferSize));
  if (!buffer) return Status::Error("out of memory for the recording buffer");
  m->pb_ = avio_alloc_context(buffer, kAvioBufferSize, 1, m.get(), nullptr,
                              &Fmp4Muxer::writeCallback, nullptr);
  if (!m->pb_) {
    av_free(buffer);
    return Status::Error("out of memory for the recording writer");
  }
  AVFormatContext* raw = nullptr;
  if (int err = avformat_alloc_output_context2(&raw, nullptr, "mp4", nullptr); err < 0)
    return avError("cannot set up the mp4 muxer", err);
  m->ctx_.reset(raw);
  m->ctx_->pb = m->pb_;
  m->ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;
  return m;
}

Fmp4Muxer::Fmp4Muxer(int fd, std::chrono::milliseconds flush_interval,
                     std::atomic<std::uint64_t>& bytes)
    : fd_(fd), interval_(flush_interval), bytes_(bytes) {}

Fmp4Muxer::~Fmp4Muxer() {
  if (header_written_ && !finished_) {
    if (Status st = finish(timeline_end_ + 1); !st.ok())
      spdlog::warn("event=recording_finish_failed error=\"{}\"", st.message());
  }
  ctx_.reset();
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
  if (fd_ >= 0) ::close(fd_);
}

int Fmp4Muxer::writeCallback(void* opaque, compat::AvioWriteBuffer buf, int size) {
  auto* self = static_cast<Fmp4Muxer*>(opaque);
  if (self->write_errno_) return AVERROR(self->write_errno_);
  if (!self->sealer_) {
    if (Status st = self->writeFd(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
        !st.ok())
      return AVERROR(self->write_errno_);
  }
  // Sealed: the unit is collected here and written as one record when the
  // muxer flushes it (commitUnit); an AVIO buffer's worth is not a unit.
  if (self->sealer_ || self->sink_ || !self->header_written_)
    self->capture_.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
  return size;
}

Status Fmp4Muxer::writeFd(const char* data, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd_, data + done, size - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      write_errno_ = errno;  // sticky: a recording with a hole is worse than a stop
      return Status::Error(std::string("cannot write the recording: ") + std::strerror(errno));
    }
    done += static_cast<std::size_t>(n);
  }
  bytes_.fetch_add(static_cast<std::uint64_t>(size), std::memory_order_relaxed);
  return Status::Ok();
}

Status Fmp4Muxer::commitUnit(bool final) {
  if (write_errno_) return Status::Error(std::string("cannot write the recording: ") + std::strerror(write_errno_));
  if (!sealer_ || capture_.empty()) return Status::Ok();
  sealed_.clear();
  if (sealer_->records() == 0) sealed_ = sealer_->header();
  sealer_->seal(reinterpret_cast<const std::uint8_t*>(capture_.data()), capture_.size(), final, sealed_);
  // One write(2) per record: a kill -9 leaves at most the last one torn.
  return writeFd(sealed_.data(), sealed_.size());
}

void Fmp4Muxer::deliverCaptured(bool is_init, bool starts_with_keyframe) {
  if (is_init) init_segment_ = capture_;
  if (sink_ && !capture_.empty())
    sink_(is_init, reinterpret_cast<const std::uint8_t*>(capture_.data()), capture_.size(),
          starts_with_keyframe);
  capture_.clear();
}

Status Fmp4Muxer::begin(const AVCodecContext& enc) {
  if (header_written_) return Status::Ok();
  AVStream* st = avformat_new_stream(ctx_.get(), nullptr);
  if (!st) return Status::Error("cannot add the video stream to the recording");
  if (int err = avcodec_parameters_from_context(st->codecpar, &enc); err < 0)
    return avError("cannot describe the video stream", err);
  st->time_base = kMillis;
  AVDictionary* opts = nullptr;
  // Fragments only when we say so (frag_custom); moov first and empty so the
  // file is playable from the first fragment on; tfdt-based offsets for MSE.
  av_dict_set(&opts, "movflags", "frag_custom+empty_moov+default_base_moof", 0);
  av_dict_set(&opts, "video_track_timescale", "1000", 0);
  const int err = avformat_write_header(ctx_.get(), &opts);
  av_dict_free(&opts);
  if (err < 0) return avError("cannot write the recording header", err);
  header_written_ = true;
  avio_flush(pb_);
  if (Status st = commitUnit(false); !st.ok()) return st;
  deliverCaptured(true, false);
  return Status::Ok();
}

Status Fmp4Muxer::writeHeld() {
  AvPacketPtr pkt = std::move(held_);
  if (fragment_packets_ == 0) {
    fragment_since_ = held_since_;
    fragment_starts_key_ = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
  }
  timeline_end_ = pkt->dts + pkt->duration;
  pkt->stream_index = 0;
  av_packet_rescale_ts(pkt.get(), kMillis, ctx_->streams[0]->time_base);
  if (int err = av_write_frame(ctx_.get(), pkt.get()); err < 0)
    return avError("cannot write video to the recording", err);
  ++fragment_packets_;
  return Status::Ok();
}

Status Fmp4Muxer::flushFragment() {
  if (fragment_packets_ == 0) return Status::Ok();
  if (int err = av_write_frame(ctx_.get(), nullptr); err < 0)
    return avError("cannot write a recording fragment", err);
  avio_flush(pb_);
  if (Status st = commitUnit(false); !st.ok()) return st;
  ++fragments_;
  fragment_packets_ = 0;
  deliverCaptured(false, fragment_starts_key_);
  return Status::Ok();
}

Status Fmp4Muxer::add(AvPacketPtr pkt, Steady now) {
  if (!header_written_ || finished_) return Status::Error("recording is not open for video");
  if (held_) {
    held_->duration = std::max<int64_t>(1, pkt->dts - held_->dts);
    if (Status st = writeHeld(); !st.ok()) return st;
  }
  if ((pkt->flags & AV_PKT_FLAG_KEY) != 0) {
    if (Status st = flushFragment(); !st.ok()) return st;
  }
  held_ = std::move(pkt);
  held_since_ = now;
  if (fragment_packets_ > 0 && now - fragment_since_ >= interval_) return flushFragment();
  return Status::Ok();
}

Status Fmp4Muxer::onTimer(Steady now, Millis session_now) {
  if (!header_written_ || finished_) return Status::Ok();
  if (fragment_packets_ > 0 && now - fragment_since_ >= interval_) {
    if (Status st = flushFragment(); !st.ok()) return st;
  }
  if (held_ && now - held_since_ >= interval_) {
    held_->duration = std::max<int64_t>(1, session_now - held_->dts);
    if (Status st = writeHeld(); !st.ok()) return st;
    return flushFragment();
  }
  return Status::Ok();
}

std::optional<Fmp4Muxer::Steady> Fmp4Muxer::deadline() const {
  std::optional<Steady> d;
  if (fragment_packets_ > 0) d = fragment_since_ + interval_;
  if (held_) {
    const Steady h = held_since_ + interval_;
    if (!d || h < *d) d = h;
  }
  return d;
}

Status Fmp4Muxer::finish(Millis end) {
  if (finished_ || !header_written_) return Status::Ok();
  finished_ = true;
  if (held_) {
    held_->duration = std::max<int64_t>(1, end - held_->dts);
    if (Status st = writeHeld(); !st.ok()) return st;
  }
  if (Status st = flushFragment(); !st.ok()) return st;
  if (int err = av_write_trailer(ctx_.get()); err < 0)
    return avError("cannot finish the recording", err);
  avio_flush(pb_);
  if (Status st = commitUnit(true); !st.ok()) return st;
  capture_.clear();  // the trailer (mfra) is for files, not for live viewers
  return Status::Ok();
}

}  // namespace vigil::codecs
