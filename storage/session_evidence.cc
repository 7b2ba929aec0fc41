#include "storage/session_evidence.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "core/thread_name.h"

namespace vigil::storage {

using Json = nlohmann::ordered_json;

std::string ChainRecord::toJson() const {
  Json j;
  j["checkpoint"] = Json::parse(checkpoint.toJson());
  j["first_fragment"] = first_fragment;
  Json f = Json::array();
  for (const auto& [size, d] : fragments) f.push_back(Json::array({size, toHex(d)}));
  j["fragments"] = std::move(f);
  j["first_event"] = first_event;
  Json e = Json::array();
  for (const Digest& d : events) e.push_back(toHex(d));
  j["events"] = std::move(e);
  return j.dump();
}

Result<ChainRecord> ChainRecord::fromJson(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("checkpoint"))
    return Status::Error("chain record is not a JSON object with a checkpoint");
  auto cp = Checkpoint::fromJson(j["checkpoint"].dump());
  if (!cp) return cp.status();
  ChainRecord r;
  r.checkpoint = std::move(*cp);
  try {
    r.first_fragment = j.at("first_fragment").get<std::uint64_t>();
    r.first_event = j.at("first_event").get<std::uint64_t>();
    for (const auto& f : j.at("fragments")) {
      auto d = digestFromHex(f.at(1).get<std::string>());
      if (!d) return Status::Error("chain record: a fragment digest is not 64 hex digits");
      r.fragments.emplace_back(f.at(0).get<std::uint64_t>(), *d);
    }
    for (const auto& e : j.at("events")) {
      auto d = digestFromHex(e.get<std::string>());
      if (!d) return Status::Error("chain record: an event digest is not 64 hex digits");
      r.events.push_back(*d);
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("chain record field missing or mistyped: ") + e.what());
  }
  return r;
}

SessionEvidence::SessionEvidence(EvidenceStore& store, const SigningKey& key,
                                 std::string session_id, std::function<Millis()> clock,
                                 std::string sidecar_path, SessionEvidenceOptions options)
    : store_(store),
      key_(key),
      session_id_(std::move(session_id)),
      clock_(std::move(clock)),
      sidecar_path_(std::move(sidecar_path)),
      options_(options) {
  last_.subject = session_id_;
  worker_ = std::thread([this] { run(); });
}

SessionEvidence::~SessionEvidence() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void SessionEvidence::onFragment(std::string_view init_segment, const std::uint8_t* data,
                                 std::size_t n) {
  // Hash outside the lock: a fragment can be hundreds of KB.
  const Digest d = sha256(data, n);
  std::optional<Digest> init;
  bool first;
  {
    std::lock_guard lock(mu_);
    first = fragments_.count() == 0;
  }
  if (first) init = sha256(init_segment);
  std::lock_guard lock(mu_);
  if (finished_) return;
  if (init) {
    fragments_.append(*init);
    new_fragments_.emplace_back(init_segment.size(), *init);
    fragment_bytes_ += init_segment.size();
  }
  fragments_.append(d);
  new_fragments_.emplace_back(n, d);
  fragment_bytes_ += n;
}

void SessionEvidence::onEventsStored(const std::vector<Event>& events) {
  std::vector<Digest> ds;
  ds.reserve(events.size());
  for (const Event& e : events) ds.push_back(eventDigest(e));
  std::lock_guard lock(mu_);
  if (finished_) return;
  for (const Digest& d : ds) {
    events_.append(d);
    new_events_.push_back(d);
  }
}

std::uint64_t SessionEvidence::fragmentBytes() const {
  std::lock_guard lock(mu_);
  return fragment_bytes_;
}

Checkpoint SessionEvidence::lastCheckpoint() const {
  std::lock_guard lock(mu_);
  return last_;
}

Status SessionEvidence::signAndStore(bool final) {
  ChainRecord rec;
  bool retry_only = false;
  {
    std::lock_guard lock(mu_);
    if (!final && new_fragments_.empty() && new_events_.empty()) {
      if (!unsent_valid_) return Status::Ok();
      retry_only = true;  // nothing new: only retry what the store missed
    }
  }
  if (retry_only) {
    Status st = store_.putCheckpoint(session_id_, unsent_.toJson());
    if (st.ok()) {
      unsent_valid_ = false;
      unsent_ = {};
    }
    return st;
  }
  {
    std::lock_guard lock(mu_);
    rec.first_fragment = fragments_.count() - new_fragments_.size();
    rec.first_event = events_.count() - new_events_.size();
    rec.fragments = std::move(new_fragments_);
    rec.events = std::move(new_events_);
    new_fragments_.clear();
    new_events_.clear();
    Checkpoint& c = rec.checkpoint;
    c.subject = session_id_;
    c.fragments = fragments_.count();
    c.fragment_bytes = fragment_bytes_;
    c.fragment_head = fragments_.head();
    c.events = events_.count();
    c.event_head = events_.head();
    c.t_ms = clock_();
    c.signed_at = epochNowMs();
    c.final = final;
    if (final) finished_ = true;
  }
  rec.checkpoint.sign(key_);
  {
    std::lock_guard lock(mu_);
    last_ = rec.checkpoint;
  }
  const std::string line = rec.toJson();
  Status sidecar;
  if (!sidecar_path_.empty()) {
    const int fd = ::open(sidecar_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
      sidecar = Status::Error("cannot write " + sidecar_path_ + ": " + std::strerror(errno));
    } else {
      const std::string out = line + "\n";
      if (::write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size()))
        sidecar = Status::Error("cannot write " + sidecar_path_ + ": " + std::strerror(errno));
      ::close(fd);
    }
    if (!sidecar.ok()) spdlog::warn("session={} event=chain_sidecar_failed error=\"{}\"", session_id_, sidecar.message());
  }
  // The store gets every item since the last record it accepted.
  if (unsent_valid_) {
    unsent_.checkpoint = rec.checkpoint;
    unsent_.fragments.insert(unsent_.fragments.end(), rec.fragments.begin(), rec.fragments.end());
    unsent_.events.insert(unsent_.events.end(), rec.events.begin(), rec.events.end());
  } else {
    unsent_ = std::move(rec);
    unsent_valid_ = true;
  }
  Status st = store_.putCheckpoint(session_id_, unsent_.toJson());
  if (st.ok()) {
    unsent_valid_ = false;
    unsent_ = {};
  } else {
    spdlog::warn("session={} event=checkpoint_store_failed error=\"{}\"", session_id_, st.message());
  }
  return st.ok() ? sidecar : st;
}

void SessionEvidence::run() {
  nameThisThread("evidence");
  std::unique_lock lock(mu_);
  while (!stop_) {
    // Until a checkpoint covers the recording's first fragment, look every
    // second: a gateway that dies in a session's first seconds still leaves
    // a signed prefix of the video.
    const auto wait = last_.fragments == 0 ? std::min(options_.sign_interval, options_.first_sign_after)
                                           : options_.sign_interval;
    wake_.wait_for(lock, wait, [&] { return stop_; });
    if (stop_ || finished_) break;
    lock.unlock();
    {
      std::lock_guard sign(sign_mu_);
      if (Status st = signAndStore(false); !st.ok())
        spdlog::debug("session={} checkpoint: {}", session_id_, st.message());
    }
    lock.lock();
  }
}

Status SessionEvidence::finish(std::string_view trailer) {
  {
    std::lock_guard lock(mu_);
    if (finished_) return Status::Ok();
    if (!trailer.empty()) {
      const Digest d = sha256(trailer);
      fragments_.append(d);
      new_fragments_.emplace_back(trailer.size(), d);
      fragment_bytes_ += trailer.size();
    }
    stop_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  std::lock_guard sign(sign_mu_);
  Status st = signAndStore(true);
  // One more try if the store failed: the final record matters most.
  if (!st.ok() && unsent_valid_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    if (Status again = store_.putCheckpoint(session_id_, unsent_.toJson()); again.ok()) {
      unsent_valid_ = false;
      return Status::Ok();
    }
  }
  return st;
}

}  // namespace vigil::storage
