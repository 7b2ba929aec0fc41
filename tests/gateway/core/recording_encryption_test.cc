// [recordings] encrypt through the real GatewaySessions (in-memory store, the
// real recorder): sessions are sealed under the state dir's current key, a
// rotation applies from the next session on without a restart, and a session
// whose key cannot be had is refused (fail closed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/config.h"
#include "gateway/gateway_sessions.h"
#include "storage/key_ring.h"
#include "storage/memory_store.h"
#include "storage/recording_reader.h"
#include "tests/testbed/testbed.h"

namespace vigil::gateway {
namespace {

namespace fs = std::filesystem;

class RecordingEncryptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testbed::makeTempDir("vigil-encrypt-test");
    config_.recordings_dir = dir_ + "/recordings";
    config_.state_dir = dir_ + "/state";
    config_.node_id = "n1";
    fs::create_directories(config_.recordings_dir);
    target_.name = "dc01";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Opens a session, shows one frame, ends it; returns its recording's path
  // (empty when the session was refused, with the reason in `refused`).
  std::string recordOne(GatewaySessions& sessions, std::string* refused = nullptr) {
    auto s = sessions.open(AccessGrant{"vendor1", &target_, "password", {}}, Protocol::Vnc,
                           "127.0.0.1:5000");
    if (!s.ok()) {
      if (refused) *refused = s.message();
      return "";
    }
    Frame f(320, 200);
    f.fill(f.bounds(), 0x336699);
    (*s)->resized(320, 200);
    (*s)->frame(f, DirtyRegion(f.bounds()));
    (*s)->finish("client disconnected");
    return config_.recordings_dir + "/" + (*s)->id() + ".mp4";
  }

  std::string dir_;
  Config config_;
  TargetConfig target_;
  storage::MemoryStore store_;
};

TEST_F(RecordingEncryptionTest, SessionsAreSealedAndARotationAppliesToTheNextOne) {
  ASSERT_TRUE(config_.recordings_encrypt);  // the default
  GatewaySessions sessions(config_, store_, nullptr, nullptr);
  const std::string first = recordOne(sessions);
  ASSERT_FALSE(first.empty());
  auto keys = storage::KeyRing::load(config_.state_dir);
  ASSERT_TRUE(keys.ok()) << keys.message();
  ASSERT_EQ(keys->ids(), std::vector<std::uint32_t>{1});
  {
    auto r = storage::RecordingReader::open(first, *keys);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE((*r)->sealed());
    EXPECT_TRUE((*r)->complete());
    EXPECT_EQ((*r)->keyId(), 1u);
    // video_bytes is the size on disk.
    auto rec = store_.getSession(fs::path(first).stem().string());
    ASSERT_TRUE(rec.ok() && rec->has_value());
    EXPECT_EQ(static_cast<std::uintmax_t>((*rec)->video_bytes), fs::file_size(first));
    EXPECT_FALSE(storage::RecordingReader::open(first, storage::KeyRing()).ok());
  }

  auto id = storage::KeyRing::rotate(config_.state_dir, config_.recordings_dir);
  ASSERT_TRUE(id.ok()) << id.message();
  const std::string second = recordOne(sessions);  // same GatewaySessions: no restart
  ASSERT_FALSE(second.empty());
  keys = storage::KeyRing::load(config_.state_dir);
  ASSERT_TRUE(keys.ok());
  auto r1 = storage::RecordingReader::open(first, *keys);
  auto r2 = storage::RecordingReader::open(second, *keys);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ((*r1)->keyId(), 1u);
  EXPECT_EQ((*r2)->keyId(), 2u);
}

TEST_F(RecordingEncryptionTest, NoKeyNoSession) {
  // A state dir inside the recordings dir: no key may be made there.
  config_.state_dir = config_.recordings_dir + "/state";
  GatewaySessions sessions(config_, store_, nullptr, nullptr);
  std::string refused;
  EXPECT_EQ(recordOne(sessions, &refused), "");
  EXPECT_NE(refused.find("cannot record session"), std::string::npos) << refused;
  EXPECT_NE(refused.find("inside the recordings dir"), std::string::npos) << refused;
  EXPECT_TRUE(sessions.live().empty());
  EXPECT_FALSE(fs::exists(config_.recordings_dir + "/state/recording-keys"));

  // An unreadable key file (damaged: not 32 bytes).
  config_.state_dir = dir_ + "/state";
  fs::create_directories(storage::KeyRing::folder(config_.state_dir));
  std::ofstream(storage::KeyRing::folder(config_.state_dir) + "/00000001.key") << "short";
  refused.clear();
  EXPECT_EQ(recordOne(sessions, &refused), "");
  EXPECT_NE(refused.find("not a 32-byte file"), std::string::npos) << refused;
}

TEST_F(RecordingEncryptionTest, EncryptFalseWritesAPlainMp4) {
  config_.recordings_encrypt = false;
  GatewaySessions sessions(config_, store_, nullptr, nullptr);
  const std::string path = recordOne(sessions);
  ASSERT_FALSE(path.empty());
  auto r = storage::RecordingReader::open(path, storage::KeyRing());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE((*r)->sealed());
  EXPECT_FALSE(fs::exists(storage::KeyRing::folder(config_.state_dir)));
}

}  // namespace
}  // namespace vigil::gateway
