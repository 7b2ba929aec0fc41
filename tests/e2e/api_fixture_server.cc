// A small gateway stand-in for the browser tests and the web benchmark:
// the real ApiServer and web player over an in-memory store seeded with
// recorded sessions (a real H.264 fragmented MP4 made with the ffmpeg CLI,
// settings as codecs::Recorder: x264, no B-frames, 1 s fragments, 10 s
// keyframes, ms timescale) and one fake live session whose screen changes
// every 500 ms.
//
//   api_fixture_server --web-root DIR --workdir DIR [--duration-s 60]
//                      [--video FILE] [--search-events N]
//                      [--paint-log 1] [--video-sealed FILE --state-dir DIR]
// --video-sealed serves FILE (a recording sealed at rest, bench/web/seal_seek.sh)
// as session rec2, unsealed with the key ring under --state-dir.
// Prints "READY port=N" when serving, "TERMINATED id epoch_ms reason" when
// the live session is terminated. Runs until stdin closes or SIGTERM/SIGINT.
// A line "ALERT SESSION T_MS RULE..." on stdin raises an alert in that session
// as a rule would (its `alert` event and the store's alert list) and prints
// "ALERTED SESSION T_MS".
#include <sstream>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "gateway/api/api_server.h"
#include "tests/gateway/api/fakes.h"

namespace fs = std::filesystem;
using namespace vigil;
using namespace vigil::gateway::api::testing;

namespace {

struct Args {
  std::string web_root, workdir, video, video_sealed, state_dir;
  int duration_s = 60;
  long search_events = 0;
  bool paint_log = false;  // print "PAINT epoch_ms" after each screen change (live latency bench)
};

bool makeVideo(const fs::path& out, int duration_s) {
  // Mostly static screen with occasional change (like a desktop), plus a
  // running clock so seeking lands on a visibly different picture.
  const std::string cmd =
      "ffmpeg -nostdin -v error -y -f lavfi -i \"testsrc2=size=1280x720:rate=10,"
      "drawbox=x=0:y=0:w=1280:h=720:color=0x203040@1:t=fill:enable='between(mod(t,30),27,30)'\" "
      "-t " + std::to_string(duration_s) +
      " -c:v libx264 -preset veryfast -crf 27 -pix_fmt yuv420p -bf 0 "
      "-x264-params rc-lookahead=0:sync-lookahead=0:mbtree=0 "
      "-force_key_frames 'expr:gte(t,n_forced*10)' "
      "-movflags frag_keyframe+empty_moov+default_base_moof -frag_duration 1000000 "
      "-video_track_timescale 1000 '" + out.string() + "'";
  return std::system(cmd.c_str()) == 0 && fs::exists(out);
}

std::atomic<bool> g_stop{false};  // signal handler flag: the one place a global is unavoidable
void onSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--web-root") a.web_root = v;
    else if (k == "--workdir") a.workdir = v;
    else if (k == "--video") a.video = v;
    else if (k == "--duration-s") a.duration_s = std::stoi(v);
    else if (k == "--search-events") a.search_events = std::stol(v);
    else if (k == "--paint-log") a.paint_log = v == "1";
    else if (k == "--video-sealed") a.video_sealed = v;
    else if (k == "--state-dir") a.state_dir = v;
    else { std::cerr << "unknown option " << k << "\n"; return 2; }
  }
  if (a.web_root.empty() || a.workdir.empty()) {
    std::cerr << "usage: api_fixture_server --web-root DIR --workdir DIR [--duration-s N] [--video FILE] [--search-events N]\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  fs::create_directories(fs::path(a.workdir) / "rec");
  const fs::path video = fs::path(a.workdir) / "rec" / "rec1.mp4";
  if (!a.video.empty()) {
    fs::copy_file(a.video, video, fs::copy_options::overwrite_existing);
  } else if (!makeVideo(video, a.duration_s)) {
    std::cerr << "could not make the fixture video with ffmpeg (is ffmpeg installed?)\n";
    return 1;
  }

  Config config;
  config.web_listen = {"127.0.0.1", 0};
  if (!a.state_dir.empty()) config.state_dir = a.state_dir;
  config.users = {{"admin", "plain:admin-pw", {Role::Admin}},
                  {"sec", "plain:sec-pw", {Role::Security}},
                  {"aud", "plain:aud-pw", {Role::Auditor}},
                  {"vendor1", "plain:vendor-pw", {Role::Vendor}}};
  TargetConfig t;
  t.name = "dc01";
  t.host = "10.0.0.5";
  t.port = 3389;
  config.targets = {t};
  config.grants = {{"vendor1", "dc01", std::nullopt, std::nullopt}};

  FakeStore store;
  FakeSessionManager manager(store);
  const EpochMillis now = epochNowMs();
  const long long dur = static_cast<long long>(a.duration_s) * 1000;
  storage::SessionRecord rec1{"rec1", "vendor1", "dc01", "rdp", "ended", now - 3600000, now - 3600000 + dur,
                              1280, 720, static_cast<long long>(fs::file_size(video)), "client disconnected",
                              "node1", "192.0.2.10", "rec1.mp4"};
  storage::SessionRecord rec0{"rec0", "vendor1", "dc01", "rdp", "ended", now - 7200000, now - 7200000 + 30000,
                              1280, 720, 0, "terminated by sec", "node1", "192.0.2.10", ""};
  (void)store.putSession(rec1);
  if (!a.video_sealed.empty()) {
    fs::copy_file(a.video_sealed, fs::path(a.workdir) / "rec" / "rec2.mp4", fs::copy_options::overwrite_existing);
    storage::SessionRecord rec2 = rec1;
    rec2.id = "rec2";
    rec2.video_path = "rec2.mp4";
    rec2.video_bytes = static_cast<long long>(fs::file_size(a.video_sealed));
    (void)store.putSession(rec2);
  }
  (void)store.putSession(rec0);
  auto at = [&](double frac) { return static_cast<Millis>(frac * static_cast<double>(dur)); };
  (void)store.appendEvents("rec1", {
      {0, EventKind::Lifecycle, "connected to target 10.0.0.5:3389", {}},
      {at(0.03), EventKind::Title, "Administrator: Command Prompt", {}},
      {at(0.08), EventKind::Key, "whoami", "Administrator: Command Prompt"},
      {at(0.2), EventKind::Key, "ipconfig /all", "Administrator: Command Prompt"},
      {at(0.33), EventKind::Clipboard, "\\\\fileserver\\share\\tools", {}, Direction::ClientToServer},
      {at(0.42), EventKind::Key, "net user backdoor Passw0rd! /add", "Administrator: Command Prompt"},
      {at(0.425), EventKind::Alert, "local account created", {}},
      {at(0.6), EventKind::Title, "Registry Editor", {}},
      {at(0.75), EventKind::Key, "reg query HKLM\\Software\\Vigil", "Administrator: Command Prompt"},
      {at(0.76), EventKind::Key, "<Ctrl+C>", {}},
      {dur - 500, EventKind::Lifecycle, "client disconnected", {}},
  });
  (void)store.appendEvents("rec0", {{0, EventKind::Lifecycle, "connected", {}},
                                    {4000, EventKind::Key, "ipconfig", {}},
                                    {29000, EventKind::Lifecycle, "terminated by sec", {}}});
  // Search benchmark: many sessions' worth of typed lines.
  for (long i = 0; i < a.search_events;) {
    const std::string id = "bench" + std::to_string(i / 1000);
    storage::SessionRecord r{id, "user" + std::to_string(i / 1000 % 50), "srv" + std::to_string(i / 1000 % 20),
                             "vnc", "ended", now - 10000000 - i, now - 9000000 - i, 1024, 768, 0, "client disconnected",
                             "node1", "192.0.2.20", ""};
    (void)store.putSession(r);
    std::vector<Event> evs;
    for (int k = 0; k < 1000 && i < a.search_events; ++k, ++i)
      evs.push_back({k * 1000LL, EventKind::Key,
                     "cmd" + std::to_string(i % 997) + " --host node" + std::to_string(i % 89) + " value" + std::to_string(i),
                     {}});
    (void)store.appendEvents(id, evs);
  }

  // The live session: its record, and a screen that changes every 500 ms.
  storage::SessionRecord live_rec{"live1", "vendor1", "dc01", "vnc", "live", now - 95000, 0, 1024, 640, 0, "",
                                  "node1", "192.0.2.11", "rec1.mp4"};  // replay so far: the fixture video
  (void)store.putSession(live_rec);
  gateway::AccessGrant grant;
  grant.user = "vendor1";
  grant.target = &config.targets[0];
  grant.via = "access code";
  auto live = std::make_shared<FakeSession>("live1", grant);
  live->on_terminate = [](const std::string& reason) {
    std::printf("TERMINATED live1 %lld %s\n", static_cast<long long>(epochNowMs()), reason.c_str());
    std::fflush(stdout);
  };
  live->draw(1024, 640, {0, 0, 1024, 640}, 0x1E2A38);
  manager.add(live);
  std::atomic<bool> painter_stop{false};
  std::thread painter([&] {
    for (int n = 0; !painter_stop; ++n) {
      if (!live->terminated()) {
        const std::uint32_t colors[] = {0xE5534B, 0x3FB950, 0x4FA3FF, 0xF2B84B};
        // A window-like box that moves and changes colour, and a status bar.
        const int x = 40 + (n * 37) % 700, y = 60 + (n * 23) % 400;
        live->draw(1024, 640, {0, 0, 1024, 600}, 0x1E2A38);
        live->draw(1024, 640, {x, y, 260, 160}, colors[n % 4]);
        live->draw(1024, 640, {0, 600, 1024, 40}, n % 2 ? 0x303A46 : 0x404C5A);
        if (a.paint_log) {
          std::printf("PAINT %lld\n", static_cast<long long>(epochNowMs()));
          std::fflush(stdout);
        }
        if (n % 6 == 5) live->emit({live->now(), EventKind::Key, "echo tick " + std::to_string(n / 6), {}});
      }
      for (int i = 0; i < 10 && !painter_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });

  gateway::api::ApiDeps deps{store, manager,
                             [](const std::string&, const std::string&, long long ttl,
                                const std::string&) -> Result<gateway::auth::IssuedCode> {
                               return gateway::auth::IssuedCode{"K7QM2XPA", epochNowMs() + ttl};
                             },
                             fakeVerify, (fs::path(a.workdir) / "rec").string(), a.web_root};
  auto server = gateway::api::ApiServer::start(config, std::move(deps));
  if (!server.ok()) {
    std::cerr << "api server: " << server.message() << "\n";
    painter_stop = true;
    painter.join();
    return 1;
  }
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  std::printf("READY port=%u\n", server.value()->port());
  std::fflush(stdout);
  std::thread stdin_watch([&store] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream in(line);
      std::string cmd, id, rule;
      Millis t = 0;
      if (!(in >> cmd >> id >> t) || cmd != "ALERT") continue;
      std::getline(in >> std::ws, rule);
      auto rec = store.getSession(id);
      if (!rec.ok() || !rec.value()) continue;
      const std::string text = rule + ": net user eve [masked] /add";
      (void)store.appendEvents(id, {{t, EventKind::Alert, text, {}}});
      (void)store.putAlert({id, t, epochNowMs(), rule, "high", text, rec.value()->user, rec.value()->target});
      std::printf("ALERTED %s %lld\n", id.c_str(), static_cast<long long>(t));
      std::fflush(stdout);
    }
    g_stop = true;
  });
  stdin_watch.detach();
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.value()->stop();
  painter_stop = true;
  painter.join();
  return 0;
}
