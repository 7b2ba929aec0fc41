#include "storage/evidence_bundle.h"

#include <sodium.h>
#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "storage/hash_chain.h"
#include "storage/recording_bytes.h"
#include "storage/session_evidence.h"

namespace vigil::storage {

namespace {

using Json = nlohmann::ordered_json;

// Files whose SHA-256 manifest.json and SHA256SUMS list, in this order.
constexpr const char* kDataFiles[] = {"recording.mp4", "events.jsonl", "chain.jsonl", "VERIFY.txt"};

std::string sigBytes(const Signature& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

std::string eventLine(std::size_t seq, const Event& e) {
  Json j;
  j["seq"] = seq;
  j["t_ms"] = e.t_ms;
  j["kind"] = std::string(toString(e.kind));
  j["text"] = e.text;
  if (!e.window.empty()) j["window"] = e.window;
  if (e.direction) j["direction"] = std::string(toString(*e.direction));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Event parseEventLine(const std::string& line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  Event e{0, EventKind::Lifecycle, "<unreadable: " + line.substr(0, 200) + ">", {}};
  if (j.is_discarded() || !j.is_object()) return e;
  auto kind = j.contains("kind") && j["kind"].is_string() ? parseEventKind(j["kind"].get<std::string>())
                                                         : std::nullopt;
  if (!kind || !j.contains("t_ms") || !j["t_ms"].is_number_integer() || !j.contains("text") ||
      !j["text"].is_string())
    return e;
  e.kind = *kind;
  e.t_ms = j["t_ms"].get<Millis>();
  e.text = j["text"].get<std::string>();
  e.window = j.contains("window") && j["window"].is_string() ? j["window"].get<std::string>() : "";
  if (j.contains("direction") && j["direction"].is_string())
    e.direction = parseDirection(j["direction"].get<std::string>());
  return e;
}

Json defaultSessionJson(const SessionRecord& s) {
  Json j;
  j["id"] = s.id;
  j["user"] = s.user;
  j["target"] = s.target;
  j["protocol"] = s.protocol;
  j["state"] = s.state;
  j["started_at"] = formatRfc3339(s.started_at);
  j["ended_at"] = s.ended_at ? Json(formatRfc3339(s.ended_at)) : Json(nullptr);
  j["duration_ms"] = s.durationMs();
  j["width"] = s.width;
  j["height"] = s.height;
  j["video_bytes"] = s.video_bytes;
  j["end_reason"] = s.end_reason;
  return j;
}

std::string verifyText(const std::string& session_id, const std::string& fingerprint) {
  std::ostringstream o;
  o << "Vigil evidence bundle of session " << session_id << "\n\n"
    << "Check it with openssl and sha256sum alone, in the folder where this zip\n"
    << "was extracted. Each command must succeed (\"Signature Verified Successfully\",\n"
    << "then OK for every file):\n\n"
    << "  openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in manifest.json -sigfile manifest.sig\n"
    << "  openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig\n"
    << "  sha256sum -c SHA256SUMS\n\n"
    << "signer.pem must be the deployment's signing key: compare it with what\n"
    << "`vigil pubkey` prints on a gateway node (fingerprint " << fingerprint << ",\n"
    << "the SHA-256 of the raw 32-byte key).\n\n"
    << "manifest.json lists the same SHA-256 of each file and the heads of the\n"
    << "session's hash chains, signed while it was recorded (chain.jsonl).\n"
    << "`vigil verify THIS.zip` checks the recording fragment by fragment and\n"
    << "the events one by one against those signatures, and names the first\n"
    << "thing that differs; it needs no Redis and no config.\n";
  return o.str();
}

struct ZipCloser {
  void operator()(zip_t* z) const { if (z) zip_discard(z); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

std::string zipError(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string s = zip_error_strerror(&e);
  zip_error_fini(&e);
  return s;
}

// SHA-256 of a whole recording, read in 1 MiB pieces (bounded memory).
Result<Digest> sha256Of(RecordingBytes& r) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  std::string buf(std::min<std::uint64_t>(r.size(), 1u << 20), '\0');
  for (std::uint64_t at = 0; at < r.size();) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), r.size() - at));
    if (Status s = r.readAt(at, buf.data(), n); !s.ok()) return s;
    crypto_hash_sha256_update(&st, reinterpret_cast<const unsigned char*>(buf.data()), n);
    at += n;
  }
  Digest d{};
  crypto_hash_sha256_final(&st, d.data());
  return d;
}

// A libzip source that reads the recording's plaintext as the zip is
// written, so a recording of any size is bundled in bounded memory.
struct RecordingSource {
  RecordingBytes* bytes;
  std::uint64_t offset = 0;
  zip_error_t error;
};

zip_int64_t readRecording(void* state, void* data, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* src = static_cast<RecordingSource*>(state);
  switch (cmd) {
    case ZIP_SOURCE_OPEN:
      src->offset = 0;
      return 0;
    case ZIP_SOURCE_READ: {
      const std::uint64_t n = std::min<std::uint64_t>(len, src->bytes->size() - src->offset);
      if (n == 0) return 0;
      if (!src->bytes->readAt(src->offset, data, static_cast<std::size_t>(n)).ok()) {
        zip_error_set(&src->error, ZIP_ER_READ, EIO);
        return -1;
      }
      src->offset += n;
      return static_cast<zip_int64_t>(n);
    }
    case ZIP_SOURCE_CLOSE:
      return 0;
    case ZIP_SOURCE_STAT: {
      auto* st = static_cast<zip_stat_t*>(data);
      zip_stat_init(st);
      st->size = src->bytes->size();
      st->valid |= ZIP_STAT_SIZE;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR:
      return zip_error_to_data(&src->error, data, len);
    case ZIP_SOURCE_FREE:
      return 0;
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE,
                                            ZIP_SOURCE_STAT, ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, -1);
    default:
      zip_error_set(&src->error, ZIP_ER_INVAL, 0);
      return -1;
  }
}

}  // namespace

Status writeBundle(MetadataStore& meta, EvidenceStore& evidence, const std::string& recordings_dir,
                   const std::string& session_id, const SigningKey& key,
                   const std::string& out_path, const std::string& session_json,
                   const KeyRing& recording_keys) {
  auto rec = meta.getSession(session_id);
  if (!rec) return rec.status();
  if (!rec->has_value()) return Status::Error("no session " + session_id);
  const SessionRecord& s = **rec;

  std::map<std::string, std::string> files;
  std::vector<std::string> sidecar;
  // The recording is never held whole: hashed, verified and zipped from the
  // reader (a session can be hours and gigabytes).
  std::unique_ptr<RecordingBytes> mp4 = recordingBytesFromString("");
  if (!s.video_path.empty()) {
    const std::string path = recordings_dir + "/" + s.video_path;
    sidecar = readChainSidecar(path);
    auto bytes = openRecordingBytes(path, recording_keys);
    if (!bytes) return bytes.status();
    mp4 = std::move(*bytes);
  }
  auto mp4_digest = sha256Of(*mp4);
  if (!mp4_digest) return mp4_digest.status();
  auto fileDigest = [&](const std::string& name) {
    return name == "recording.mp4" ? *mp4_digest : sha256(files[name]);
  };
  auto fileSize = [&](const std::string& name) -> std::uint64_t {
    return name == "recording.mp4" ? mp4->size() : files[name].size();
  };
  auto events = evidence.eventsInAppendOrder(session_id);
  if (!events) return events.status();
  std::string& ev = files["events.jsonl"];
  for (std::size_t i = 0; i < events->size(); ++i) ev += eventLine(i + 1, (*events)[i]);
  auto records = evidence.checkpoints(session_id);
  if (!records) return records.status();

  // The chain the verifier will use: whichever copy covers more.
  EvidenceSources in;
  in.session_id = session_id;
  in.live = s.state == "live";
  in.recording = s.video_path.empty() ? nullptr : mp4.get();
  in.events = *events;
  in.store_records = *records;
  const VerifyReport store_only = verifyEvidence(in, key.publicKey());
  in.sidecar_records = sidecar;
  const VerifyReport report = verifyEvidence(in, key.publicKey());
  const bool use_sidecar = report.fragments + report.events > store_only.fragments + store_only.events ||
                           (report.complete && !store_only.complete);
  std::string& chain = files["chain.jsonl"];
  for (const std::string& line : use_sidecar ? sidecar : *records) chain += line + "\n";

  const std::string pem = publicKeyPem(key.publicKey());
  files["signer.pem"] = pem;
  files["VERIFY.txt"] = verifyText(session_id, keyFingerprint(key.publicKey()));

  Json m;
  m["format"] = "vigil-evidence-bundle/1";
  m["created_at"] = formatRfc3339(epochNowMs());
  Json sj = session_json.empty() ? defaultSessionJson(s) : Json::parse(session_json, nullptr, false);
  if (sj.is_discarded()) sj = defaultSessionJson(s);
  m["session"] = sj;
  m["session_id"] = session_id;
  Json fj;
  for (const char* name : {"recording.mp4", "events.jsonl", "chain.jsonl", "VERIFY.txt", "signer.pem"})
    fj[name] = Json{{"sha256", toHex(fileDigest(name))}, {"bytes", fileSize(name)}};
  m["files"] = fj;
  Json cj;
  cj["fragments"] = report.fragments;
  cj["fragment_bytes"] = report.fragment_bytes;
  cj["events"] = report.events;
  cj["signed_t_ms"] = report.signed_t_ms;
  cj["final"] = report.complete;
  std::string last_line;
  {
    std::istringstream lines(chain);
    for (std::string l; std::getline(lines, l);) if (!l.empty()) last_line = l;
  }
  if (auto last = ChainRecord::fromJson(last_line); last.ok()) {
    cj["fragment_head"] = toHex(last->checkpoint.fragment_head);
    cj["event_head"] = toHex(last->checkpoint.event_head);
    cj["checkpoint"] = Json::parse(last->checkpoint.toJson());
  }
  m["chain"] = cj;
  m["verification"] = Json{{"verified", report.verified}, {"detail", report.detail}};
  m["signer"] = Json{{"fingerprint", keyFingerprint(key.publicKey())}, {"algorithm", "Ed25519"}};
  files["manifest.json"] = m.dump(2) + "\n";
  files["manifest.sig"] = sigBytes(key.sign(files["manifest.json"]));
  std::string sums;
  for (const char* name : kDataFiles) sums += toHex(fileDigest(name)) + "  " + name + "\n";
  files["SHA256SUMS"] = sums;
  files["SHA256SUMS.sig"] = sigBytes(key.sign(sums));

  const std::string partial = out_path + ".partial";
  // Declared before the zip, which may still call it while it is discarded.
  RecordingSource mp4_source{mp4.get(), 0, {}};
  zip_error_init(&mp4_source.error);
  int err = 0;
  ZipPtr z(zip_open(partial.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err));
  if (!z) return Status::Error("cannot create " + partial + ": " + zipError(err));
  for (const char* name : {"VERIFY.txt", "manifest.json", "manifest.sig", "signer.pem", "SHA256SUMS",
                           "SHA256SUMS.sig", "events.jsonl", "chain.jsonl", "recording.mp4"}) {
    const std::string& data = files[name];
    zip_source_t* src = std::string_view(name) == "recording.mp4"
                            ? zip_source_function(z.get(), readRecording, &mp4_source)
                            : zip_source_buffer(z.get(), data.data(), data.size(), 0);
    if (!src) return Status::Error(std::string("cannot add ") + name + " to the bundle");
    const zip_int64_t idx = zip_file_add(z.get(), name, src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      return Status::Error(std::string("cannot add ") + name + ": " + zip_strerror(z.get()));
    }
    // The video is compressed already; the rest is text.
    zip_set_file_compression(z.get(), static_cast<zip_uint64_t>(idx),
                             std::string_view(name) == "recording.mp4" ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
  }
  if (zip_close(z.get()) != 0) {
    const std::string why = zip_strerror(z.get());
    zip_discard(z.release());
    zip_error_fini(&mp4_source.error);
    std::filesystem::remove(partial);
    return Status::Error("cannot write " + partial + ": " + why);
  }
  zip_error_fini(&mp4_source.error);
  z.release();
  std::error_code ec;
  std::filesystem::rename(partial, out_path, ec);
  if (ec) return Status::Error("cannot move the bundle to " + out_path + ": " + ec.message());
  return Status::Ok();
}

Result<VerifyReport> verifyBundle(const std::string& zip_path, const PublicKey* pinned) {
  int err = 0;
  ZipPtr z(zip_open(zip_path.c_str(), ZIP_RDONLY, &err));
  if (!z) return Status::Error("cannot open bundle " + zip_path + ": " + zipError(err));
  std::map<std::string, std::string> files;
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
    zip_file_t* f = zip_fopen_index(z.get(), static_cast<zip_uint64_t>(i), 0);
    if (!f) return Status::Error(std::string("cannot read ") + st.name + " in " + zip_path + ": " + zip_strerror(z.get()));
    std::string data(st.size, '\0');
    const zip_int64_t got = zip_fread(f, data.data(), data.size());
    zip_fclose(f);
    if (got != static_cast<zip_int64_t>(st.size))
      return Status::Error(std::string("cannot read ") + st.name + " in " + zip_path + " (damaged zip)");
    files[st.name] = std::move(data);
  }
  VerifyReport r;
  auto fail = [&](std::string what) {
    r.verified = false;
    r.detail = std::move(what);
    return r;
  };
  for (const char* need : {"manifest.json", "manifest.sig", "signer.pem", "events.jsonl", "chain.jsonl",
                           "SHA256SUMS", "SHA256SUMS.sig", "VERIFY.txt"})
    if (!files.count(need)) return fail(std::string(need) + " is missing from the bundle");
  auto key = publicKeyFromPem(files["signer.pem"]);
  if (!key) return fail("signer.pem changed: " + key.message());
  r.signer = keyFingerprint(*key);
  if (pinned && *pinned != *key)
    return fail("the bundle is signed by " + r.signer + ", not by the expected key " + keyFingerprint(*pinned));
  auto sigOf = [](const std::string& s, Signature& out) {
    if (s.size() != out.size()) return false;
    std::copy(s.begin(), s.end(), out.begin());
    return true;
  };
  Signature msig{};
  if (!sigOf(files["manifest.sig"], msig) || !verifySignature(*key, files["manifest.json"], msig))
    return fail("manifest.json or manifest.sig changed: the manifest's signature does not verify with signer.pem");
  const auto m = nlohmann::json::parse(files["manifest.json"], nullptr, false);
  if (m.is_discarded() || !m.is_object() || !m.contains("files") || !m.contains("session_id"))
    return fail("manifest.json is not a Vigil bundle manifest");

  // The recording and events against the chain signed while recording.
  EvidenceSources in;
  in.session_id = m["session_id"].get<std::string>();
  in.store_name = "chain.jsonl";
  in.live = m.contains("session") && m["session"].is_object() && m["session"].value("state", "") == "live";
  {
    std::istringstream lines(files["chain.jsonl"]);
    for (std::string l; std::getline(lines, l);) if (!l.empty()) in.store_records.push_back(l);
  }
  {
    std::istringstream lines(files["events.jsonl"]);
    for (std::string l; std::getline(lines, l);) if (!l.empty()) in.events.push_back(parseEventLine(l));
  }
  std::unique_ptr<RecordingBytes> mp4;
  if (files.count("recording.mp4") && !files["recording.mp4"].empty()) {
    mp4 = recordingBytesFromString(files["recording.mp4"]);
    in.recording = mp4.get();
  }
  VerifyReport chain = verifyEvidence(in, *key);
  if (!chain.verified) {
    // Name the file as well as the item.
    const std::string& d = chain.detail;
    const std::string file = d.find("checkpoint") != std::string::npos ? "chain.jsonl: "
                             : d.find("recording") != std::string::npos ? "recording.mp4: "
                                                                         : "events.jsonl: ";
    chain.detail = file + d;
    return chain;
  }
  r = chain;
  // Every file as the signed manifest lists it.
  for (const auto& [name, info] : m["files"].items()) {
    if (!files.count(name)) return fail(name + " is missing from the bundle");
    if (!info.is_object() || info.value("sha256", "") != toHex(sha256(files[name])))
      return fail(name + " changed: its SHA-256 differs from manifest.json");
  }
  std::string sums;
  for (const char* name : kDataFiles) sums += toHex(sha256(files[name])) + "  " + name + "\n";
  Signature ssig{};
  if (files["SHA256SUMS"] != sums) return fail("SHA256SUMS changed: it differs from the files manifest.json lists");
  if (!sigOf(files["SHA256SUMS.sig"], ssig) || !verifySignature(*key, files["SHA256SUMS"], ssig))
    return fail("SHA256SUMS.sig changed: the signature of SHA256SUMS does not verify");
  for (const auto& [name, data] : files) {
    if (name == "manifest.json" || name == "manifest.sig" || name == "SHA256SUMS" ||
        name == "SHA256SUMS.sig" || m["files"].contains(name))
      continue;
    return fail(name + " was added to the bundle (not in manifest.json)");
  }
  r.detail = "verified: bundle of session " + in.session_id + ": " + r.detail.substr(std::string("verified: ").size());
  return r;
}

}  // namespace vigil::storage
