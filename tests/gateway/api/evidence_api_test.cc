// GET /api/sessions/{id}/bundle and /verify on a recording sealed at rest
// (the default): who may call them, the bundle's files and its audit entry,
// and a recording byte or a stored event changed being named by /verify.
// The chain is made by the real SessionEvidence over the sealed file's
// plaintext; the evidence store is a fake whose events a test can edit.
#include <zip.h>

#include <fstream>
#include <mutex>

#include "storage/evidence_bundle.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"
#include "storage/sealed_file.h"
#include "storage/session_evidence.h"
#include "storage/signing_key.h"
#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

// Checkpoints and events as Redis keeps them, with a back door for tampering.
class EditableEvidence final : public storage::EvidenceStore {
 public:
  Status putCheckpoint(const std::string&, const std::string& json) override {
    std::lock_guard l(mu_);
    checkpoints_.push_back(json);
    return Status::Ok();
  }
  Result<std::vector<std::string>> checkpoints(const std::string&) override {
    std::lock_guard l(mu_);
    return checkpoints_;
  }
  Result<std::vector<Event>> eventsInAppendOrder(const std::string&) override {
    std::lock_guard l(mu_);
    return events;
  }
  std::mutex mu_;
  std::vector<std::string> checkpoints_;
  std::vector<Event> events;  // guarded by mu_
};

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class EvidenceApiTest : public ApiServerTest {
 protected:
  void configure(Config& c) override { c.state_dir = (dir_ / "state").string(); }
  void addDeps(ApiDeps& d) override {
    auto k = storage::SigningKey::loadOrCreate((dir_ / "state").string());
    ASSERT_TRUE(k.ok()) << k.message();
    key_ = *k;
    d.evidence = &evidence_;
    d.signing_key = &key_;
  }

  // Rewrites s1 as the gateway would have: video_ sealed in records of
  // 7 000 bytes under the state dir's key ring, each record's plaintext
  // chained and signed as a fragment, the fixture's events chained, a final
  // signature at the end.
  void recordS1() {
    auto keys = storage::KeyRing::loadOrCreate((dir_ / "state").string(), (dir_ / "rec").string());
    ASSERT_TRUE(keys.ok()) << keys.message();
    auto w = storage::SealedWriter::create(*keys->current());
    ASSERT_TRUE(w.ok());
    const std::string rec = (dir_ / "rec/s1.mp4").string();
    storage::SessionEvidence ev(evidence_, key_, "s1", [] { return Millis{9000}; },
                                storage::chainSidecarPath(rec));
    std::string file = (*w)->header();
    const std::string_view all(video_);
    const std::string_view init = all.substr(0, 7000);
    (*w)->seal(reinterpret_cast<const std::uint8_t*>(init.data()), init.size(), false, file);
    std::size_t at = init.size();
    for (; at + 7000 < all.size(); at += 7000) {
      (*w)->seal(reinterpret_cast<const std::uint8_t*>(all.data() + at), 7000, false, file);
      ev.onFragment(init, reinterpret_cast<const std::uint8_t*>(all.data() + at), 7000);
    }
    const std::string_view trailer = all.substr(at);
    (*w)->seal(reinterpret_cast<const std::uint8_t*>(trailer.data()), trailer.size(), true, file);
    std::ofstream(rec, std::ios::binary | std::ios::trunc) << file;
    const std::vector<Event> events = {{0, EventKind::Lifecycle, "connect", {}},
                                       {1500, EventKind::Key, "ipconfig /all", {}},
                                       {4000, EventKind::Title, "Command Prompt", {}},
                                       {9000, EventKind::Key, "net user admin", {}}};
    {
      std::lock_guard l(evidence_.mu_);
      evidence_.events = events;
    }
    ev.onEventsStored(events);
    ASSERT_TRUE(ev.finish(trailer).ok());
    // On disk it is no MP4: the first bytes are the sealed header.
    ASSERT_TRUE(storage::sealed::hasMagic(file.data(), file.size()));
  }

  json verifyAs(const std::string& cookie) {
    Resp r = get(cookie, "/api/sessions/s1/verify");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }

  EditableEvidence evidence_;
  storage::SigningKey key_;
};

TEST_F(EvidenceApiTest, VerifyIsOkOnAnIntactSealedRecordingAndNamesAChangedByteOrEvent) {
  recordS1();
  const std::string c = login("aud1", "audpw");
  json j = verifyAs(c);
  EXPECT_EQ(j["verified"], true) << j.dump();
  EXPECT_EQ(j["complete"], true) << j.dump();
  EXPECT_EQ(j["detail"].get<std::string>().rfind("verified: ", 0), 0u) << j.dump();
  EXPECT_EQ(j["fragment_bytes"], video_.size()) << j.dump();  // the plaintext, all of it
  EXPECT_EQ(j["events"], 4) << j.dump();
  EXPECT_EQ(j["signer"], storage::keyFingerprint(key_.publicKey()));

  // One byte of the sealed file changed on disk (inside record 5's ciphertext).
  const fs::path rec = dir_ / "rec/s1.mp4";
  const std::string original = readAll(rec);
  std::string bad = original;
  const std::size_t off = storage::sealed::kHeaderSize + 5 * (7000 + storage::sealed::kRecordOverhead) + 100;
  bad[off] ^= 0x40;
  std::ofstream(rec, std::ios::binary | std::ios::trunc) << bad;
  j = verifyAs(c);
  EXPECT_EQ(j["verified"], false) << j.dump();
  EXPECT_NE(j["detail"].get<std::string>().find("fragment 5 of the recording changed"), std::string::npos)
      << j.dump();
  // The file by its name, not the server's directory layout.
  EXPECT_NE(j["detail"].get<std::string>().find("record 5 of s1.mp4 does not authenticate"), std::string::npos)
      << j.dump();
  EXPECT_EQ(j["detail"].get<std::string>().find(dir_.string()), std::string::npos) << j.dump();
  // Cut short: named as truncation.
  std::ofstream(rec, std::ios::binary | std::ios::trunc) << original.substr(0, original.size() / 2);
  j = verifyAs(c);
  EXPECT_EQ(j["verified"], false) << j.dump();
  EXPECT_NE(j["detail"].get<std::string>().find("truncated"), std::string::npos) << j.dump();
  std::ofstream(rec, std::ios::binary | std::ios::trunc) << original;
  EXPECT_EQ(verifyAs(c)["verified"], true);

  // An event edited in the store, then one deleted.
  std::vector<Event> events;
  {
    std::lock_guard l(evidence_.mu_);
    events = evidence_.events;
    evidence_.events[3].text = "net user";
  }
  j = verifyAs(c);
  EXPECT_EQ(j["verified"], false) << j.dump();
  EXPECT_NE(j["detail"].get<std::string>().find("event 4 changed"), std::string::npos) << j.dump();
  {
    std::lock_guard l(evidence_.mu_);
    evidence_.events = events;
    evidence_.events.erase(evidence_.events.begin() + 1);
  }
  j = verifyAs(c);
  EXPECT_EQ(j["verified"], false) << j.dump();
  EXPECT_NE(j["detail"].get<std::string>().find("event 2 missing"), std::string::npos) << j.dump();
  {
    std::lock_guard l(evidence_.mu_);
    evidence_.events = events;
  }
  EXPECT_EQ(verifyAs(c)["verified"], true);
}

TEST_F(EvidenceApiTest, VerifyAndBundleAreForAuditorsSecurityAndAdminsOnly) {
  recordS1();
  EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s1/verify").status, 401);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s1/bundle").status, 401);
  const std::string vendor = login("vend1", "vendpw");
  EXPECT_EQ(get(vendor, "/api/sessions/s1/verify").status, 403);
  EXPECT_EQ(get(vendor, "/api/sessions/s1/bundle").status, 403);
  EXPECT_EQ(countAudit("bundle", "s1"), 0);
  for (auto [user, pw] : {std::pair{"aud1", "audpw"}, {"sec1", "secpw"}, {"admin1", "adminpw"}}) {
    const std::string c = login(user, pw);
    EXPECT_EQ(get(c, "/api/sessions/s1/verify").status, 200) << user;
    Resp b = get(c, "/api/sessions/s1/bundle");
    EXPECT_EQ(b.status, 200) << user << ": " << b.body;
    EXPECT_EQ(b.header("content-type"), "application/zip") << user;
  }
  const std::string c = login("aud1", "audpw");
  EXPECT_EQ(get(c, "/api/sessions/nope/bundle").status, 404);
  EXPECT_EQ(get(c, "/api/sessions/nope/verify").status, 404);
}

TEST_F(EvidenceApiTest, TheBundleHoldsTheDecryptedRecordingAndVerifiesOfflineAndIsAudited) {
  recordS1();
  const std::string c = login("sec1", "secpw");
  Resp b = get(c, "/api/sessions/s1/bundle");
  ASSERT_EQ(b.status, 200) << b.body;
  EXPECT_NE(b.header("content-disposition").find("vigil-s1-evidence.zip"), std::string::npos);
  EXPECT_EQ(b.header("cache-control"), "no-store");

  // Audited as an export of evidence, with who took it.
  int entries = 0;
  for (const auto& a : store_.auditEntries())
    if (a.action == "bundle" && a.object == "s1") {
      ++entries;
      EXPECT_EQ(a.actor, "sec1");
      EXPECT_NE(a.detail.find("evidence bundle"), std::string::npos) << a.detail;
    }
  EXPECT_EQ(entries, 1);

  const fs::path zip = dir_ / "s1.zip";
  std::ofstream(zip, std::ios::binary) << b.body;
  int err = 0;
  zip_t* z = zip_open(zip.c_str(), ZIP_RDONLY, &err);
  ASSERT_TRUE(z) << err;
  auto entry = [&](const char* name) {
    std::string data;
    zip_stat_t st;
    if (zip_stat(z, name, 0, &st) != 0) return std::string("<absent>");
    zip_file_t* f = zip_fopen(z, name, 0);
    if (!f) return std::string("<unreadable>");
    data.resize(st.size);
    const zip_int64_t n = zip_fread(f, data.data(), st.size);
    zip_fclose(f);
    if (n != static_cast<zip_int64_t>(st.size)) return std::string("<short>");
    return data;
  };
  for (const char* name : {"recording.mp4", "events.jsonl", "manifest.json", "manifest.sig",
                           "signer.pem", "VERIFY.txt"})
    EXPECT_NE(entry(name).rfind("<", 0), 0u) << name << " " << entry(name);
  // The recording as recorded: the plaintext, not the sealed file.
  EXPECT_EQ(entry("recording.mp4"), video_);
  EXPECT_EQ(entry("manifest.sig").size(), 64u);
  EXPECT_EQ(entry("signer.pem"), storage::publicKeyPem(key_.publicKey()));
  const std::string events = entry("events.jsonl");
  EXPECT_NE(events.find("net user admin"), std::string::npos) << events;
  EXPECT_NE(entry("VERIFY.txt").find("openssl pkeyutl -verify"), std::string::npos);
  zip_close(z);

  // It verifies with nothing but the zip, pinned to the deployment key.
  auto r = storage::verifyBundle(zip.string(), &key_.publicKey());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->verified) << r->detail;
  EXPECT_TRUE(r->complete) << r->detail;
}

}  // namespace
}  // namespace vigil::gateway::api::testing
