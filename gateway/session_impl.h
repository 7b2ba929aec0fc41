// The one Session implementation: protocol-neutral, it owns everything
// recorded for a connection (recorder, keystroke lines, title tracker, event
// writer) and fans frames, input and events out to a list of observers.
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "codecs/recorder.h"
#include "core/clock.h"
#include "core/sinks.h"
#include "gateway/clipboard_throttle.h"
#include "gateway/session.h"
#include "gateway/session_observer.h"
#include "storage/metadata_store.h"

namespace vigil::storage { class BatchedEventWriter; class EvidenceStore; class SessionEvidence; class SigningKey; }
namespace vigil::gateway::input { class LineAssembler; }
namespace vigil::gateway::rules { class RuleSet; struct Hit; }
namespace vigil::ocr { class OcrPool; class TitleTracker; }

namespace vigil::gateway {

// Sends every event to the store writer and to the live subscribers.
class EventFanout final : public EventSink {
 public:
  explicit EventFanout(EventSink& primary) : primary_(primary) {}
  void onEvent(const Event& e) override;
  void add(EventSink* s);
  void remove(EventSink* s);

 private:
  EventSink& primary_;
  std::mutex mu_;  // guards subscribers_
  std::vector<EventSink*> subscribers_;
};

struct SessionDeps {
  storage::MetadataStore& store;
  ocr::OcrPool* ocr = nullptr;  // null: no title reading
  std::string recordings_dir;
  codecs::RecorderOptions recording;  // x264 settings of every session's video
  std::function<void(const std::string& id)> on_finished;  // manager bookkeeping
  // Both set: the recording's fragments and the events are hash-chained and
  // signed (storage::SessionEvidence). They must outlive the session.
  storage::EvidenceStore* evidence = nullptr;
  const storage::SigningKey* signing_key = nullptr;
  std::chrono::milliseconds sign_interval{10000};  // CONTRACT: at least every 10 s
  // [[rules]], compiled; null: none. Must outlive the session (the session
  // keeps those for its user and target).
  const rules::RuleSet* rules = nullptr;
  // Sees every event after the rules (the SIEM); null: none. Must outlive
  // the session.
  SessionEventObserver* observer = nullptr;
};

class SessionImpl final : public Session {
 public:
  // Creates the recording file and the live record: fails closed.
  static Result<std::shared_ptr<SessionImpl>> open(SessionDeps deps, storage::SessionRecord record,
                                                   AccessGrant grant);
  ~SessionImpl() override;

  const std::string& id() const override { return record_.id; }
  const AccessGrant& grant() const override { return grant_; }
  Millis now() const override { return clock_.now(); }

  void frame(const Frame& fb, const DirtyRegion& changed) override;
  void resized(int width, int height) override;
  bool input(const InputEvent& e) override;
  void lifecycle(const std::string& text) override;
  void attach(Relay* relay) override;
  void finish(const std::string& end_reason) override;

  void terminate(const std::string& reason) override;
  bool terminated() const override { return terminated_.load(); }

  void subscribe(FrameSink* frames, EventSink* events) override;
  void unsubscribe(FrameSink* frames, EventSink* events) override;

  // Adds an observer of every frame (and resize) and of every client input,
  // for the session's whole life. Call before the relay is attached (open()
  // adds the recorder, the title tracker and the keystroke lines); either
  // may be null. They must not block and must outlive the session's legs.
  void observe(FrameSink* frames, InputSink* input);
  // Where observers send the events they make: rules first (masks, alerts,
  // terminations), then the store and live viewers.
  EventSink& events();
  // The title of the window in front changed (the title tracker's reading):
  // lines finished from now on carry it, and are masked whole if it asks
  // for a password ([masking]). Thread-safe.
  void frontTitle(const std::string& title);

  // Housekeeping, called about every 250 ms by the manager's ticker thread:
  // ends idle key lines, enforces the grant's not_after, refreshes the record,
  // and ends the session if its recording has failed (fail closed).
  // Alerts raised since the last tick are written to the store's alert list.
  void tick(EpochMillis wall_now);
  storage::SessionRecord snapshot() const;
  // Writes the live record (size, video bytes) unless the session has ended.
  void refreshRecord();
  bool finished() const { return finished_.load(); }

 private:
  SessionImpl(SessionDeps deps, storage::SessionRecord record, AccessGrant grant);
  void emit(const Event& e);
  // Every event enters here: masks applied before any sink sees it, then
  // alert and terminate rules act.
  void ingest(const Event& e);
  void raiseAlert(const rules::Hit& h, Millis t);
  void flushAlerts();
  class Ingress;
  class KeyFilter;
  class Observed;

  SessionDeps deps_;
  AccessGrant grant_;
  SteadyClock clock_;

  // Before writer_ and recorder_: their threads feed it, so it is destroyed after them.
  std::unique_ptr<storage::SessionEvidence> evidence_;
  std::unique_ptr<storage::BatchedEventWriter> writer_;
  std::unique_ptr<Observed> observed_;  // before events_, which holds it
  std::unique_ptr<EventFanout> events_;
  std::unique_ptr<rules::RuleSet> rules_;  // this session's (user and target globs applied)
  std::unique_ptr<Ingress> ingress_;
  std::unique_ptr<KeyFilter> key_filter_;
  std::unique_ptr<codecs::Recorder> recorder_;
  std::unique_ptr<input::LineAssembler> lines_;
  std::unique_ptr<ocr::TitleTracker> titles_;
  // Fixed once the relay is attached: read without a lock on relay threads.
  std::vector<FrameSink*> frame_observers_;
  std::vector<InputSink*> input_observers_;

  mutable std::mutex mu_;  // guards record_, relay_, frame_subscribers_, pending_close_
  storage::SessionRecord record_;
  Relay* relay_ = nullptr;
  std::string pending_close_;  // terminate() before attach()
  struct FrameSubscriber {
    FrameSink* sink;
    bool needs_full;  // its first frame carries the whole screen
  };
  std::vector<FrameSubscriber> frame_subscribers_;

  std::mutex clipboard_mu_;  // guards clipboard_
  ClipboardThrottle clipboard_;
  void recordClipboard(const ClipboardThrottle::Change& c, Millis t);

  std::mutex front_mu_;  // guards front_title_
  std::string front_title_;

  std::mutex alerts_mu_;  // guards pending_alerts_
  std::vector<storage::AlertRecord> pending_alerts_;

  std::mutex store_mu_;  // orders live-record refreshes before the final record
  std::atomic<bool> terminated_{false};
  std::atomic<bool> finished_{false};
  std::atomic<bool> expired_{false};
};

}  // namespace vigil::gateway
