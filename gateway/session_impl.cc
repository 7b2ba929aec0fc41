#include "gateway/session_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "codecs/recorder.h"
#include "gateway/input/line_assembler.h"
#include "ocr/title_tracker.h"
#include "storage/batched_event_writer.h"
#include "storage/evidence_verify.h"
#include "storage/recording_bytes.h"
#include "storage/session_evidence.h"

namespace vigil::gateway {

namespace {
constexpr std::size_t kClipboardEventBytes = 4096;  // CONTRACT.md: first 4 KiB

// Cuts UTF-8 at a character boundary.
std::string utf8Prefix(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}
}  // namespace

void EventFanout::onEvent(const Event& e) {
  primary_.onEvent(e);
  std::lock_guard lock(mu_);
  for (EventSink* s : subscribers_) s->onEvent(e);
}

void EventFanout::add(EventSink* s) {
  std::lock_guard lock(mu_);
  subscribers_.push_back(s);
}

void EventFanout::remove(EventSink* s) {
  std::lock_guard lock(mu_);
  std::erase(subscribers_, s);
}

SessionImpl::SessionImpl(SessionDeps deps, storage::SessionRecord record, AccessGrant grant)
    : deps_(std::move(deps)), grant_(std::move(grant)), record_(std::move(record)) {}

Result<std::shared_ptr<SessionImpl>> SessionImpl::open(SessionDeps deps,
                                                       storage::SessionRecord record,
                                                       AccessGrant grant) {
  std::shared_ptr<SessionImpl> s(new SessionImpl(std::move(deps), std::move(record), grant));
  std::error_code ec;
  std::filesystem::create_directories(s->deps_.recordings_dir, ec);
  const std::string path = s->deps_.recordings_dir + "/" + s->record_.video_path;
  auto recorder = codecs::Recorder::open(path, s->deps_.recording);
  if (!recorder) return Status::Error("cannot record session: " + recorder.message());
  s->recorder_ = std::move(recorder.value());

  if (Status st = s->deps_.store.putSession(s->record_); !st.ok())
    return Status::Error("cannot store session metadata: " + st.message());
  storage::BatchedEventWriterOptions writer_opts;
  if (s->deps_.evidence && s->deps_.signing_key) {
    SessionImpl* self = s.get();
    s->evidence_ = std::make_unique<storage::SessionEvidence>(
        *s->deps_.evidence, *s->deps_.signing_key, s->record_.id,
        [self] { return self->clock_.now(); }, storage::chainSidecarPath(path),
        storage::SessionEvidenceOptions{s->deps_.sign_interval});
    storage::SessionEvidence* ev = s->evidence_.get();
    s->recorder_->setFragmentListener([ev](const codecs::LiveFragment& f) {
      ev->onFragment(f.init_segment, f.data, f.size);
    });
    writer_opts.on_stored = [ev](const std::vector<Event>& batch) { ev->onEventsStored(batch); };
  }
  s->writer_ = std::make_unique<storage::BatchedEventWriter>(s->deps_.store, s->record_.id, writer_opts);
  s->events_ = std::make_unique<EventFanout>(*s->writer_);
  s->lines_ = std::make_unique<input::LineAssembler>(*s->events_);
  s->observe(s->recorder_.get(), s->lines_.get());
  if (s->deps_.ocr) {
    // titles_ is destroyed (closed) before lines_, so the raw pointer holds.
    input::LineAssembler* lines = s->lines_.get();
    // The tracker reads the screen from the recorder's copy (recorder_
    // outlives it: closed after it in finish(), declared before it).
    s->titles_ = std::make_unique<ocr::TitleTracker>(
        *s->deps_.ocr, *s->events_, [lines](const std::string& title) { lines->setWindowTitle(title); },
        ocr::TrackerOptions{}, &s->recorder_->screen());
    s->observe(s->titles_.get(), nullptr);
  }
  return s;
}

void SessionImpl::observe(FrameSink* frames, InputSink* input) {
  if (frames) frame_observers_.push_back(frames);
  if (input) input_observers_.push_back(input);
}

SessionImpl::~SessionImpl() {
  if (!finished_) finish("gateway stopped");
}

void SessionImpl::emit(const Event& e) { events_->onEvent(e); }

void SessionImpl::frame(const Frame& fb, const DirtyRegion& changed) {
  const Millis t = clock_.now();
  if (!changed.empty()) {  // empty: a refresh for new watchers only
    for (FrameSink* o : frame_observers_) o->onFrame(fb, changed, t);
  }
  std::lock_guard lock(mu_);
  record_.width = fb.width();
  record_.height = fb.height();
  for (FrameSubscriber& sub : frame_subscribers_) {
    if (sub.needs_full) {
      sub.sink->onFrame(fb, DirtyRegion(fb.bounds()), t);
      sub.needs_full = false;
    } else if (!changed.empty()) {
      sub.sink->onFrame(fb, changed, t);
    }
  }
}

void SessionImpl::resized(int width, int height) {
  const Millis t = clock_.now();
  for (FrameSink* o : frame_observers_) o->onResize(width, height, t);
  {
    std::lock_guard lock(mu_);
    record_.width = width;
    record_.height = height;
    for (FrameSubscriber& sub : frame_subscribers_) {
      sub.sink->onResize(width, height, t);
      sub.needs_full = true;
    }
  }
  emit({t, EventKind::Lifecycle, "resize " + std::to_string(width) + "x" + std::to_string(height), {}});
}

void SessionImpl::input(const InputEvent& e) {
  const Millis t = clock_.now();
  if (const auto* clip = std::get_if<ClipboardInput>(&e)) {
    if (clip->text.empty()) return;
    std::optional<ClipboardThrottle::Change> now;
    {
      std::lock_guard lock(clipboard_mu_);
      now = clipboard_.offer(ClipboardInput{utf8Prefix(clip->text, kClipboardEventBytes),
                                            clip->direction},
                             t);
    }
    if (now) recordClipboard(*now, t);
    return;
  }
  for (InputSink* o : input_observers_) o->onInput(e, t);
}

void SessionImpl::recordClipboard(const ClipboardThrottle::Change& c, Millis t) {
  if (c.coalesced > 0)
    emit({t, EventKind::Lifecycle,
          "clipboard changed " + std::to_string(c.coalesced) +
              " more times than recorded (rate limit); the latest text follows",
          {}});
  emit({t, EventKind::Clipboard, c.clip.text, {}});
}

void SessionImpl::lifecycle(const std::string& text) {
  emit({clock_.now(), EventKind::Lifecycle, text, {}});
}

void SessionImpl::attach(Relay* relay) {
  std::string close_reason;
  {
    std::lock_guard lock(mu_);
    relay_ = relay;
    close_reason = pending_close_;
  }
  if (!close_reason.empty()) relay->close(close_reason);
}

void SessionImpl::terminate(const std::string& reason) {
  if (terminated_.exchange(true)) return;
  spdlog::info("session={} event=terminate reason=\"{}\"", record_.id, reason);
  emit({clock_.now(), EventKind::Lifecycle, reason, {}});
  Relay* relay = nullptr;
  {
    std::lock_guard lock(mu_);
    relay = relay_;
    if (!relay) pending_close_ = reason;
  }
  if (relay) relay->close(reason);
}

void SessionImpl::subscribe(FrameSink* frames, EventSink* events) {
  if (events) events_->add(events);
  if (!frames) return;
  std::lock_guard lock(mu_);
  frame_subscribers_.push_back({frames, true});
  // Under the lock: finish() clears relay_ before the adapter goes away.
  if (relay_) relay_->refreshScreen();
}

void SessionImpl::unsubscribe(FrameSink* frames, EventSink* events) {
  if (frames) {
    std::lock_guard lock(mu_);
    std::erase_if(frame_subscribers_, [&](const FrameSubscriber& s) { return s.sink == frames; });
  }
  if (events) events_->remove(events);
}

void SessionImpl::tick(EpochMillis wall_now) {
  if (finished_) return;
  lines_->tick(clock_.now());
  {
    std::vector<ClipboardThrottle::Change> due;
    {
      std::lock_guard lock(clipboard_mu_);
      due = clipboard_.due(clock_.now());
    }
    for (const auto& c : due) recordClipboard(c, clock_.now());
  }
  if (grant_.not_after && wall_now >= *grant_.not_after && !expired_.exchange(true)) {
    emit({clock_.now(), EventKind::Lifecycle, "grant expired", {}});
    terminate("grant expired");
  }
  if (!writer_->healthy() && !terminated_)
    terminate("recording failed: cannot store events (Redis unreachable)");
  if (!recorder_->healthy() && !terminated_)
    terminate("recording failed: " + recorder_->lastError());
}

storage::SessionRecord SessionImpl::snapshot() const {
  std::lock_guard lock(mu_);
  storage::SessionRecord r = record_;
  r.video_bytes = recorder_ ? recorder_->bytesWritten() : 0;
  return r;
}

void SessionImpl::refreshRecord() {
  std::lock_guard lock(store_mu_);
  if (finished_) return;
  if (Status st = deps_.store.putSession(snapshot()); !st.ok())
    spdlog::warn("session={} event=record_refresh_failed error=\"{}\"", record_.id, st.message());
}

void SessionImpl::finish(const std::string& end_reason) {
  if (finished_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    relay_ = nullptr;
  }
  const Millis t = clock_.now();
  lines_->flush(t);
  std::vector<ClipboardThrottle::Change> held;
  {
    std::lock_guard lock(clipboard_mu_);
    held = clipboard_.drain();
  }
  for (const auto& c : held) recordClipboard(c, t);
  emit({t, EventKind::Lifecycle, "disconnect: " + end_reason, {}});
  if (titles_) titles_->close();
  recorder_->close();
  const std::string video = deps_.recordings_dir + "/" + record_.video_path;
  const bool empty_recording = recorder_->bytesWritten() == 0;
  Status flushed = writer_->close();
  if (!flushed.ok())
    spdlog::error("session={} event=events_lost_on_close error=\"{}\"", record_.id, flushed.message());
  if (evidence_) {
    // The trailer (mfra) the muxer wrote at close is not a fragment of the
    // live tap: it is chained from the file, so the final signature covers
    // every byte of the recording.
    std::string trailer;
    if (!empty_recording) {
      const auto& keys = deps_.recording.seal_keys;
      auto bytes = storage::openRecordingBytes(video, keys ? *keys : storage::KeyRing{});
      const std::uint64_t from = evidence_->fragmentBytes();
      if (bytes && (*bytes)->size() > from) {
        trailer.resize((*bytes)->size() - from);
        if (Status st = (*bytes)->readAt(from, trailer.data(), trailer.size()); !st.ok()) {
          spdlog::error("session={} event=trailer_unreadable error=\"{}\"", record_.id, st.message());
          trailer.clear();
        }
      }
    }
    if (Status st = evidence_->finish(trailer); !st.ok())
      spdlog::error("session={} event=final_checkpoint_failed error=\"{}\"", record_.id, st.message());
  }
  // A session that never showed a frame (its target was never reached)
  // leaves no empty file behind (its chain records are in the store).
  if (empty_recording) {
    std::error_code ec;
    std::filesystem::remove(video, ec);
    std::filesystem::remove(storage::chainSidecarPath(video), ec);
  }

  storage::SessionRecord final_record;
  {
    std::lock_guard lock(mu_);
    record_.state = "ended";
    record_.ended_at = epochNowMs();
    record_.end_reason = end_reason;
    record_.video_bytes = recorder_->bytesWritten();
    if (empty_recording) record_.video_path.clear();
    final_record = record_;
  }
  std::lock_guard store_lock(store_mu_);
  if (Status st = deps_.store.putSession(final_record); !st.ok())
    spdlog::error("session={} event=store_failed error=\"{}\"", record_.id, st.message());
  spdlog::info("session={} event=ended user={} target={} reason=\"{}\" duration_ms={} video_bytes={}",
               final_record.id, final_record.user, final_record.target, end_reason,
               final_record.durationMs(), final_record.video_bytes);
  if (deps_.on_finished) deps_.on_finished(final_record.id);
}

}  // namespace vigil::gateway
