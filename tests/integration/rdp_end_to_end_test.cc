// The RDP path end to end, with real parts only: FreeRDP clients (the
// gateway's own RdpClient library, and the real xfreerdp driven by xdotool)
// through `vigil serve` to freerdp-shadow-cli sharing an Xvfb desktop
// (openbox + xterm), a real Redis, and the `vigil` commands a user would run
// afterwards (search, events, sessions, export).
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "codecs/video_reader.h"
#include "core/clock.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/integration/rdp_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;

constexpr char kLogin[] = "vendor1#desk-rdp";

std::string uniqueMarker(const std::string& prefix = "rdpmark") {
  std::random_device rd;
  return prefix + std::to_string(rd() % 900000 + 100000);
}

Result<std::unique_ptr<GatewayFixture>> startFixture(std::string extra_gateway_toml = {}) {
  FixtureOptions o;
  o.rdp_target = true;
  o.extra_gateway_toml = std::move(extra_gateway_toml);
  return GatewayFixture::start(o);
}

RdpTestClient::Options login(const GatewayFixture& f, const std::string& user = kLogin,
                             const std::string& password = GatewayFixture::kVendorPassword) {
  RdpTestClient::Options o;
  o.port = f.rdpPort();
  o.username = user;
  o.password = password;
  return o;
}

nlohmann::json sessionsJson(const GatewayFixture& f) {
  nlohmann::json j = f.vigilJson({"sessions", "--limit", "1000"});
  return j.is_object() ? j["sessions"] : nlohmann::json::array();
}

// The newest admitted (not refused) session on the RDP target.
nlohmann::json newestAdmitted(const GatewayFixture& f) {
  for (const auto& s : sessionsJson(f))
    if (s.value("target", "") == GatewayFixture::kRdpTarget &&
        s.value("end_reason", "").rfind("refused", 0) != 0)
      return s;
  return nlohmann::json::object();
}

std::string sessionState(const GatewayFixture& f, const std::string& id) {
  for (const auto& s : sessionsJson(f))
    if (s.value("id", "") == id) return s.value("state", "");
  return "";
}

nlohmann::json searchHits(const GatewayFixture& f, const std::string& query) {
  nlohmann::json r = f.vigilJson({"search", query, "--limit", "1000"});
  return r.is_object() ? r["hits"] : nlohmann::json::array();
}

// The first hit whose text holds `needle`, polled for up to `timeout`.
// *found_by is when the search that returned it started (epoch ms).
nlohmann::json awaitHit(const GatewayFixture& f, const std::string& query, const std::string& needle,
                        std::chrono::milliseconds timeout, EpochMillis* found_by = nullptr) {
  nlohmann::json hit;
  testbed::waitFor([&] {
    const EpochMillis asked = epochNowMs();
    for (const auto& h : searchHits(f, query)) {
      if (h.value("text", "").find(needle) == std::string::npos) continue;
      hit = h;
      if (found_by) *found_by = asked;
      return true;
    }
    return false;
  }, timeout, 100ms);
  return hit;
}

TEST(RdpEndToEnd, LibraryClientLineRunsIsSearchableAndRecorded) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  auto client = RdpTestClient::connect(login(f));
  ASSERT_TRUE(client.ok()) << client.message() << "\n" << f.gatewayLog();
  RdpTestClient& c = **client;
  ASSERT_TRUE(testbed::waitFor([&] { return c.updates() > 0; }, 20s)) << f.gatewayLog();
  EXPECT_EQ(c.width(), 1280);
  EXPECT_EQ(c.height(), 800);
  EXPECT_EQ(f.rdpTargetConnections(), 1);

  nlohmann::json live = newestAdmitted(f);
  ASSERT_EQ(live.value("state", ""), "live") << live.dump();
  EXPECT_EQ(live["user"], "vendor1");
  EXPECT_EQ(live["protocol"], "rdp");
  const std::string id = live["id"];
  const EpochMillis started = *parseRfc3339(live["started_at"].get<std::string>());

  f.focusTerminal();
  const std::string marker = uniqueMarker();
  const std::string proof = f.dir() + "/" + marker + ".txt";
  const std::string line = "echo " + marker + " > " + proof;
  const EpochMillis typed_at = epochNowMs();
  ASSERT_TRUE(c.typeText(line));
  const EpochMillis enter_at = epochNowMs();
  ASSERT_TRUE(c.typeText("\n"));

  // Searchable within 2 s of Enter, stamped when typing began (±1 s).
  EpochMillis found_by = 0;
  nlohmann::json hit = awaitHit(f, marker, marker, 6s, &found_by);
  ASSERT_FALSE(hit.is_null()) << "search found nothing for " << marker << "\n" << f.gatewayLog();
  std::printf("[ metrics ] searchable %lld ms after Enter; t_ms %lld vs typed at %lld\n",
              static_cast<long long>(found_by - enter_at), hit["t_ms"].get<long long>(),
              static_cast<long long>(typed_at - started));
  EXPECT_LE(found_by - enter_at, 2000) << "the line was not searchable within 2 s of Enter";
  EXPECT_EQ(hit["kind"], "key");
  EXPECT_EQ(hit["text"], line) << hit.dump();
  EXPECT_EQ(hit["session_id"], id);
  EXPECT_EQ(hit["user"], "vendor1");
  EXPECT_EQ(hit["target"], GatewayFixture::kRdpTarget);
  EXPECT_NEAR(hit["t_ms"].get<double>(), static_cast<double>(typed_at - started), 1000.0);

  // The line ran on the server.
  EXPECT_TRUE(testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 15s))
      << "the typed command did not run on the server";

  // The recording's last frame is the server's screen.
  std::this_thread::sleep_for(1500ms);
  auto server_screen = f.display().screenshot();
  ASSERT_TRUE(server_screen.ok()) << server_screen.message();
  const double client_db = codecs::psnr(c.snapshot(), *server_screen);
  c.disconnect();
  ASSERT_TRUE(testbed::waitFor([&] { return sessionState(f, id) == "ended"; }, 15s)) << f.gatewayLog();

  const std::string out = f.dir() + "/export.mp4";
  VigilRun ex = f.vigil({"export", id, out});
  ASSERT_EQ(ex.exit_code, 0) << ex.out;
  auto info = codecs::probe(out);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_EQ(info->codec, "h264");
  EXPECT_EQ(info->width, 1280);
  EXPECT_EQ(info->height, 800);
  auto last = codecs::decodeLastFrame(out);
  ASSERT_TRUE(last.ok()) << last.message();
  const double db = codecs::psnr(*last, *server_screen);
  std::printf("[ metrics ] recording last frame PSNR %.1f dB, client screen PSNR %.1f dB\n", db, client_db);
  EXPECT_GE(db, 35.0) << "the recording's last frame differs from the server's screen";
  EXPECT_GE(client_db, 35.0) << "the client's screen differs from the server's";

  // The events tell the story; the client never saw the vaulted password.
  nlohmann::json ev = f.vigilJson({"events", id});
  ASSERT_TRUE(ev.is_object());
  std::string lifecycle;
  bool key_line = false;
  for (const auto& e : ev["events"]) {
    if (e["kind"] == "lifecycle") lifecycle += e["text"].get<std::string>() + "\n";
    if (e["kind"] == "key" && e["text"] == line) key_line = true;
  }
  EXPECT_TRUE(key_line) << ev.dump();
  EXPECT_FALSE(lifecycle.empty());
  EXPECT_EQ(f.gatewayLog().find("tgt-rdp-pw9"), std::string::npos) << "vaulted password in the log";
}

TEST(RdpEndToEnd, RefusalsMakeNoTargetConnection) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  EXPECT_FALSE(RdpTestClient::connect(login(f, kLogin, "not-the-password")).ok());
  EXPECT_FALSE(RdpTestClient::connect(login(f, "vendor1#no-such-target")).ok());
  EXPECT_EQ(f.rdpTargetConnections(), 0) << "a refused client made the gateway connect the target";
  EXPECT_EQ(f.targetConnections(), 0);

  int refused = 0;
  std::string reasons;
  // Refusals are listed apart from sessions (`vigil sessions --refused`).
  nlohmann::json listed = f.vigilJson({"sessions", "--refused"});
  ASSERT_TRUE(listed.is_object()) << listed.dump();
  for (const auto& s : listed["sessions"]) {
    const std::string r = s.value("end_reason", "");
    if (r.rfind("refused", 0) == 0) {
      ++refused;
      reasons += r + "\n";
    }
  }
  EXPECT_GE(refused, 2) << reasons;
  EXPECT_NE(f.gatewayLog().find("refus"), std::string::npos);

  // The same gateway admits the right password (the refusals were not an outage).
  auto ok = RdpTestClient::connect(login(f));
  ASSERT_TRUE(ok.ok()) << ok.message() << "\n" << f.gatewayLog();
  EXPECT_TRUE(testbed::waitFor([&] { return (*ok)->updates() > 0; }, 20s));
  EXPECT_EQ(f.rdpTargetConnections(), 1);
}

TEST(RdpEndToEnd, KillDashNineKeepsAPlayableRecordingAndTheLine) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  auto client = RdpTestClient::connect(login(f));
  ASSERT_TRUE(client.ok()) << client.message() << "\n" << f.gatewayLog();
  RdpTestClient& c = **client;
  ASSERT_TRUE(testbed::waitFor([&] { return c.updates() > 0; }, 20s));
  nlohmann::json live = newestAdmitted(f);
  ASSERT_EQ(live.value("state", ""), "live");
  const std::string id = live["id"];

  f.focusTerminal();
  const std::string marker = uniqueMarker("rdpkill");
  ASSERT_TRUE(c.typeText("echo " + marker + "\n"));
  // Keep the screen changing for a few seconds so fragments get written.
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(c.typeText("ls /\n"));
    std::this_thread::sleep_for(500ms);
  }

  const EpochMillis killed_at = epochNowMs();
  f.killGateway();
  EXPECT_TRUE(testbed::waitFor([&] { return c.disconnected(); }, 15s))
      << "the client did not notice the gateway's death";

  // The recording plays up to (nearly) the crash.
  const std::string video = f.recordingsDir() + "/" + id + ".mp4";
  // Sealed on disk (encryption at rest is the default): unreadable without
  // the gateway's key, the same video with it.
  EXPECT_FALSE(codecs::probe(video).ok()) << "the recording is not encrypted on disk";
  auto info = codecs::probe(video, f.recordingKeys());
  ASSERT_TRUE(info.ok()) << info.message();
  std::printf("[ metrics ] after kill -9: %lld frames, %lld ms\n", info->frame_count,
              static_cast<long long>(info->duration_ms));
  EXPECT_GT(info->frame_count, 1);
  EXPECT_GE(info->duration_ms, 1000);
  EXPECT_TRUE(codecs::decodeLastFrame(video, f.recordingKeys()).ok());
  const std::string out = f.dir() + "/crash.mp4";
  EXPECT_EQ(f.vigil({"export", id, out}).exit_code, 0);
  EXPECT_TRUE(codecs::probe(out).ok());

  // The line typed before the crash is searchable.
  nlohmann::json hits = searchHits(f, marker);
  ASSERT_FALSE(hits.empty()) << "the line typed before the crash is lost";
  EXPECT_EQ(hits[0]["text"], "echo " + marker);
  EXPECT_EQ(hits[0]["session_id"], id);

  // A restarted node marks the interrupted session ended, at the last thing
  // it recorded (not at the restart, here >= 3 s after the crash).
  std::this_thread::sleep_for(3s);
  ASSERT_TRUE(f.startGateway().ok());
  EXPECT_EQ(sessionState(f, id), "ended");
  nlohmann::json ended;
  for (const auto& s : sessionsJson(f))
    if (s.value("id", "") == id) ended = s;
  ASSERT_TRUE(ended.contains("ended_at") && ended["ended_at"].is_string()) << ended.dump();
  const EpochMillis ended_at = *parseRfc3339(ended["ended_at"].get<std::string>());
  std::printf("[ metrics ] recovered session ended %lld ms from the crash (duration %lld ms)\n",
              static_cast<long long>(ended_at - killed_at), ended.value("duration_ms", 0LL));
  EXPECT_LE(ended_at, killed_at + 1000) << "the recovered session ends at the restart, not at the crash";
  EXPECT_GE(ended_at, killed_at - 3000) << "the recovered session ends long before the crash";
}

TEST(RdpEndToEnd, RealXfreerdpLineIsRecordedAndSearchable) {
  auto fx = startFixture();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  auto client_display = testbed::XDisplay::start(1366, 900, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  const testbed::XDisplay& cd = **client_display;
  const std::string xlog = f.dir() + "/xfreerdp.log";
  auto xfreerdp = cd.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(f.rdpPort()),
                            std::string("/u:") + kLogin,
                            std::string("/p:") + GatewayFixture::kVendorPassword, "/cert:ignore",
                            "/size:1280x800", "-grab-keyboard"},
                           xlog);
  ASSERT_TRUE(xfreerdp.ok()) << xfreerdp.message();

  nlohmann::json live;
  ASSERT_TRUE(testbed::waitFor([&] {
    live = newestAdmitted(f);
    return live.value("state", "") == "live";
  }, 30s, 250ms)) << testbed::readFile(xlog) << "\n" << f.gatewayLog();
  const std::string id = live["id"];
  const EpochMillis started = *parseRfc3339(live["started_at"].get<std::string>());

  std::string wid;
  ASSERT_TRUE(testbed::waitFor([&] {
    wid.clear();
    auto rc = cd.run({"xdotool", "search", "--name", "FreeRDP"}, &wid);
    return rc.ok() && *rc == 0 && !wid.empty();
  }, 20s, 200ms)) << testbed::readFile(xlog);
  wid = wid.substr(0, wid.find('\n'));
  f.focusTerminal();
  ASSERT_TRUE(cd.run({"xdotool", "windowfocus", "--sync", wid}).ok());
  // Click inside the xterm (at +60+60 on the server's screen).
  ASSERT_TRUE(cd.run({"xdotool", "mousemove", "--window", wid, "300", "200", "click", "1"}).ok());
  std::this_thread::sleep_for(300ms);

  const std::string marker = uniqueMarker("xfrdp");
  const std::string proof = f.dir() + "/" + marker + ".txt";
  const std::string line = "echo " + marker + " > " + proof;
  const EpochMillis typed_at = epochNowMs();
  ASSERT_TRUE(cd.run({"xdotool", "type", "--delay", "40", line}).ok());
  ASSERT_TRUE(cd.run({"xdotool", "key", "Return"}).ok());

  nlohmann::json hit = awaitHit(f, marker, marker, 6s);
  ASSERT_FALSE(hit.is_null()) << "search found nothing for " << marker << "\n" << testbed::readFile(xlog);
  EXPECT_EQ(hit["text"], line) << hit.dump();
  EXPECT_EQ(hit["session_id"], id);
  EXPECT_EQ(hit["kind"], "key");
  EXPECT_NEAR(hit["t_ms"].get<double>(), static_cast<double>(typed_at - started), 1500.0);
  EXPECT_TRUE(testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 15s))
      << "typed through xfreerdp, nothing ran on the server";
}

// Ten clients at once for a minute, each typing its own lines every few
// seconds. The keys all land on the one shared desktop (a sink window that
// discards them), so what is checked is the gateway's record: every line of
// every client is a `key` event of that client's own session, and searchable.
TEST(RdpEndToEnd, TenConcurrentSessionsForAMinuteAccountForEveryLine) {
  constexpr int kClients = 10;
  constexpr auto kDuration = 60s;
  constexpr auto kPeriod = 4s;
  // All ten handshake at once from 127.0.0.1: past the default cap of
  // connections still handshaking from one address (8).
  auto fx = startFixture("max_unauthenticated_per_address = 16\n");
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  // Keystrokes go to a window that throws them away, never to a shell.
  auto sink = f.display().spawn({"xterm", "-T", "vigil-sink", "-geometry", "80x12+640+420", "-e", "sh",
                                 "-c", "cat > /dev/null"});
  ASSERT_TRUE(sink.ok()) << sink.message();
  std::string sink_win;
  ASSERT_TRUE(testbed::waitFor([&] {
    sink_win.clear();
    auto rc = f.display().run({"xdotool", "search", "--name", "vigil-sink"}, &sink_win);
    return rc.ok() && *rc == 0 && !sink_win.empty();
  }, 20s, 200ms));
  sink_win = sink_win.substr(0, sink_win.find('\n'));
  ASSERT_TRUE(f.display().run({"xdotool", "windowactivate", "--sync", sink_win}).ok());

  std::vector<std::unique_ptr<RdpTestClient>> clients(kClients);
  {
    std::vector<std::thread> connecting;
    std::vector<std::string> errors(kClients);
    for (int i = 0; i < kClients; ++i)
      connecting.emplace_back([&, i] {
        auto o = login(f);
        auto c = RdpTestClient::connect(o);
        if (c.ok()) clients[i] = std::move(*c);
        else errors[i] = c.message();
      });
    for (auto& t : connecting) t.join();
    for (int i = 0; i < kClients; ++i)
      ASSERT_TRUE(clients[i]) << "client " << i << ": " << errors[i] << "\n" << f.gatewayLog();
  }
  ASSERT_TRUE(testbed::waitFor([&] {
    for (auto& c : clients) if (c->updates() == 0) return false;
    return true;
  }, 30s)) << "not every client got the screen";
  EXPECT_EQ(f.rdpTargetConnections(), kClients);

  std::random_device rd;
  const std::string run = "vc" + std::to_string(rd() % 9000 + 1000);
  std::vector<std::vector<std::string>> typed(kClients);
  std::atomic<int> failures{0};
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> typists;
    for (int i = 0; i < kClients; ++i)
      typists.emplace_back([&, i] {
        // Staggered so the clients' lines overlap in time on the desktop.
        std::this_thread::sleep_for(i * (kPeriod / kClients));
        for (int n = 0; std::chrono::steady_clock::now() - t0 < kDuration - 2s; ++n) {
          const auto slot = std::chrono::steady_clock::now();
          char buf[64];
          std::snprintf(buf, sizeof buf, "%sc%dn%02d typed by client %d", run.c_str(), i, n, i);
          if (!clients[i]->typeText(std::string(buf) + "\n")) {
            ++failures;
            return;
          }
          typed[i].push_back(buf);
          std::this_thread::sleep_until(slot + kPeriod);
        }
      });
    for (auto& t : typists) t.join();
  }
  ASSERT_EQ(failures.load(), 0) << "a client lost its connection while typing\n" << f.gatewayLog();
  for (int i = 0; i < kClients; ++i)
    EXPECT_EQ(clients[i]->disconnected(), false) << "client " << i << " was disconnected";

  // Each client's lines are in one session of its own, all of them, once.
  int total = 0, found = 0;
  std::set<std::string> sessions;
  for (int i = 0; i < kClients; ++i) {
    SCOPED_TRACE("client " + std::to_string(i));
    const std::string prefix = run + "c" + std::to_string(i) + "n";
    std::multiset<std::string> hit_texts;
    std::set<std::string> hit_sessions;
    std::string hits_seen;  // for the failure message
    testbed::waitFor([&] {
      hit_texts.clear();
      hit_sessions.clear();
      hits_seen.clear();
      for (const auto& h : searchHits(f, prefix)) {
        hit_texts.insert(h.value("text", ""));
        hit_sessions.insert(h.value("session_id", ""));
        hits_seen += "\n  " + h.value("session_id", "") + " " + h.value("kind", "") + " " +
                     h.value("text", "");
      }
      return hit_texts.size() >= typed[i].size();
    }, 5s, 250ms);
    ASSERT_EQ(hit_sessions.size(), 1u)
        << "client " << i << "'s lines are spread over sessions:" << hits_seen;
    const std::string sid = *hit_sessions.begin();
    sessions.insert(sid);

    nlohmann::json ev = f.vigilJson({"events", sid, "--kind", "key"});
    ASSERT_TRUE(ev.is_object());
    std::multiset<std::string> event_texts;
    for (const auto& e : ev["events"]) event_texts.insert(e.value("text", ""));
    for (const std::string& line : typed[i]) {
      ++total;
      const bool searched = hit_texts.count(line) == 1, recorded = event_texts.count(line) == 1;
      found += searched && recorded;
      EXPECT_TRUE(searched) << "not searchable (exactly once): " << line;
      EXPECT_TRUE(recorded) << "not a key event (exactly once) of session " << sid << ": " << line;
    }
    EXPECT_EQ(hit_texts.size(), typed[i].size()) << "extra or garbled lines in the search";
  }
  EXPECT_EQ(sessions.size(), static_cast<std::size_t>(kClients));
  std::printf("[ metrics ] %d concurrent sessions, %d lines typed, %d accounted for\n", kClients, total,
              found);
  EXPECT_GE(total, kClients * 10);

  for (auto& c : clients) c->disconnect();
  EXPECT_TRUE(testbed::waitFor([&] {
    for (const auto& s : sessionsJson(f))
      if (s.value("target", "") == GatewayFixture::kRdpTarget && s.value("state", "") == "live") return false;
    return true;
  }, 20s)) << "sessions still live after every client left";
}

}  // namespace
}  // namespace vigil::integration
