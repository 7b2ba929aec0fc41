// The real product for the browser tests: GatewayFixture (a real Redis,
// Xvfb + openbox + xterm served by x11vnc, the real `vigil serve` with its
// web API and two web users) plus two real VNC sessions through the gateway,
// made by the libvncclient test viewer:
//   session A: types a few lines into the xterm, among them kHitLine, then
//              disconnects (an ended, recorded, searchable session);
//   session B: connects and stays live.
//
//   real_session_server
//
// Prints on stdout, one line each (times are epoch ms of this machine):
//   READY port=P auditor=U auditor_password=PW security=U security_password=PW
//         ended=ID live=ID hit_t_ms=T hit=TEXT        (one line; TEXT to the end)
//   changed T_START T_DONE RRGGBB     after "change": the server's desktop
//                                     background was set to that colour
//   change-failed REASON              after "change": xsetroot could not run
//   typed T TEXT                      after "type TEXT": session B typed TEXT + Enter
//   client-closed T                   session B's VNC viewer saw the gateway
//                                     close its connection (polled every 2 ms)
//   tampered OFFSET                   after "tamper": one byte in the middle of
//                                     session A's recording file (sealed) was
//                                     flipped on disk, as an insider would
//   restored                          after "restore": the file is as recorded
//   tamper-failed REASON              the file could not be read or written
//   ERROR message                     start-up failed (details on stderr); exits 1
// Reads commands on stdin; exits, stopping everything it started, on stdin
// EOF, "quit", SIGTERM or SIGINT.
#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>

#include "core/clock.h"
#include "tests/integration/gateway_fixture.h"
#include "tests/testbed/vnc_test_client.h"

using namespace vigil;
using namespace std::chrono_literals;
using integration::GatewayFixture;
using testbed::VncTestClient;

namespace {

constexpr const char* kHitLine = "net user backup /add";

std::atomic<bool> g_stop{false};  // set by the signal handler
void onSignal(int) { g_stop = true; }

std::mutex g_out_mutex;
void say(const std::string& line) {
  std::lock_guard lock(g_out_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int fail(const std::string& what, const GatewayFixture* f) {
  say("ERROR " + what);
  std::cerr << "real_session_server: " << what << "\n";
  if (f) std::cerr << "--- vigil.log ---\n" << f->gatewayLog() << "\n";
  return 1;
}

Result<std::unique_ptr<VncTestClient>> connectViewer(const GatewayFixture& f) {
  const std::string code = f.grantCode();
  if (code.size() != 8) return Status::Error("vigil grant gave no access code");
  VncTestClient::Options o;
  o.port = f.vncPort();
  o.password = code;
  auto viewer = VncTestClient::connect(o);
  if (!viewer) return viewer.status();
  if (!testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 10s))
    return Status::Error("the VNC viewer got no picture through the gateway");
  return viewer;
}

nlohmann::json sessionById(const GatewayFixture& f, const std::string& id) {
  nlohmann::json j = f.vigilJson({"sessions"});
  if (j.is_object())
    for (const auto& s : j["sessions"])
      if (s.value("id", "") == id) return s;
  return {};
}

// The newest admitted (not refused) live session other than `not_id`.
std::string newestLive(const GatewayFixture& f, const std::string& not_id) {
  nlohmann::json j = f.vigilJson({"sessions"});
  if (!j.is_object()) return "";
  for (const auto& s : j["sessions"])
    if (s.value("state", "") == "live" && s.value("id", "") != not_id) return s.value("id", "");
  return "";
}

std::string hexColour(unsigned rgb) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%06x", rgb & 0xffffff);
  return buf;
}

}  // namespace

int main() {
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGTERM, onSignal);
  std::signal(SIGINT, onSignal);
  prctl(PR_SET_PDEATHSIG, SIGTERM);  // the test runner died: clean up too

  integration::FixtureOptions opts;
  opts.web_users = true;
  auto fx = GatewayFixture::start(opts);
  if (!fx) return fail("fixture: " + fx.message(), nullptr);
  GatewayFixture& f = **fx;

  // ---- session A: type lines, among them the one to find, then leave.
  std::string ended_id, hit_text;
  long long hit_t_ms = -1;
  {
    auto a = connectViewer(f);
    if (!a) return fail("session A: " + a.message(), &f);
    ended_id = newestLive(f, "");
    if (ended_id.empty()) return fail("session A is not listed as live", &f);
    f.focusTerminal();
    std::this_thread::sleep_for(1500ms);  // some picture before the line
    (*a)->typeText("whoami\n");
    std::this_thread::sleep_for(700ms);
    (*a)->typeText(std::string(kHitLine) + "\n");
    nlohmann::json hit;
    testbed::waitFor([&] {
      nlohmann::json r = f.vigilJson({"search", "net user backup"});
      if (r.is_object() && r.contains("hits") && !r["hits"].empty()) hit = r["hits"][0];
      return !hit.is_null();
    }, 8s, 200ms);
    if (hit.is_null()) return fail("the typed line is not searchable", &f);
    if (hit.value("session_id", "") != ended_id) return fail("the hit is in another session: " + hit.dump(), &f);
    hit_t_ms = hit.value("t_ms", -1LL);
    hit_text = hit.value("text", "");
    // Keep the screen changing after the line so the replay has motion.
    for (const char* line : {"date\n", "ls /\n", "echo done\n"}) {
      std::this_thread::sleep_for(1200ms);
      (*a)->typeText(line);
    }
    std::this_thread::sleep_for(1500ms);
    (*a)->disconnect();
    if (!testbed::waitFor([&] { return sessionById(f, ended_id).value("state", "") == "ended"; }, 10s, 100ms))
      return fail("session A did not end after its viewer left", &f);
  }

  // ---- session B: stays live until terminated.
  auto b = connectViewer(f);
  if (!b) return fail("session B: " + b.message(), &f);
  VncTestClient& live = **b;
  const std::string live_id = newestLive(f, ended_id);
  if (live_id.empty()) return fail("session B is not listed as live", &f);
  f.focusTerminal();

  std::atomic<bool> shutting_down{false};
  std::thread watcher([&] {
    while (!shutting_down && !g_stop) {
      if (!live.connected()) {
        const EpochMillis at = epochNowMs();
        if (!shutting_down) say("client-closed " + std::to_string(at));
        return;
      }
      std::this_thread::sleep_for(2ms);
    }
  });

  say("READY port=" + std::to_string(f.webPort()) + " auditor=" + GatewayFixture::kAuditorUser +
      " auditor_password=" + GatewayFixture::kAuditorPassword + " security=" + GatewayFixture::kSecurityUser +
      " security_password=" + GatewayFixture::kSecurityPassword + " ended=" + ended_id + " live=" + live_id +
      " hit_t_ms=" + std::to_string(hit_t_ms) + " hit=" + hit_text);

  // ---- commands
  static constexpr unsigned kColours[] = {0xc03030, 0x30a040, 0x3050c0, 0xd0a020};
  int next_colour = 0;
  std::string pending;
  std::string original;  // session A's recording as recorded, kept by "tamper"
  bool quit = false;
  while (!quit && !g_stop) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) break;  // EOF: the test is done
    pending.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; !quit && (nl = pending.find('\n')) != std::string::npos;) {
      const std::string cmd = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (cmd == "change") {
        const unsigned rgb = kColours[next_colour++ % std::size(kColours)];
        const EpochMillis t0 = epochNowMs();
        auto set = f.display().run({"xsetroot", "-solid", "#" + hexColour(rgb)});
        if (!set.ok() || *set != 0)
          say("change-failed xsetroot " + (set.ok() ? "exited " + std::to_string(*set) : set.message()));
        else
          say("changed " + std::to_string(t0) + " " + std::to_string(epochNowMs()) + " " + hexColour(rgb));
      } else if (cmd.rfind("type ", 0) == 0) {
        const EpochMillis t0 = epochNowMs();
        live.typeText(cmd.substr(5) + "\n");
        say("typed " + std::to_string(t0) + " " + cmd.substr(5));
      } else if (cmd == "tamper" || cmd == "restore") {
        const std::string path = f.recordingsDir() + "/" + ended_id + ".mp4";
        if (cmd == "tamper") {
          std::ifstream in(path, std::ios::binary);
          original.assign(std::istreambuf_iterator<char>(in), {});
        }
        if (original.size() < 1000) {
          say("tamper-failed cannot read " + path);
          continue;
        }
        std::string bytes = original;
        const std::size_t at = bytes.size() / 2;
        if (cmd == "tamper") bytes[at] = static_cast<char>(bytes[at] ^ 0x10);
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << bytes;
        out.close();
        if (!out) say("tamper-failed cannot write " + path);
        else say(cmd == "tamper" ? "tampered " + std::to_string(at) : "restored");
      } else if (cmd == "quit") {
        quit = true;
      } else if (!cmd.empty()) {
        say("unknown-command " + cmd);
      }
    }
  }
  shutting_down = true;
  watcher.join();
  b->reset();
  fx->reset();  // stops vigil, x11vnc, Xvfb, Redis and removes the temp dir
  return 0;
}
