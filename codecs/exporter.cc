#include "codecs/exporter.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "codecs/demux.h"
#include "codecs/ffmpeg_owners.h"

namespace vigil::codecs {

namespace {

// A file muxer: the trailer only after a header, the file closed either way,
// and a failed export's partial file removed.
class FileMuxer {
 public:
  ~FileMuxer() {
    if (ctx_ && header_ && !trailer_) (void)av_write_trailer(ctx_.get());
    if (ctx_ && ctx_->pb) avio_closep(&ctx_->pb);
    ctx_.reset();
    if (!kept_ && !path_.empty()) std::remove(path_.c_str());
  }

  Status open(const std::string& path) {
    AVFormatContext* raw = nullptr;
    if (int e = avformat_alloc_output_context2(&raw, nullptr, "mp4", path.c_str()); e < 0)
      return avError("cannot set up the mp4 muxer", e);
    ctx_.reset(raw);
    if (int e = avio_open(&ctx_->pb, path.c_str(), AVIO_FLAG_WRITE); e < 0)
      return avError("cannot create " + path, e);
    path_ = path;
    return Status::Ok();
  }
  AVFormatContext* get() { return ctx_.get(); }
  Status writeHeader() {
    AVDictionary* o = nullptr;
    av_dict_set(&o, "movflags", "+faststart", 0);  // moov first: players start at once
    const int e = avformat_write_header(ctx_.get(), &o);
    av_dict_free(&o);
    if (e < 0) return avError("cannot write the mp4 header", e);
    header_ = true;
    return Status::Ok();
  }
  Status writeTrailer() {
    trailer_ = true;
    if (int e = av_write_trailer(ctx_.get()); e < 0) return avError("cannot finish the mp4", e);
    if (int e = avio_closep(&ctx_->pb); e < 0) return avError("cannot close " + path_, e);
    return Status::Ok();
  }
  void keep() { kept_ = true; }

 private:
  AvOutputCtxPtr ctx_;
  std::string path_;
  bool header_ = false, trailer_ = false, kept_ = false;
};

}  // namespace

Status exportMp4(const std::string& in_fragmented, const std::string& out_mp4,
                 std::function<void(double fraction)> progress, const storage::KeyRing& keys) {
  auto report = [&](double f) { if (progress) progress(f); };
  auto in = openInputVideo(in_fragmented, keys);
  if (!in) return in.status();
  const double in_size = static_cast<double>(std::max<std::uint64_t>(in->io->reader().size(), 1));

  const std::string tmp = out_mp4 + ".partial";
  FileMuxer out;
  if (Status st = out.open(tmp); !st.ok()) return st;
  AVStream* ost = avformat_new_stream(out.get(), nullptr);
  if (!ost) return Status::Error("cannot add the video stream to " + out_mp4);
  if (int e = avcodec_parameters_copy(ost->codecpar, in->st()->codecpar); e < 0)
    return avError("cannot copy the video stream", e);
  ost->codecpar->codec_tag = 0;
  ost->time_base = in->st()->time_base;
  // Hints for tools that read them; the grid below makes them true.
  ost->avg_frame_rate = ost->r_frame_rate = AVRational{kExportFps, 1};
  if (Status st = out.writeHeader(); !st.ok()) return st;

  AvPacketPtr pkt(av_packet_alloc()), held(av_packet_alloc());
  if (!pkt || !held) return Status::Error("out of memory exporting " + in_fragmented);
  const AVRational in_tb = in->st()->time_base;
  const AVRational slot_tb{1, kExportFps};
  long long packets = 0;
  bool holding = false;
  int64_t held_slot = -1;  // in slots of 1/kExportFps s
  // The slot a packet plays in: its time rounded up onto the grid, and
  // after the previous frame's (strictly increasing, even where the
  // recording repeats a time across a resize or a reopened encoder).
  auto slotOf = [&](const AVPacket* p) {
    const int64_t t = p->pts != AV_NOPTS_VALUE ? p->pts : p->dts;
    const int64_t s = t == AV_NOPTS_VALUE ? held_slot + 1
                                          : av_rescale_q_rnd(t, in_tb, slot_tb, AV_ROUND_UP);
    return std::max<int64_t>(s, held_slot + 1);
  };
  // Writes the held packet lasting until `next_slot`; the last one lasts as
  // long as the recording says (its end marker), at least one slot.
  auto writeHeld = [&](int64_t next_slot) -> Status {
    if (next_slot < 0) {
      const int64_t d = held->duration > 0 ? av_rescale_q_rnd(held->duration, in_tb, slot_tb, AV_ROUND_UP) : 1;
      next_slot = held_slot + std::max<int64_t>(1, d);
    }
    held->pts = held->dts = av_rescale_q(held_slot, slot_tb, ost->time_base);
    held->duration = av_rescale_q(next_slot, slot_tb, ost->time_base) - held->dts;
    held->stream_index = 0;
    held->pos = -1;
    if (int e = av_interleaved_write_frame(out.get(), held.get()); e < 0)
      return avError("cannot write " + out_mp4, e);
    holding = false;
    return Status::Ok();
  };
  report(0.0);
  while (readVideoPacket(*in, pkt.get()) == 0) {
    const double pos = pkt->pos >= 0 ? static_cast<double>(pkt->pos) : 0.0;
    const int64_t slot = slotOf(pkt.get());
    if (holding) {
      if (Status st = writeHeld(slot); !st.ok()) return st;
    }
    av_packet_move_ref(held.get(), pkt.get());
    held_slot = slot;
    holding = true;
    if ((++packets & 63) == 0) report(std::min(0.99, pos / in_size));
  }
  if (!in->io->error().ok()) return in->io->error();
  if (holding) {
    if (Status st = writeHeld(-1); !st.ok()) return st;
  }
  if (packets == 0) return Status::Error("recording " + in_fragmented + " holds no complete video frame");
  if (Status st = out.writeTrailer(); !st.ok()) return st;
  std::error_code ec;
  std::filesystem::rename(tmp, out_mp4, ec);
  if (ec) return Status::Error("cannot move the export to " + out_mp4 + ": " + ec.message());
  out.keep();
  report(1.0);
  spdlog::debug("event=exported in={} out={} frames={}", in_fragmented, out_mp4, packets);
  return Status::Ok();
}

}  // namespace vigil::codecs
