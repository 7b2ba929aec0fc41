#include "gateway/session_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <utility>

#include "codecs/recorder.h"
#include "gateway/input/line_assembler.h"
#include "gateway/rules/rule_set.h"
#include "ocr/title_tracker.h"
#include "storage/batched_event_writer.h"
#include "storage/evidence_verify.h"
#include "storage/recording_bytes.h"
#include "storage/session_evidence.h"

namespace vigil::gateway {

namespace {
constexpr std::size_t kClipboardEventBytes = 4096;  // CONTRACT.md: first 4 KiB
// Alerts waiting for the next tick; beyond this (a store down for long) the
// oldest wait no longer: each is still an `alert` event of its session.
constexpr std::size_t kMaxPendingAlerts = 10'000;

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

// The first stage of every event (SessionImpl::ingest).
class SessionImpl::Ingress final : public EventSink {
 public:
  explicit Ingress(SessionImpl& s) : s_(s) {}
  void onEvent(const Event& e) override { s_.ingest(e); }

 private:
  SessionImpl& s_;
};

// Passes the session's events, as stored, to SessionDeps::observer.
class SessionImpl::Observed final : public EventSink {
 public:
  Observed(SessionEventObserver& o, const storage::SessionRecord& r)
      : o_(o), info_{r.id, r.user, r.target, r.protocol, r.client_addr, r.started_at} {}
  void onEvent(const Event& e) override { o_.onSessionEvent(info_, e); }

 private:
  SessionEventObserver& o_;
  const SessionInfo info_;
};

// Holds back the key that would run a typed line a `terminate` rule matches;
// remembers which rule and line, for the alert if the line as emitted (a
// part of it, after a pause) does not match on its own.
class SessionImpl::KeyFilter final : public input::LineFilter {
 public:
  explicit KeyFilter(const rules::RuleSet& rules) : rules_(rules) {}
  bool allowLine(std::string_view line) override {
    const RuleConfig* r = rules_.terminatingKeyRule(line);
    if (!r) return true;
    std::lock_guard lock(mu_);
    refused_ = Refusal{r->name, std::string(line)};
    return false;
  }
  struct Refusal {
    std::string rule, line;
  };
  std::optional<Refusal> take() {
    std::lock_guard lock(mu_);
    return std::exchange(refused_, std::nullopt);
  }

 private:
  const rules::RuleSet& rules_;
  std::mutex mu_;  // guards refused_
  std::optional<Refusal> refused_;
};

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
  if (s->deps_.observer) {
    s->observed_ = std::make_unique<Observed>(*s->deps_.observer, s->record_);
    s->events_->add(s->observed_.get());
  }
  s->rules_ = std::make_unique<rules::RuleSet>(
      s->deps_.rules ? s->deps_.rules->forSession(s->record_.user, s->record_.target)
                     : rules::RuleSet{});
  s->ingress_ = std::make_unique<Ingress>(*s);
  s->key_filter_ = std::make_unique<KeyFilter>(*s->rules_);
  // The line assembler is not an input observer: input() asks it first,
  // as the filter.
  s->lines_ = std::make_unique<input::LineAssembler>(
      *s->ingress_, input::LineAssemblerOptions{},
      s->rules_->empty() ? nullptr : s->key_filter_.get());
  s->observe(s->recorder_.get(), nullptr);
  if (s->deps_.ocr) {
    // titles_ is closed before the session and its lines_ go: the raw pointer holds.
    SessionImpl* self = s.get();
    // The tracker reads the screen from the recorder's copy (recorder_
    // outlives it: closed after it in finish(), declared before it).
    s->titles_ = std::make_unique<ocr::TitleTracker>(
        *s->deps_.ocr, *s->ingress_, [self](const std::string& title) { self->frontTitle(title); },
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

EventSink& SessionImpl::events() { return *ingress_; }

void SessionImpl::frontTitle(const std::string& title) {
  {
    std::lock_guard lock(front_mu_);
    front_title_ = title;
  }
  lines_->setWindowTitle(title);
}

void SessionImpl::emit(const Event& e) { ingest(e); }

void SessionImpl::ingest(const Event& e) {
  const bool ruled = e.kind == EventKind::Key || e.kind == EventKind::Title ||
                     e.kind == EventKind::Clipboard;
  if (!ruled || rules_->inert()) {
    events_->onEvent(e);
    return;
  }
  rules::Outcome o = e.kind == EventKind::Key ? rules_->evaluateLine(e.text, e.window)
                                              : rules_->evaluate(e.kind, e.text);
  // The window title a line was typed in is a title: title masks apply.
  std::string window = e.window.empty() ? std::string() : rules_->evaluate(EventKind::Title, e.window).text;
  if (o.masked || window != e.window) {
    Event masked{e.t_ms, e.kind, std::move(o.text), std::move(window), e.direction};
    events_->onEvent(masked);
  } else {
    events_->onEvent(e);
  }
  for (const rules::Hit& h : o.hits) raiseAlert(h, clock_.now());
}

void SessionImpl::raiseAlert(const rules::Hit& h, Millis t) {
  const std::string text = h.rule + ": " + h.matched;
  // Rule and severity only: the text may hold what a user typed.
  spdlog::warn("session={} event=alert rule=\"{}\" severity={} action={}", record_.id, h.rule,
               toString(h.severity), toString(h.action));
  events_->onEvent({t, EventKind::Alert, text, {}});
  {
    std::lock_guard lock(alerts_mu_);
    if (pending_alerts_.size() < kMaxPendingAlerts)
      pending_alerts_.push_back({record_.id, t, epochNowMs(), h.rule, std::string(toString(h.severity)),
                                 text, record_.user, record_.target});
  }
  if (h.action == RuleAction::Terminate) terminate("terminated by rule \"" + h.rule + "\"");
}

void SessionImpl::flushAlerts() {
  std::vector<storage::AlertRecord> due;
  {
    std::lock_guard lock(alerts_mu_);
    due.swap(pending_alerts_);
  }
  for (std::size_t i = 0; i < due.size(); ++i) {
    if (Status st = deps_.store.putAlert(due[i]); !st.ok()) {
      spdlog::warn("session={} event=alert_store_failed error=\"{}\"", record_.id, st.message());
      std::lock_guard lock(alerts_mu_);  // retried next tick, in order
      pending_alerts_.insert(pending_alerts_.begin(), due.begin() + static_cast<std::ptrdiff_t>(i), due.end());
      return;
    }
  }
}

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

bool SessionImpl::input(const InputEvent& e) {
  if (terminated_) return false;
  const Millis t = clock_.now();
  if (const auto* clip = std::get_if<ClipboardInput>(&e)) {
    if (clip->text.empty()) return true;
    std::optional<ClipboardThrottle::Change> now;
    {
      std::lock_guard lock(clipboard_mu_);
      now = clipboard_.offer(ClipboardInput{utf8Prefix(clip->text, kClipboardEventBytes),
                                            clip->direction},
                             t);
    }
    if (now) recordClipboard(*now, t);
    return !terminated_;
  }
  const bool deliver = lines_->offer(e, t);
  for (InputSink* o : input_observers_) o->onInput(e, t);
  if (!deliver) {
    // Held back. The line as emitted normally matched the rule itself and
    // the session is ending; if only the whole command line (parts split by
    // a pause) matched, the alert names the rule here.
    if (auto refused = key_filter_->take(); refused && !terminated_) {
      std::string front;
      {
        std::lock_guard lock(front_mu_);
        front = front_title_;
      }
      rules::Outcome o = rules_->evaluateLine(refused->line, front);
      for (const rules::Hit& h : o.hits)
        if (h.rule == refused->rule) raiseAlert(h, t);
      if (!terminated_) terminate("terminated by rule \"" + refused->rule + "\"");
    }
    return false;
  }
  return !terminated_;
}

void SessionImpl::recordClipboard(const ClipboardThrottle::Change& c, Millis t) {
  if (c.coalesced > 0)
    emit({t, EventKind::Lifecycle,
          "clipboard changed " + std::to_string(c.coalesced) +
              " more times than recorded (rate limit); the latest text follows",
          {}});
  emit({t, EventKind::Clipboard, c.clip.text, {}, c.clip.direction});
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
  flushAlerts();
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
  flushAlerts();
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
