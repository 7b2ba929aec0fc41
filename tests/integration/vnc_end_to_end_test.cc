// The VNC path end to end, with real parts only: a libvncclient viewer
// through `vigil serve` to x11vnc on Xvfb, a real Redis, and the `vigil`
// commands a user would run afterwards.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "codecs/video_reader.h"
#include "core/clock.h"
#include "storage/recording_reader.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::integration {
namespace {

using namespace std::chrono_literals;
using testbed::VncTestClient;

std::string uniqueMarker() {
  std::random_device rd;
  return "vigil" + std::to_string(rd() % 900000 + 100000);
}

Result<std::unique_ptr<VncTestClient>> connectViewer(const GatewayFixture& f, const std::string& code) {
  VncTestClient::Options o;
  o.port = f.vncPort();
  o.password = code;
  return VncTestClient::connect(o);
}

nlohmann::json sessionsJson(const GatewayFixture& f) {
  nlohmann::json j = f.vigilJson({"sessions"});
  return j.is_object() ? j["sessions"] : nlohmann::json::array();
}

// The newest session that was admitted (refusals are sessions too).
nlohmann::json newestAdmitted(const GatewayFixture& f) {
  for (const auto& s : sessionsJson(f))
    if (s.value("end_reason", "").rfind("refused", 0) != 0) return s;
  return {};
}

TEST(VncEndToEnd, TypedLineReachesServerIsSearchableAndRecorded) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  const std::string code = f.grantCode();
  ASSERT_EQ(code.size(), 8u);
  auto viewer = connectViewer(f, code);
  ASSERT_TRUE(viewer.ok()) << viewer.message() << "\n" << f.gatewayLog();
  ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
  EXPECT_EQ((*viewer)->width(), 1280);
  EXPECT_EQ((*viewer)->height(), 800);
  EXPECT_EQ(f.targetConnections(), 1);

  f.focusTerminal();
  const std::string marker = uniqueMarker();
  const std::string proof = f.dir() + "/" + marker + ".txt";
  nlohmann::json live = newestAdmitted(f);
  ASSERT_EQ(live.value("state", ""), "live");
  const EpochMillis started = *parseRfc3339(live["started_at"].get<std::string>());
  const EpochMillis typed_at = epochNowMs();
  (*viewer)->typeText("echo " + marker + " > " + proof + "\n");

  // The line ran on the server.
  ASSERT_TRUE(testbed::waitFor([&] { return testbed::readFile(proof) == marker + "\n"; }, 10s))
      << "the typed command did not run on the server";
  const EpochMillis done_at = epochNowMs();

  // Searchable within 2 s of Enter, at the moment it began (±1 s).
  nlohmann::json hit;
  testbed::waitFor([&] {
    nlohmann::json r = f.vigilJson({"search", marker});
    if (r.is_object() && !r["hits"].empty()) hit = r["hits"][0];
    return !hit.is_null();
  }, 4s, 200ms);
  ASSERT_FALSE(hit.is_null()) << "search found nothing for " << marker;
  EXPECT_LE(epochNowMs() - done_at, 4000);
  EXPECT_EQ(hit["kind"], "key");
  EXPECT_NE(hit["text"].get<std::string>().find("echo " + marker), std::string::npos) << hit.dump();
  EXPECT_EQ(hit["session_id"], live["id"]);
  EXPECT_EQ(hit["user"], "vendor1");
  EXPECT_EQ(hit["target"], "desk-vnc");
  EXPECT_NEAR(hit["t_ms"].get<double>(), static_cast<double>(typed_at - started), 1000.0);

  // The recording's last frame is the server's screen.
  std::this_thread::sleep_for(1500ms);
  auto server_screen = f.display().screenshot();
  ASSERT_TRUE(server_screen.ok()) << server_screen.message();
  (*viewer)->disconnect();
  const std::string id = live["id"];
  ASSERT_TRUE(testbed::waitFor([&] {
    nlohmann::json s = f.vigilJson({"sessions"});
    for (const auto& x : s["sessions"]) if (x["id"] == id) return x["state"] == "ended";
    return false;
  }, 10s)) << f.gatewayLog();

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
  EXPECT_GE(db, 35.0) << "recording's last frame differs from the server's screen";

  // The events tell the story in order.
  nlohmann::json ev = f.vigilJson({"events", id});
  ASSERT_TRUE(ev.is_object());
  std::string kinds;
  for (const auto& e : ev["events"]) kinds += e["kind"].get<std::string>() + ",";
  EXPECT_NE(kinds.find("lifecycle"), std::string::npos);
  EXPECT_NE(kinds.find("key"), std::string::npos);
  // The code came from `vigil grant`: the session says who issued it.
  bool issuer_named = false;
  for (const auto& e : ev["events"])
    issuer_named |= e["kind"] == "lifecycle" &&
                    e["text"].get<std::string>().starts_with(
                        "authenticated vendor1 by access code issued by cli:");
  EXPECT_TRUE(issuer_named) << ev.dump();

  // Evidence (issue 17): recording and events verify against the session's
  // final signature.
  VigilRun v = f.vigil({"verify", id});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("verified: "), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("at the session's end"), std::string::npos) << v.out;
}

// `[recordings] qp` reaches the session's encoder: x264 writes its settings
// into the video (an SEI message), so the file itself tells.
TEST(VncEndToEnd, ConfiguredQuantizerReachesTheRecording) {
  FixtureOptions opts;
  opts.recording_qp = 26;
  auto fx = GatewayFixture::start(opts);
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  auto viewer = connectViewer(f, f.grantCode());
  ASSERT_TRUE(viewer.ok()) << viewer.message() << "\n" << f.gatewayLog();
  ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
  const std::string id = newestAdmitted(f).value("id", "");
  ASSERT_FALSE(id.empty());
  (*viewer)->disconnect();
  ASSERT_TRUE(testbed::waitFor([&] { return newestAdmitted(f).value("state", "") == "ended"; }, 10s))
      << f.gatewayLog();
  // Sealed on disk: the settings are read from the plaintext.
  auto reader = storage::RecordingReader::open(f.recordingsDir() + "/" + id + ".mp4", f.recordingKeys());
  ASSERT_TRUE(reader.ok()) << reader.message();
  std::string video((*reader)->size(), '\0');
  ASSERT_TRUE((*reader)->readAt(0, video.data(), video.size()).ok());
  EXPECT_NE(video.find(" qp=26 "), std::string::npos) << "x264 settings not found or not qp=26";
  EXPECT_EQ(video.find(" qp=32 "), std::string::npos);
}

// Encryption at rest with the real `vigil serve`: `vigil rotate-recording-key`
// makes a new key current for the next session (no restart); `vigil export`
// reads sessions sealed under the old key and the new one.
TEST(VncEndToEnd, ARotatedRecordingKeySealsTheNextSessionAndOldOnesStillExport) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    if (i == 1) {
      nlohmann::json rotated = f.vigilJson({"rotate-recording-key"});
      ASSERT_EQ(rotated.value("key_id", 0), 2) << rotated.dump();
    }
    auto viewer = connectViewer(f, f.grantCode());
    ASSERT_TRUE(viewer.ok()) << viewer.message() << "\n" << f.gatewayLog();
    ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
    const std::string id = newestAdmitted(f).value("id", "");
    ASSERT_FALSE(id.empty());
    (*viewer)->disconnect();
    ASSERT_TRUE(testbed::waitFor([&] { return newestAdmitted(f).value("state", "") == "ended"; }, 10s))
        << f.gatewayLog();
    ids.push_back(id);
  }
  ASSERT_NE(ids[0], ids[1]);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::string file = f.recordingsDir() + "/" + ids[i] + ".mp4";
    auto reader = storage::RecordingReader::open(file, f.recordingKeys());
    ASSERT_TRUE(reader.ok()) << reader.message();
    EXPECT_TRUE((*reader)->sealed());
    EXPECT_EQ((*reader)->keyId(), i + 1);
    const std::string out = f.dir() + "/export-" + std::to_string(i) + ".mp4";
    VigilRun ex = f.vigil({"export", ids[i], out});
    ASSERT_EQ(ex.exit_code, 0) << ex.out;
    auto info = codecs::probe(out);
    ASSERT_TRUE(info.ok()) << info.message();
    EXPECT_GE(info->frame_count, 1);
  }
  // The keys never sit in the recordings folder: only recordings and their
  // evidence sidecars (signed chain records, no secrets) do.
  for (const auto& e : std::filesystem::recursive_directory_iterator(f.recordingsDir())) {
    const auto ext = e.path().extension();
    EXPECT_TRUE(ext == ".mp4" || ext == ".chain") << e.path();
  }
}

TEST(VncEndToEnd, BadCodesAreRefusedWithoutTouchingTheTarget) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  // Wrong code.
  EXPECT_FALSE(connectViewer(f, "WRNGC0DE").ok());
  EXPECT_EQ(f.targetConnections(), 0);

  // Used code: works once, then never again.
  const std::string code = f.grantCode();
  {
    auto viewer = connectViewer(f, code);
    ASSERT_TRUE(viewer.ok()) << viewer.message() << f.gatewayLog();
    ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
  }
  EXPECT_EQ(f.targetConnections(), 1);
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(connectViewer(f, code).ok());
  EXPECT_EQ(f.targetConnections(), 1);

  // A code whose grant window has closed (vendor2's grant ended in 2020):
  // `vigil grant` still issues it, the gateway refuses it.
  nlohmann::json g = f.vigilJson({"grant", "--user", "vendor2", "--target", "desk-vnc"});
  if (g.is_object() && g.contains("code")) {
    EXPECT_FALSE(connectViewer(f, g["code"]).ok());
    EXPECT_EQ(f.targetConnections(), 1);
  }

  // Every refusal is recorded with its reason.
  int refused = 0;
  // Refusals are listed apart from sessions (`vigil sessions --refused`).
  nlohmann::json listed = f.vigilJson({"sessions", "--refused"});
  ASSERT_TRUE(listed.is_object()) << listed.dump();
  for (const auto& s : listed["sessions"])
    refused += s.value("end_reason", "").rfind("refused", 0) == 0;
  EXPECT_GE(refused, 2);
  EXPECT_NE(f.gatewayLog().find("refus"), std::string::npos);
}

TEST(VncEndToEnd, KillDashNineKeepsAPlayableRecordingAndTheEvents) {
  auto fx = GatewayFixture::start();
  ASSERT_TRUE(fx.ok()) << fx.message();
  GatewayFixture& f = **fx;

  auto viewer = connectViewer(f, f.grantCode());
  ASSERT_TRUE(viewer.ok()) << viewer.message();
  ASSERT_TRUE(testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s));
  f.focusTerminal();
  const std::string marker = uniqueMarker();
  (*viewer)->typeText("echo " + marker + "\n");
  // Keep the screen changing for a few seconds so fragments get written.
  for (int i = 0; i < 6; ++i) {
    (*viewer)->typeText("ls /\n");
    std::this_thread::sleep_for(500ms);
  }
  nlohmann::json live = newestAdmitted(f);
  ASSERT_EQ(live.value("state", ""), "live");
  const std::string id = live["id"];

  f.killGateway();

  // The recording plays up to (nearly) the crash.
  const std::string video = f.recordingsDir() + "/" + id + ".mp4";
  // Sealed on disk (encryption at rest is the default): unreadable without
  // the gateway's key, the same video with it.
  EXPECT_FALSE(codecs::probe(video).ok()) << "the recording is not encrypted on disk";
  auto info = codecs::probe(video, f.recordingKeys());
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_GT(info->frame_count, 1);
  EXPECT_GE(info->duration_ms, 1000);
  auto frame = codecs::decodeLastFrame(video, f.recordingKeys());
  ASSERT_TRUE(frame.ok()) << frame.message();
  const std::string out = f.dir() + "/crash.mp4";
  EXPECT_EQ(f.vigil({"export", id, out}).exit_code, 0);
  EXPECT_TRUE(codecs::probe(out).ok());

  // The events so far are there.
  nlohmann::json hits = f.vigilJson({"search", marker});
  ASSERT_TRUE(hits.is_object());
  EXPECT_FALSE(hits["hits"].empty()) << "the line typed before the crash is lost";

  // A restarted node marks the interrupted session ended.
  ASSERT_TRUE(f.startGateway().ok());
  bool ended = false;
  for (const auto& s : sessionsJson(f))
    if (s["id"] == id) ended = s["state"] == "ended";
  EXPECT_TRUE(ended);

  // Evidence (issue 17): the signed prefix verifies, the rest is reported as
  // an unsigned tail, not as tampering; the same from a bundle.
  VigilRun v = f.vigil({"verify", id});
  EXPECT_EQ(v.exit_code, 0) << v.out;
  EXPECT_NE(v.out.find("signed up to t="), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("unsigned tail of"), std::string::npos) << v.out;
  const std::string zip = f.dir() + "/crash.zip";
  VigilRun b = f.vigil({"bundle", id, zip});
  EXPECT_EQ(b.exit_code, 0) << b.out;
  VigilRun vb = f.vigil({"verify", zip});
  EXPECT_EQ(vb.exit_code, 0) << vb.out;
  EXPECT_NE(vb.out.find("unsigned tail of"), std::string::npos) << vb.out;
}

}  // namespace
}  // namespace vigil::integration
