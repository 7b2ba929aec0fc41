#include "storage/evidence_verify.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "storage/hash_chain.h"
#include "storage/session_evidence.h"

namespace vigil::storage {

namespace {

std::string secs(Millis ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ms) / 1000.0);
  return buf;
}

// A consistent, signed chain read from one source.
struct Chain {
  std::vector<Checkpoint> checkpoints;
  std::vector<std::pair<std::uint64_t, Digest>> fragments;
  std::vector<Digest> events;
  const Checkpoint* last() const { return checkpoints.empty() ? nullptr : &checkpoints.back(); }
};

// Empty string: fine; else what is wrong with the source's records.
std::string readChain(const std::vector<std::string>& lines, const std::string& source,
                      const std::string& session_id, const PublicKey& key, Chain& out) {
  HashChain fchain(ChainKind::Fragment), echain(ChainKind::Event);
  std::uint64_t bytes = 0;
  std::size_t n = 0;
  for (const std::string& line : lines) {
    if (line.empty()) continue;
    ++n;
    const std::string where = "checkpoint " + std::to_string(n) + " in " + source;
    auto rec = ChainRecord::fromJson(line);
    if (!rec) return where + " is unreadable: " + rec.message();
    const Checkpoint& c = rec->checkpoint;
    if (!c.verify(key)) return "the signature of " + where + " does not verify: the checkpoint was altered (or signed by another key)";
    if (c.subject != session_id) return where + " belongs to session " + c.subject;
    // The same record stored twice (a write that timed out here but that a
    // stalled Redis applied, then sent again) is not a change.
    if (!out.checkpoints.empty() && out.checkpoints.back().signedBytes() == c.signedBytes()) continue;
    if (rec->first_fragment > fchain.count() || rec->first_event > echain.count() ||
        rec->first_fragment + rec->fragments.size() < fchain.count() ||
        rec->first_event + rec->events.size() < echain.count())
      return where + " does not follow the one before it: checkpoint records were removed or reordered";
    // A record may repeat items of the one before (it was resent with
    // items the store had in fact accepted): they must be the same.
    for (std::size_t i = 0; i < rec->fragments.size(); ++i) {
      const std::uint64_t idx = rec->first_fragment + i;
      const auto& [size, d] = rec->fragments[i];
      if (idx < fchain.count()) {
        if (out.fragments[idx] != rec->fragments[i]) return where + " lists fragment " + std::to_string(idx) + " differently from the record before it: the record was altered";
        continue;
      }
      fchain.append(d);
      bytes += size;
      out.fragments.emplace_back(size, d);
    }
    for (std::size_t i = 0; i < rec->events.size(); ++i) {
      const std::uint64_t idx = rec->first_event + i;
      if (idx < echain.count()) {
        if (out.events[idx] != rec->events[i]) return where + " lists event " + std::to_string(idx + 1) + " differently from the record before it: the record was altered";
        continue;
      }
      echain.append(rec->events[i]);
      out.events.push_back(rec->events[i]);
    }
    if (fchain.count() != c.fragments || echain.count() != c.events || bytes != c.fragment_bytes ||
        fchain.head() != c.fragment_head || echain.head() != c.event_head)
      return "the item hashes listed with " + where + " do not chain to its signed heads: the record was altered";
    if (!out.checkpoints.empty() && out.checkpoints.back().final)
      return where + " follows the session's final checkpoint";
    out.checkpoints.push_back(c);
  }
  return {};
}

std::uint64_t coverage(const Chain& c) {
  const Checkpoint* l = c.last();
  return l ? l->fragments + l->events + (l->final ? 1 : 0) : 0;
}

std::uint32_t be32(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// baseMediaDecodeTime (ms: the recorder's track timescale is 1000) of a
// moof box's first traf, if it has one.
std::optional<Millis> moofStartMs(const std::string& moof) {
  auto find = [&](std::size_t from, std::size_t to, const char* type) -> std::optional<std::pair<std::size_t, std::size_t>> {
    std::size_t p = from;
    while (p + 8 <= to) {
      const std::uint32_t size = be32(reinterpret_cast<const unsigned char*>(moof.data() + p));
      if (size < 8 || p + size > to) return std::nullopt;
      if (moof.compare(p + 4, 4, type) == 0) return std::make_pair(p + 8, p + size);
      p += size;
    }
    return std::nullopt;
  };
  auto traf = find(8, moof.size(), "traf");
  if (!traf) return std::nullopt;
  auto tfdt = find(traf->first, traf->second, "tfdt");
  if (!tfdt || tfdt->second - tfdt->first < 8) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(moof.data() + tfdt->first);
  if (p[0] == 1) {
    if (tfdt->second - tfdt->first < 12) return std::nullopt;
    return static_cast<Millis>((std::uint64_t{be32(p + 4)} << 32) | be32(p + 8));
  }
  return static_cast<Millis>(be32(p + 4));
}

// Counts the moof boxes after `from` and the latest start time among them.
void scanTail(RecordingBytes& rec, std::uint64_t from, std::uint64_t& moofs, Millis& latest) {
  std::uint64_t p = from;
  while (p + 8 <= rec.size()) {
    unsigned char h[8];
    if (!rec.readAt(p, h, 8).ok()) return;
    const std::uint64_t size = be32(h);
    if (size < 8) return;
    if (std::string_view(reinterpret_cast<char*>(h + 4), 4) == "moof" && size <= (4u << 20) &&
        p + size <= rec.size()) {
      ++moofs;
      std::string box(size, '\0');
      if (rec.readAt(p, box.data(), size).ok())
        if (auto t = moofStartMs(box)) latest = std::max(latest, *t);
    }
    p += size;
  }
}

VerifyReport differs(VerifyReport r, std::string what) {
  r.verified = false;
  r.detail = std::move(what);
  return r;
}

}  // namespace

std::string VerifyReport::toJson() const {
  nlohmann::ordered_json j;
  j["verified"] = verified;
  j["detail"] = detail;
  j["complete"] = complete;
  j["fragments"] = fragments;
  j["fragment_bytes"] = fragment_bytes;
  j["events"] = events;
  j["signed_t_ms"] = signed_t_ms;
  j["tail_fragments"] = tail_fragments;
  j["tail_events"] = tail_events;
  j["unsigned_tail_s"] = unsigned_tail_s;
  j["signer"] = signer;
  return j.dump();
}

VerifyReport verifyEvidence(const EvidenceSources& in, const PublicKey& key) {
  VerifyReport r;
  r.signer = keyFingerprint(key);
  Chain store, sidecar;
  if (std::string bad = readChain(in.store_records, in.store_name, in.session_id, key, store); !bad.empty())
    return differs(r, bad);
  if (std::string bad = readChain(in.sidecar_records, "the recording's sidecar", in.session_id, key, sidecar);
      !bad.empty())
    return differs(r, bad);
  const Chain& chain = coverage(sidecar) > coverage(store) ? sidecar : store;
  const Checkpoint* cp = chain.last();
  if (!cp)
    return differs(r, "no signed checkpoint for session " + in.session_id +
                          ": recorded before evidence signing, or its checkpoints were deleted");
  r.fragments = cp->fragments;
  r.events = cp->events;
  r.fragment_bytes = cp->fragment_bytes;
  r.signed_t_ms = cp->t_ms;
  r.complete = cp->final;

  // The recording, fragment by fragment.
  Millis tail_end = cp->t_ms;
  if (cp->fragments > 0 && !in.recording && !in.recording_error.empty())
    return differs(r, "the recording cannot be opened (fragment 0 onwards unchecked): " +
                          in.recording_error);
  if (cp->fragments > 0 && !in.recording)
    return differs(r, "the recording is missing (" + std::to_string(cp->fragment_bytes) + " bytes were signed)");
  if (in.recording) {
    RecordingBytes& rec = *in.recording;
    std::uint64_t offset = 0;
    std::string buf;
    for (std::size_t k = 0; k < chain.fragments.size(); ++k) {
      const auto& [size, digest] = chain.fragments[k];
      if (offset + size > rec.size())
        return differs(r, "the recording is truncated: it has " + std::to_string(rec.size()) + " of " +
                              std::to_string(cp->fragment_bytes) + " signed bytes; fragment " +
                              std::to_string(k) + " of " + std::to_string(chain.fragments.size()) +
                              " is cut short or missing");
      buf.resize(size);
      if (Status st = rec.readAt(offset, buf.data(), size); !st.ok())
        return differs(r, "fragment " + std::to_string(k) + " of the recording changed (" +
                              st.message() + ")");
      if (sha256(buf) != digest)
        return differs(r, "fragment " + std::to_string(k) + " of the recording changed (bytes " +
                              std::to_string(offset) + "-" + std::to_string(offset + size - 1) + ")");
      offset += size;
    }
    if (const std::uint64_t extra = rec.bytesAfterEnd(); extra > 0)
      return differs(r, "the recording file has " + std::to_string(extra) +
                            " bytes after its final record (appended)");
    if (rec.size() > offset) {
      if (cp->final)
        return differs(r, "the recording has " + std::to_string(rec.size() - offset) +
                              " bytes after its signed end (appended)");
      scanTail(rec, offset, r.tail_fragments, tail_end);
      if (r.tail_fragments == 0) r.tail_fragments = 1;  // bytes, if not a whole fragment
    }
  }

  // The events, in the order they were stored.
  std::vector<Digest> actual;
  actual.reserve(in.events.size());
  for (const Event& e : in.events) actual.push_back(eventDigest(e));
  const std::vector<Digest>& want = chain.events;
  const std::size_t common = std::min(actual.size(), want.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (actual[i] == want[i]) continue;
    const std::string n = std::to_string(i + 1);
    const bool next_is_mine = i + 1 < actual.size() && actual[i + 1] == want[i];
    const bool mine_is_next = i + 1 < want.size() && actual[i] == want[i + 1];
    if (next_is_mine && mine_is_next)
      return differs(r, "events " + n + " and " + std::to_string(i + 2) + " were reordered");
    if (mine_is_next) return differs(r, "event " + n + " missing (deleted)");
    if (next_is_mine) return differs(r, "an event was inserted before event " + n);
    // Moved further: the signed event turns up later.
    for (std::size_t j = i + 2; j < actual.size() && j < i + 64; ++j)
      if (actual[j] == want[i]) return differs(r, "event " + n + " was moved (reordered)");
    return differs(r, "event " + n + " changed (\"" + in.events[i].text.substr(0, 80) + "\")");
  }
  if (actual.size() < want.size())
    return differs(r, "event " + std::to_string(actual.size() + 1) + " missing (" +
                          std::to_string(want.size() - actual.size()) + " of " +
                          std::to_string(want.size()) + " signed events are gone)");
  if (actual.size() > want.size()) {
    if (cp->final)
      return differs(r, "event " + std::to_string(want.size() + 1) +
                            " was inserted after the session's signed end");
    r.tail_events = actual.size() - want.size();
    for (std::size_t i = want.size(); i < in.events.size(); ++i)
      tail_end = std::max(tail_end, in.events[i].t_ms);
  }

  r.verified = true;
  const std::string what = std::to_string(cp->fragments) + " recording fragments (" +
                           std::to_string(cp->fragment_bytes) + " bytes) and " +
                           std::to_string(cp->events) + " events";
  if (cp->final) {
    r.detail = "verified: " + what + " as signed at the session's end (t=" + secs(cp->t_ms) + ") by " +
               r.signer;
    return r;
  }
  const bool has_tail = r.tail_fragments > 0 || r.tail_events > 0;
  r.unsigned_tail_s = has_tail ? static_cast<double>(std::max<Millis>(0, tail_end - cp->t_ms)) / 1000.0 : 0;
  char tail[96];
  std::snprintf(tail, sizeof tail, "unsigned tail of %.1f s", r.unsigned_tail_s);
  r.detail = "verified: " + what + " signed up to t=" + secs(cp->t_ms) + "; " + tail + " (" +
             std::to_string(r.tail_fragments) + " fragments, " + std::to_string(r.tail_events) +
             " events) " + (in.live ? "(the session is live)" : "(the session ended without a final signature: the gateway stopped)") +
             "; signed by " + r.signer;
  return r;
}

std::string chainSidecarPath(const std::string& recording_path) { return recording_path + ".chain"; }

std::vector<std::string> readChainSidecar(const std::string& recording_path) {
  std::vector<std::string> lines;
  std::ifstream in(chainSidecarPath(recording_path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  // A crash can leave a last line half written: it was never a whole record.
  if (!lines.empty() && !ChainRecord::fromJson(lines.back()).ok()) {
    std::ifstream again(chainSidecarPath(recording_path), std::ios::binary | std::ios::ate);
    const auto size = again.tellg();
    again.seekg(std::max<std::streamoff>(0, static_cast<std::streamoff>(size) - 1));
    if (again.get() != '\n') lines.pop_back();
  }
  return lines;
}

Result<VerifyReport> verifySession(MetadataStore& meta, EvidenceStore& evidence,
                                   const std::string& recordings_dir,
                                   const std::string& session_id, const PublicKey& key,
                                   const KeyRing& recording_keys) {
  auto rec = meta.getSession(session_id);
  if (!rec) return rec.status();
  if (!rec->has_value()) return Status::Error("no session " + session_id);
  const SessionRecord& s = **rec;
  EvidenceSources in;
  in.session_id = session_id;
  in.live = s.state == "live";
  auto records = evidence.checkpoints(session_id);
  if (!records) return records.status();
  in.store_records = std::move(*records);
  auto events = evidence.eventsInAppendOrder(session_id);
  if (!events) return events.status();
  in.events = std::move(*events);
  std::unique_ptr<RecordingBytes> bytes;
  if (!s.video_path.empty()) {
    const std::string path = recordings_dir + "/" + s.video_path;
    in.sidecar_records = readChainSidecar(path);
    std::error_code ec;
    if (auto b = openRecordingBytes(path, recording_keys); b.ok())
      bytes = std::move(*b);
    else if (std::filesystem::symlink_status(path, ec).type() != std::filesystem::file_type::not_found)
      in.recording_error = b.message();
  }
  in.recording = bytes.get();
  VerifyReport r = verifyEvidence(in, key);
  // Readers' messages name the file by its full path: the API shows this
  // detail to browsers, which need the recording's name, not the server's layout.
  const std::string prefix = recordings_dir + "/";
  for (std::size_t at; !prefix.empty() && (at = r.detail.find(prefix)) != std::string::npos;)
    r.detail.erase(at, prefix.size());
  return r;
}

}  // namespace vigil::storage
