// SessionEvidence and verifyEvidence with synthetic fragments and events:
// store failures, resent records and a crash's half-written sidecar line
// are not tampering; a deleted or resigned record is.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "storage/evidence_verify.h"
#include "storage/memory_store.h"
#include "storage/session_evidence.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A store whose writes can be made to fail, or to succeed while reporting a
// failure (a stalled Redis that ran the command after the client gave up).
class FlakyStore final : public MemoryStore {
 public:
  enum class Mode { Ok, Fail, AppliedButFailed };
  std::atomic<Mode> mode{Mode::Ok};
  Status putCheckpoint(const std::string& id, const std::string& json) override {
    if (mode == Mode::Fail) return Status::Error("store down");
    Status st = MemoryStore::putCheckpoint(id, json);
    if (mode == Mode::AppliedButFailed) return Status::Error("timed out");
    return st;
  }
};

class EvidenceVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil_evverify_XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    video_ = dir_ + "/s.mp4";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SessionEvidence> start() {
    return std::make_unique<SessionEvidence>(store_, key_, "s", [this] { return now_; },
                                             chainSidecarPath(video_), SessionEvidenceOptions{1h, 1h});
  }
  // A fragment as the recorder's tap gives it, appended to the "file" too.
  void fragment(SessionEvidence& ev, const std::string& data) {
    file_ += data;
    ev.onFragment(init_, reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
  }
  void events(SessionEvidence& ev, int n) {
    std::vector<Event> batch;
    for (int i = 0; i < n; ++i) {
      batch.push_back({now_, EventKind::Key, "line " + std::to_string(stored_.size()), {}});
      stored_.push_back(batch.back());
    }
    ev.onEventsStored(batch);
  }
  VerifyReport verify(bool with_sidecar = true) {
    auto recs = store_.checkpoints("s");
    EvidenceSources in;
    in.session_id = "s";
    in.store_records = *recs;
    if (with_sidecar) in.sidecar_records = readChainSidecar(video_);
    auto bytes = recordingBytesFromString(file_);
    in.recording = bytes.get();
    in.events = stored_;
    return verifyEvidence(in, key_.publicKey());
  }

  std::string dir_, video_;
  const std::string init_ = "ftyp....moov....";
  std::string file_ = init_;
  std::vector<Event> stored_;
  Millis now_ = 0;
  FlakyStore store_;
  SigningKey key_ = SigningKey::fromSeed(std::array<std::uint8_t, 32>{5});
};

// Signs now: finish() is the only way to force it from outside, so these
// tests use the interval thread only through finish and the final record;
// intermediate records come from a short interval.
TEST_F(EvidenceVerifyTest, AFailedStoreWriteIsCarriedInTheNextRecord) {
  auto ev = std::make_unique<SessionEvidence>(store_, key_, "s", [this] { return now_; },
                                              chainSidecarPath(video_), SessionEvidenceOptions{100ms, 100ms});
  fragment(*ev, std::string(1000, 'a'));
  events(*ev, 3);
  store_.mode = FlakyStore::Mode::Fail;
  std::this_thread::sleep_for(350ms);
  fragment(*ev, std::string(500, 'b'));
  events(*ev, 2);
  store_.mode = FlakyStore::Mode::AppliedButFailed;
  std::this_thread::sleep_for(350ms);
  fragment(*ev, std::string(700, 'c'));
  events(*ev, 1);
  store_.mode = FlakyStore::Mode::Ok;
  file_ += "mfra";
  ASSERT_TRUE(ev->finish("mfra").ok());
  const VerifyReport r = verify(false);  // the store alone
  EXPECT_TRUE(r.verified) << r.detail;
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.events, 6u);
  EXPECT_EQ(r.fragments, 5u);  // init, a, b, c, trailer
  EXPECT_EQ(r.fragment_bytes, file_.size());
  EXPECT_TRUE(verify(true).verified);
}

TEST_F(EvidenceVerifyTest, TheSidecarCoversWhatTheStoreNeverGot) {
  auto ev = start();
  fragment(*ev, std::string(1000, 'a'));
  events(*ev, 4);
  store_.mode = FlakyStore::Mode::Fail;
  ASSERT_FALSE(ev->finish("").ok());
  EXPECT_FALSE(verify(false).verified);  // nothing in the store
  const VerifyReport r = verify(true);
  EXPECT_TRUE(r.verified) << r.detail;
  EXPECT_TRUE(r.complete);
}

TEST_F(EvidenceVerifyTest, AHalfWrittenLastSidecarLineIsNotTampering) {
  auto ev = start();
  fragment(*ev, std::string(1000, 'a'));
  events(*ev, 2);
  ASSERT_TRUE(ev->finish("").ok());
  {
    std::ofstream out(chainSidecarPath(video_), std::ios::app);
    out << "{\"checkpoint\":{\"v\":1,\"subj";  // the crash cut this write
  }
  EXPECT_TRUE(verify(true).verified) << verify(true).detail;
}

TEST_F(EvidenceVerifyTest, ARecordSignedByAnotherKeyOrRemovedIsCaught) {
  auto ev = std::make_unique<SessionEvidence>(store_, key_, "s", [this] { return now_; },
                                              chainSidecarPath(video_), SessionEvidenceOptions{100ms, 100ms});
  fragment(*ev, std::string(1000, 'a'));
  events(*ev, 2);
  std::this_thread::sleep_for(300ms);
  events(*ev, 2);
  ASSERT_TRUE(ev->finish("").ok());
  auto recs = *store_.checkpoints("s");
  ASSERT_GE(recs.size(), 2u);
  // Another key re-signs the last record.
  auto last = ChainRecord::fromJson(recs.back());
  ASSERT_TRUE(last.ok());
  last->checkpoint.sign(SigningKey::fromSeed(std::array<std::uint8_t, 32>{6}));
  EvidenceSources in;
  in.session_id = "s";
  in.store_records = recs;
  in.store_records.back() = last->toJson();
  auto bytes = recordingBytesFromString(file_);
  in.recording = bytes.get();
  in.events = stored_;
  VerifyReport r = verifyEvidence(in, key_.publicKey());
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("signature"), std::string::npos) << r.detail;
  // The first record removed: the next does not follow.
  in.store_records = recs;
  in.store_records.erase(in.store_records.begin());
  r = verifyEvidence(in, key_.publicKey());
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("does not follow"), std::string::npos) << r.detail;
  // Another session's records.
  in.store_records = recs;
  in.session_id = "other";
  EXPECT_FALSE(verifyEvidence(in, key_.publicKey()).verified);
}

}  // namespace
}  // namespace vigil::storage
