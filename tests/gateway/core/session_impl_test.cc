// The Session against an in-memory store and a real recorder.
#include "gateway/session_impl.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/clock.h"
#include "core/config.h"
#include "gateway/rules/rule_set.h"
#include "gateway/gateway_sessions.h"
#include "storage/evidence_verify.h"
#include "storage/memory_store.h"
#include "storage/signing_key.h"
#include "storage/redis_store.h"
#include "tests/storage/redis_server.h"
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
    (void)s->input(ClipboardInput{"flood " + std::to_string(i), Direction::ClientToServer});
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

// Rules: masks before any sink, alerts into the store's alert list,
// terminate holding back the Enter of a typed line.
class RecordingRelay final : public Relay {
 public:
  void close(const std::string& reason) override {
    std::lock_guard lock(mu);
    closed.push_back(reason);
  }
  void refreshScreen() override {}
  std::mutex mu;
  std::vector<std::string> closed;
};

class LiveViewer final : public EventSink {
 public:
  void onEvent(const Event& e) override {
    std::lock_guard lock(mu);
    seen.push_back(e);
  }
  std::mutex mu;
  std::vector<Event> seen;
};

class SessionRulesTest : public SessionImplTest {
 protected:
  void SetUp() override {
    SessionImplTest::SetUp();
    Config c = Config::parse(R"(
[[rules]]
name = "mask -p password"
match = '(?:^|\s)-p(\S+)'
kinds = ["key"]
action = "mask"

[[rules]]
name = "mask token"
match = 'tok_[A-Za-z0-9]+'
action = "mask"

[[rules]]
name = "mysql as root"
match = 'mysql -u root \S+'
kinds = ["key"]
action = "alert"
severity = "low"

[[rules]]
name = "shutdown"
match = '(?i)\bshutdown\s+/s'
kinds = ["key"]
users = ["vendor*"]
action = "terminate"
severity = "critical"

[[rules]]
name = "secret on clipboard"
match = 'tok_\w+'
kinds = ["clipboard"]
action = "alert"
severity = "high"

[[rules]]
name = "private key on clipboard"
match = 'BEGIN [A-Z ]*PRIVATE KEY'
kinds = ["clipboard"]
action = "terminate"
severity = "critical"

[[rules]]
name = "only for others"
match = 'dir'
users = ["alice"]
action = "terminate"
)", "rules.toml");
    auto set = rules::RuleSet::compile(c.rules);
    ASSERT_TRUE(set.ok()) << set.message();
    rules_ = std::move(set.value());
  }
  std::shared_ptr<SessionImpl> openWithRules(const std::string& id) {
    storage::SessionRecord rec;
    rec.id = id;
    rec.user = "vendor1";
    rec.target = "dc01";
    rec.state = "live";
    rec.video_path = id + ".mp4";
    SessionDeps deps{store_, nullptr, dir_, {}, {}, nullptr, nullptr, {}, &rules_};
    auto s = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? *s : nullptr;
  }
  // Types `line` and Enter; returns whether the Enter's key-down was relayed.
  bool typeLine(SessionImpl& s, const std::string& line) {
    for (char c : line) {
      EXPECT_TRUE(s.input(KeyInput{static_cast<unsigned char>(c), true})) << c;
      EXPECT_TRUE(s.input(KeyInput{static_cast<unsigned char>(c), false})) << c;
    }
    const bool relayed = s.input(KeyInput{0xff0d, true});
    (void)s.input(KeyInput{0xff0d, false});
    return relayed;
  }
  std::string everythingStored(const std::string& id) {
    std::string all;
    auto evs = store_.events(id, {});
    for (const Event& e : evs.ok() ? *evs : std::vector<Event>{}) all += e.text + "\n" + e.window + "\n";
    auto alerts = store_.alerts(0, 1000);
    for (const auto& a : alerts.ok() ? *alerts : std::vector<storage::AlertRecord>{}) all += a.text + "\n";
    auto rec = store_.getSession(id);
    if (rec.ok() && rec->has_value()) all += (*rec)->end_reason;
    return all;
  }
  rules::RuleSet rules_;
};

TEST_F(SessionRulesTest, MaskedTextReachesNoSinkAndNoStore) {
  auto s = openWithRules("s-mask");
  ASSERT_TRUE(s);
  LiveViewer viewer;
  s->subscribe(nullptr, &viewer);
  EXPECT_TRUE(typeLine(*s, "mysql -u root -pHunter2 prod"));
  (void)s->input(ClipboardInput{"key tok_Zq9Secret here", Direction::ClientToServer});
  (void)s->input(ClipboardInput{"back tok_Zq9Secret", Direction::ServerToClient});
  s->unsubscribe(nullptr, &viewer);
  s->finish("client disconnected");

  const auto keys = events("s-mask", EventKind::Key);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].text, "mysql -u root -p[masked] prod");
  const auto clips = events("s-mask", EventKind::Clipboard);
  ASSERT_EQ(clips.size(), 2u);
  EXPECT_EQ(clips[0].text, "key [masked] here");
  EXPECT_EQ(clips[1].text, "back [masked]");
  // Masking keeps which way the text went (CONTRACT.md: "direction").
  EXPECT_EQ(clips[0].direction, Direction::ClientToServer);
  EXPECT_EQ(clips[1].direction, Direction::ServerToClient);
  const std::string all = everythingStored("s-mask");
  EXPECT_EQ(all.find("Hunter2"), std::string::npos) << all;
  EXPECT_EQ(all.find("Zq9Secret"), std::string::npos) << all;
  for (const Event& e : viewer.seen) {
    EXPECT_EQ(e.text.find("Hunter2"), std::string::npos) << e.text;
    EXPECT_EQ(e.text.find("Zq9Secret"), std::string::npos) << e.text;
  }
  // Search finds the line by its other words, never by the secret.
  auto hits = store_.search("mysql prod", {});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 1u);
  auto secret = store_.search("Hunter2", {});
  ASSERT_TRUE(secret.ok());
  EXPECT_TRUE(secret->empty());
}

TEST_F(SessionRulesTest, AlertsAreEventsAndListedAcrossSessions) {
  auto s = openWithRules("s-alert");
  ASSERT_TRUE(s);
  EXPECT_TRUE(typeLine(*s, "mysql -u root -pHunter2"));
  (void)s->input(ClipboardInput{"tok_abc", Direction::ServerToClient});
  s->tick(epochNowMs());  // alerts go to the store on the ticker
  auto listed = store_.alerts(0, 100);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  s->finish("client disconnected");

  const auto alerts = events("s-alert", EventKind::Alert);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0].text, "mysql as root: mysql -u root -p[masked]");
  EXPECT_EQ(alerts[1].text, "secret on clipboard: [masked]");
  // The fields of GET /api/alerts (both raised in the same millisecond, maybe).
  const bool first_is_mysql = (*listed)[0].rule == "mysql as root";
  const storage::AlertRecord& a = (*listed)[first_is_mysql ? 0 : 1];
  EXPECT_EQ(a.session_id, "s-alert");
  EXPECT_EQ(a.rule, "mysql as root");
  EXPECT_EQ(a.severity, "low");
  EXPECT_EQ(a.text, "mysql as root: mysql -u root -p[masked]");
  EXPECT_EQ(a.user, "vendor1");
  EXPECT_EQ(a.target, "dc01");
  EXPECT_EQ(a.t_ms, alerts[0].t_ms);
  EXPECT_GT(a.at, 0);
  EXPECT_EQ((*listed)[first_is_mysql ? 1 : 0].rule, "secret on clipboard");
  EXPECT_GE((*listed)[0].at, (*listed)[1].at);  // newest first
  EXPECT_FALSE(s->terminated());
}

TEST_F(SessionRulesTest, TerminateHoldsBackTheEnterAndEndsTheSession) {
  auto s = openWithRules("s-term");
  ASSERT_TRUE(s);
  RecordingRelay relay;
  s->attach(&relay);
  EXPECT_TRUE(typeLine(*s, "dir"));  // a rule for another user does nothing here
  EXPECT_FALSE(typeLine(*s, "shutdown /s /t 0")) << "the Enter reached the target";
  EXPECT_TRUE(s->terminated());
  EXPECT_FALSE(s->input(KeyInput{0xff0d, true})) << "input after the termination was relayed";
  EXPECT_FALSE(s->input(PointerInput{1, 1, 1}));
  {
    std::lock_guard lock(relay.mu);
    ASSERT_EQ(relay.closed.size(), 1u);
    EXPECT_EQ(relay.closed[0], "terminated by rule \"shutdown\"");
  }
  s->finish("terminated by rule \"shutdown\"");
  const auto alerts = events("s-term", EventKind::Alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].text, "shutdown: shutdown /s");
  auto listed = store_.alerts(0, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].severity, "critical");
  auto rec = store_.getSession("s-term");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ((*rec)->end_reason, "terminated by rule \"shutdown\"");
}

// CONTRACT.md: a `clipboard` match acts within 1 s. It acts on the input
// that carried the text: the relay is told to close before input() returns.
TEST_F(SessionRulesTest, AClipboardTerminateActsWithinASecond) {
  auto s = openWithRules("s-clipterm");
  ASSERT_TRUE(s);
  RecordingRelay relay;
  s->attach(&relay);
  const auto t0 = std::chrono::steady_clock::now();
  (void)s->input(ClipboardInput{"-----BEGIN OPENSSH PRIVATE KEY-----", Direction::ServerToClient});
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
    {
      std::lock_guard lock(relay.mu);
      closed = !relay.closed.empty();
    }
    if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(closed) << "the session was not ended";
  EXPECT_LE(ms.count(), 1000);
  EXPECT_TRUE(s->terminated());
  {
    std::lock_guard lock(relay.mu);
    EXPECT_EQ(relay.closed[0], "terminated by rule \"private key on clipboard\"");
  }
  s->finish("terminated by rule \"private key on clipboard\"");
  const auto alerts = events("s-clipterm", EventKind::Alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].text.rfind("private key on clipboard: ", 0), 0u) << alerts[0].text;
}

TEST_F(SessionRulesTest, TerminateOnACommandSplitByAPause) {
  auto s = openWithRules("s-split");
  ASSERT_TRUE(s);
  RecordingRelay relay;
  s->attach(&relay);
  for (char c : std::string("shutdown")) {
    EXPECT_TRUE(s->input(KeyInput{static_cast<unsigned char>(c), true}));
    EXPECT_TRUE(s->input(KeyInput{static_cast<unsigned char>(c), false}));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  s->tick(epochNowMs());  // idle: "shutdown" is a line of its own, matching nothing
  EXPECT_FALSE(s->terminated());
  EXPECT_FALSE(typeLine(*s, " /s")) << "the Enter of the whole command reached the target";
  EXPECT_TRUE(s->terminated());
  s->finish("terminated by rule \"shutdown\"");
  const auto alerts = events("s-split", EventKind::Alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].text, "shutdown: shutdown /s");
}

// [masking] password_windows: the test stands in for the title tracker
// (SessionImpl::frontTitle, what the OCR reading calls). A line finished
// while a credentials prompt is in front is "[masked]" whole in every sink;
// rules still act on it, their alert masked too; lines before and after, in
// other windows, are kept.
TEST_F(SessionRulesTest, LineTypedInPasswordWindowIsMaskedWhole) {
  auto s = openWithRules("s-pwwin");
  ASSERT_TRUE(s);
  LiveViewer viewer;
  s->subscribe(nullptr, &viewer);
  s->frontTitle("Administrator: Command Prompt");
  EXPECT_TRUE(typeLine(*s, "runas /user:eve cmd"));
  s->frontTitle("Enter the password for eve");
  EXPECT_TRUE(typeLine(*s, "Pw-Zq9-runas"));
  s->frontTitle("Windows Security");
  EXPECT_TRUE(typeLine(*s, "mysql -u root Pw-Zq9-mysql"));
  s->frontTitle("Administrator: Command Prompt");
  EXPECT_TRUE(typeLine(*s, "whoami"));
  s->tick(epochNowMs());
  s->unsubscribe(nullptr, &viewer);
  s->finish("client disconnected");

  const auto keys = events("s-pwwin", EventKind::Key);
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[0].text, "runas /user:eve cmd");
  EXPECT_EQ(keys[1].text, "[masked]");
  EXPECT_EQ(keys[1].window, "Enter the password for eve");
  EXPECT_EQ(keys[2].text, "[masked]");
  EXPECT_EQ(keys[3].text, "whoami");
  const auto alerts = events("s-pwwin", EventKind::Alert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].text, "mysql as root: [masked]");
  const std::string all = everythingStored("s-pwwin");
  EXPECT_EQ(all.find("Pw-Zq9"), std::string::npos) << all;
  std::lock_guard lock(viewer.mu);
  ASSERT_GE(viewer.seen.size(), 4u);
  for (const Event& e : viewer.seen) EXPECT_EQ(e.text.find("Pw-Zq9"), std::string::npos) << e.text;
  for (const char* q : {"Pw", "Zq9", "runas"}) {
    auto hits = store_.search(q, {});
    ASSERT_TRUE(hits.ok());
    for (const auto& h : *hits) EXPECT_EQ(h.event.text.find("Pw-Zq9"), std::string::npos) << h.event.text;
  }
}

// Masking in password windows does not need any [[rules]]; it can be turned off.
TEST_F(SessionRulesTest, PasswordWindowMaskingWithoutRulesAndOff) {
  for (const bool on : {true, false}) {
    auto set = rules::RuleSet::compile({}, MaskingConfig{on, kDefaultPasswordWindowTitles});
    ASSERT_TRUE(set.ok());
    rules_ = std::move(set.value());
    const std::string id = on ? "s-pw-on" : "s-pw-off";
    auto s = openWithRules(id);
    ASSERT_TRUE(s);
    s->frontTitle("sudo password for eve");
    EXPECT_TRUE(typeLine(*s, "Pw-Zq9-sudo"));
    s->finish("client disconnected");
    const auto keys = events(id, EventKind::Key);
    ASSERT_EQ(keys.size(), 1u);
    EXPECT_EQ(keys[0].text, on ? "[masked]" : "Pw-Zq9-sudo");
  }
}

// The same on a real Redis: the secret is nowhere in the database (events,
// search postings, vocabulary, key names, alerts, session record), checked
// on an uncompressed snapshot of the whole of it.
TEST_F(SessionRulesTest, MaskedSecretIsNowhereInRedis) {
  storage::testing::RedisServer redis(0, {"--rdbcompression", "no"});
  const std::string err = redis.start();
  ASSERT_EQ(err, "") << err;
  auto connected = storage::RedisStore::connect(redis.url());
  ASSERT_TRUE(connected.ok()) << connected.message();
  std::unique_ptr<storage::RedisStore> store = std::move(*connected);

  storage::SessionRecord rec;
  rec.id = "s-redis";
  rec.user = "vendor1";
  rec.target = "dc01";
  rec.state = "live";
  rec.video_path = "s-redis.mp4";
  SessionDeps deps{*store, nullptr, dir_, {}, {}, nullptr, nullptr, {}, &rules_};
  auto opened = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
  ASSERT_TRUE(opened.ok()) << opened.message();
  auto s = *opened;
  EXPECT_TRUE(typeLine(*s, "mysql -u root -pHunter2zz prod"));
  (void)s->input(ClipboardInput{"tok_Zq9Secretzz", Direction::ClientToServer});
  s->finish("client disconnected");

  auto keys = store->events("s-redis", {EventKind::Key});
  ASSERT_TRUE(keys.ok()) << keys.message();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].text, "mysql -u root -p[masked] prod");
  auto alerts = store->alerts(0, 10);
  ASSERT_TRUE(alerts.ok()) << alerts.message();
  ASSERT_EQ(alerts->size(), 2u);
  auto hits = store->search("Hunter2zz", {});
  ASSERT_TRUE(hits.ok()) << hits.message();
  EXPECT_TRUE(hits->empty());
  auto prefix = store->search("-pHunter", {});
  EXPECT_TRUE(!prefix.ok() || prefix->empty());

  ASSERT_EQ(redis.command("SAVE"), "OK");
  const std::string url = redis.url();
  const std::string sock = url.substr(std::string("unix://").size());
  const std::string rdb = std::filesystem::path(sock).parent_path() / "dump.rdb";
  std::ifstream in(rdb, std::ios::binary);
  ASSERT_TRUE(in) << rdb;
  const std::string dump((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(dump.find("[masked]"), std::string::npos) << "the snapshot holds no events";
  for (const char* secret : {"Hunter2zz", "hunter2zz", "Zq9Secretzz", "zq9secretzz"})
    EXPECT_EQ(dump.find(secret), std::string::npos) << secret << " is in Redis";
}

}  // namespace
}  // namespace vigil::gateway
