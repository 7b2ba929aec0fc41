// The Session against an in-memory store and a real recorder.
#include "gateway/session_impl.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "core/config.h"
#include "gateway/gateway_sessions.h"
#include "storage/evidence_verify.h"
#include "storage/memory_store.h"
#include "storage/signing_key.h"
#include "tests/testbed/testbed.h"

namespace vigil::gateway {
namespace {

class SessionImplTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testbed::makeTempDir("vigil-session-test");
    target_.name = "dc01";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::shared_ptr<SessionImpl> open(const std::string& id) {
    storage::SessionRecord rec;
    rec.id = id;
    rec.user = "vendor1";
    rec.target = "dc01";
    rec.state = "live";
    rec.video_path = id + ".mp4";
    SessionDeps deps{store_, nullptr, dir_, {}, {}};
    auto s = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? *s : nullptr;
  }
  std::vector<Event> events(const std::string& id, EventKind kind) {
    auto all = store_.events(id, {});
    EXPECT_TRUE(all.ok()) << all.message();
    std::vector<Event> out;
    for (const Event& e : all.ok() ? *all : std::vector<Event>{})
      if (e.kind == kind) out.push_back(e);
    return out;
  }

  std::string dir_;
  TargetConfig target_;
  storage::MemoryStore store_;
};

// The session's story names how the user got in, and for a one-time code,
// who issued it (issue 16: codes record who issued them).
TEST_F(SessionImplTest, AuthenticatedEventNamesWhoIssuedTheCode) {
  Config config;
  config.recordings_dir = dir_;
  config.node_id = "node-t";
  GatewaySessions sessions(config, store_, nullptr, nullptr);
  auto lifecycle = [&](const AccessGrant& g) {
    auto s = sessions.open(g, Protocol::Rdp, "10.0.0.9:50000");
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) return std::vector<std::string>{};
    const std::string id = (*s)->id();
    (*s)->finish("client disconnected");
    std::vector<std::string> texts;
    for (const Event& e : events(id, EventKind::Lifecycle)) texts.push_back(e.text);
    return texts;
  };
  const auto by_code =
      lifecycle(AccessGrant{"vendor1", &target_, "access code", std::nullopt, "security1"});
  ASSERT_GE(by_code.size(), 2u);
  EXPECT_EQ(by_code[0], "connect from 10.0.0.9:50000");
  EXPECT_EQ(by_code[1], "authenticated vendor1 by access code issued by security1");
  const auto by_password = lifecycle(AccessGrant{"vendor1", &target_, "password", std::nullopt});
  ASSERT_GE(by_password.size(), 2u);
  EXPECT_EQ(by_password[1], "authenticated vendor1 by password");
  sessions.shutdown(2000);
}

TEST_F(SessionImplTest, ASessionThatNeverShowedAFrameLeavesNoFile) {
  auto s = open("s-empty");
  ASSERT_TRUE(s);
  s->finish("target dc01 unreachable: connection refused");
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s-empty.mp4"));
  auto rec = store_.getSession("s-empty");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->video_path, "");
  EXPECT_EQ((*rec)->video_bytes, 0);
  EXPECT_EQ((*rec)->end_reason, "target dc01 unreachable: connection refused");
}

TEST_F(SessionImplTest, ASessionWithFramesKeepsItsRecording) {
  auto s = open("s-frames");
  ASSERT_TRUE(s);
  Frame f(320, 200);
  f.fill(f.bounds(), 0x336699);
  s->resized(320, 200);
  s->frame(f, DirtyRegion(f.bounds()));
  s->finish("client disconnected");
  EXPECT_GT(std::filesystem::file_size(dir_ + "/s-frames.mp4"), 0u);
  auto rec = store_.getSession("s-frames");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->video_path, "s-frames.mp4");
}

TEST_F(SessionImplTest, AClipboardFloodBecomesABurstOfEvents) {
  auto s = open("s-clip");
  ASSERT_TRUE(s);
  for (int i = 0; i < 2000; ++i)
    s->input(ClipboardInput{"flood " + std::to_string(i), Direction::ClientToServer});
  s->finish("client disconnected");
  const auto clips = events("s-clip", EventKind::Clipboard);
  EXPECT_GE(clips.size(), 1u);
  EXPECT_LE(clips.size(), 6u) << "2000 clipboard changes in a moment became as many events";
  EXPECT_EQ(clips.front().text, "flood 0");
  EXPECT_EQ(clips.back().text, "flood 1999") << "the change held back at the end was lost";
}

// The evidence observers (recorder tap, event writer, signing thread) on
// one session; also run under ThreadSanitizer.
TEST_F(SessionImplTest, ASessionWithEvidenceVerifiesAgainstItsFinalSignature) {
  const auto key = storage::SigningKey::fromSeed(std::array<std::uint8_t, 32>{3});
  storage::SessionRecord rec;
  rec.id = "s-evidence";
  rec.state = "live";
  rec.video_path = "s-evidence.mp4";
  SessionDeps deps{store_, nullptr, dir_, {}, {}, &store_, &key, std::chrono::milliseconds(200)};
  auto opened = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
  ASSERT_TRUE(opened.ok()) << opened.message();
  auto s = *opened;
  Frame f(320, 200);
  s->resized(320, 200);
  for (int i = 0; i < 20; ++i) {
    f.fill(Rect{0, (i * 10) % 200, 320, 10}, 0x101010u * static_cast<std::uint32_t>(i % 16));
    s->frame(f, DirtyRegion(f.bounds()));
    s->lifecycle("step " + std::to_string(i));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  s->finish("client disconnected");
  auto r = storage::verifySession(store_, store_, dir_, "s-evidence", key.publicKey());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->verified) << r->detail;
  EXPECT_TRUE(r->complete) << r->detail;
  EXPECT_EQ(r->fragment_bytes, std::filesystem::file_size(dir_ + "/s-evidence.mp4"));
}

}  // namespace
}  // namespace vigil::gateway
