// Recorder benchmark: a scripted ~2-minute 1920x1080 admin workload on an
// Xvfb desktop (openbox, xterm, xclock, xeyes), recorded in the same run by
// Vigil (a VNC session through the real `vigil serve`, target x11vnc) and by
// `ffmpeg -f x11grab -framerate 30 -c:v libx264 -preset veryfast`. Reports
// CPU seconds (from /proc) and MB per session-hour for each, per-thread CPU
// of `vigil serve` (by thread name: the recorder worker is "record"), and
// writes PNG frames for a legibility check. Usage:
//   recorder_bench --out DIR [--seconds N]
// Writes DIR/results.json and prints a summary. Not a test: no pass/fail
// beyond "it ran"; the targets are judged in docs/BENCHMARKS.md.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/auth/password.h"
#include "tests/testbed/testbed.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using testbed::Process;
using testbed::VncTestClient;
using testbed::XDisplay;

constexpr const char* kTerminal = "Administrator: Command Prompt";

double ticksToSeconds(unsigned long long t) { return double(t) / double(sysconf(_SC_CLK_TCK)); }

// utime+stime in seconds from a /proc .../stat file (-1 if unreadable).
double cpuSeconds(const std::string& stat_path) {
  std::string s = testbed::readFile(stat_path);
  const auto close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  // Fields after "(comm)": state(3) ... utime(14) stime(15).
  for (int i = 3; i <= 15 && in >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return ticksToSeconds(utime + stime);
}

double processCpu(pid_t pid) { return cpuSeconds("/proc/" + std::to_string(pid) + "/stat"); }

std::map<int, double> threadCpu(pid_t pid) {
  std::map<int, double> out;
  std::string list;
  (void)testbed::run({"ls", "/proc/" + std::to_string(pid) + "/task"}, {}, &list);
  std::istringstream in(list);
  for (std::string tid; in >> tid;) {
    const double c = cpuSeconds("/proc/" + std::to_string(pid) + "/task/" + tid + "/stat");
    if (c >= 0) out[std::stoi(tid)] = c;
  }
  return out;
}

// LWP -> its name (vigil names its threads: "record", "ocr-0", "vnc-user", ...).
std::map<int, std::string> threadNames(pid_t pid) {
  std::map<int, std::string> names;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(task, ec)) {
    std::string name = testbed::readFile(e.path().string() + "/comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    names[std::stoi(e.path().filename().string())] = name;
  }
  return names;
}

long long fileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : -1;
}

std::string firstMp4(const std::string& dir) {
  std::string out;
  (void)testbed::run({"sh", "-c", "ls " + dir + "/*.mp4 2>/dev/null | head -1"}, {}, &out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

nlohmann::json probe(const std::string& path) {
  std::string out;
  (void)testbed::run({"ffprobe", "-v", "error", "-count_packets", "-show_entries",
                      "stream=codec_name,width,height,nb_read_packets:format=duration", "-of", "json", path},
                     {}, &out, 120s);
  return nlohmann::json::parse(out, nullptr, false);
}

void fail(const std::string& what) {
  std::fprintf(stderr, "recorder_bench: %s\n", what.c_str());
  std::exit(1);
}

// The desktop, the target and the gateway for one run.
struct Node {
  std::string dir, config;
  std::uint16_t redis_port = 0, x11vnc_port = 0, vnc_port = 0, web_port = 0, rdp_port = 0;
  Process redis, x11vnc, xterm, gateway;
  std::unique_ptr<XDisplay> display;

  std::string vigil(std::vector<std::string> args) const {
    args.insert(args.begin(), VIGIL_BINARY);
    args.insert(args.end(), {"--config", config});
    std::string out;
    (void)testbed::run(args, {}, &out, 60s);
    return out;
  }
};

void startNode(Node& n, const std::string& dir) {
  n.dir = dir;
  n.redis_port = testbed::freeTcpPort();
  auto redis = testbed::startRedis(n.redis_port, dir);
  if (!redis) fail(redis.message());
  n.redis = std::move(*redis);
  auto display = XDisplay::start(1920, 1080, true);
  if (!display) fail(display.message());
  n.display = std::move(*display);
  auto xterm = n.display->startXterm(kTerminal, "140x45+40+40");
  if (!xterm) fail(xterm.message());
  n.xterm = std::move(*xterm);
  n.x11vnc_port = testbed::freeTcpPort();
  auto vnc = testbed::startX11vnc(*n.display, n.x11vnc_port, "tgt-pw12", dir + "/x11vnc.log");
  if (!vnc) fail(vnc.message());
  n.x11vnc = std::move(*vnc);
  auto hash = gateway::auth::hashPassword("bench-pass-1");
  if (!hash) fail(hash.message());
  n.vnc_port = testbed::freeTcpPort();
  n.web_port = testbed::freeTcpPort();
  n.rdp_port = testbed::freeTcpPort();
  n.config = dir + "/vigil.toml";
  std::ofstream cfg(n.config);
  cfg << "[redis]\nurl = \"redis://127.0.0.1:" << n.redis_port << "/0\"\n"
      << "[recordings]\ndir = \"" << dir << "/recordings\"\n"
      << "[gateway]\nstate_dir = \"" << dir << "/var\"\nnode_id = \"bench-node\"\n"
      << "[web]\nlisten = \"127.0.0.1:" << n.web_port << "\"\n"
      << "[rdp]\nlisten = \"127.0.0.1:" << n.rdp_port << "\"\n"
      << "[[users]]\nname = \"admin1\"\npassword_hash = \"" << *hash << "\"\nroles = [\"vendor\"]\n"
      << "[[targets]]\nname = \"desk-vnc\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\nport = "
      << n.x11vnc_port << "\npassword = \"tgt-pw12\"\nvnc_listen = \"127.0.0.1:" << n.vnc_port << "\"\n"
      << "[[grants]]\nuser = \"admin1\"\ntarget = \"desk-vnc\"\n";
  cfg.close();
  auto p = Process::start({VIGIL_BINARY, "serve", "--config", n.config}, {.env = {}, .log_path = dir + "/vigil.log"});
  if (!p) fail(p.message());
  n.gateway = std::move(*p);
  if (!testbed::waitFor([&] { return testbed::readFile(dir + "/vigil.log").find("ready") != std::string::npos; },
                        30s) ||
      !testbed::waitForPort(n.vnc_port, 10s))
    fail("vigil serve did not start:\n" + testbed::readFile(dir + "/vigil.log"));
}

// The scripted admin: types through the VNC viewer (so keystrokes pass the
// gateway like a real session's), manages windows with xdotool on the desktop.
class Admin {
 public:
  Admin(Node& n, VncTestClient& viewer) : n_(n), v_(viewer) {}

  // ~8 characters per second with a little jitter, like a person.
  void type(const std::string& text) {
    unsigned seed = 12345;
    for (char c : text) {
      v_.typeText(std::string(1, c));
      seed = seed * 1103515245 + 12345;
      std::this_thread::sleep_for(std::chrono::milliseconds(90 + (seed >> 16) % 80));
    }
  }
  void command(const std::string& cmd, std::chrono::milliseconds read_time) {
    type(cmd + "\n");
    std::this_thread::sleep_for(read_time);
  }
  void key(std::uint32_t sym, std::uint32_t mod = 0) {
    if (mod) v_.key(mod, true);
    v_.key(sym, true);
    v_.key(sym, false);
    if (mod) v_.key(mod, false);
  }
  std::string window(const std::string& name) {
    std::string out;
    testbed::waitFor([&] {
      out.clear();
      (void)n_.display->run({"xdotool", "search", "--onlyvisible", "--name", name}, &out);
      return !out.empty();
    }, 10s, 100ms);
    return out.substr(0, out.find('\n'));
  }
  void x(std::vector<std::string> argv) { (void)n_.display->run(std::move(argv)); }
  void focus(const std::string& name) {
    const std::string w = window(name);
    if (w.empty()) return;
    x({"xdotool", "windowactivate", "--sync", w});
  }
  // The mouse wanders (xeyes follows it), like a hand on the mouse.
  void wander(int from_x, int from_y, int to_x, int to_y, int steps) {
    for (int i = 0; i <= steps; ++i) {
      v_.pointer(from_x + (to_x - from_x) * i / steps, from_y + (to_y - from_y) * i / steps, 0);
      std::this_thread::sleep_for(30ms);
    }
  }

 private:
  Node& n_;
  VncTestClient& v_;
};

void workload(Node& n, VncTestClient& viewer, const std::string& out_dir, int seconds) {
  Admin a(n, viewer);
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  a.focus(kTerminal);
  a.command("uname -a; uptime; df -h", 3s);
  a.command("ls -la /usr/bin", 4s);
  (void)n.display->screenshot();  // warm `import`
  a.command("cd /etc && ls -la | head -60", 3s);
  // Scroll back through the output and forward again.
  for (int i = 0; i < 4; ++i) { a.key(0xff55 /*Prior*/, 0xffe1 /*Shift_L*/); std::this_thread::sleep_for(700ms); }
  for (int i = 0; i < 4; ++i) { a.key(0xff56 /*Next*/, 0xffe1); std::this_thread::sleep_for(500ms); }
  // A clock and eyes, as on a real admin desktop; the mouse wanders.
  Process clock_app, eyes;
  if (auto p = n.display->spawn({"xclock", "-update", "1", "-geometry", "200x200+1400+60"}); p.ok())
    clock_app = std::move(*p);
  if (auto p = n.display->spawn({"xeyes", "-geometry", "220x160+1400+320"}); p.ok()) eyes = std::move(*p);
  a.window("xclock");
  a.wander(300, 300, 1500, 400, 40);
  a.wander(1500, 400, 800, 900, 30);
  a.focus(kTerminal);
  a.command("ps aux --sort=-%cpu | head -30", 3s);
  // Page through a long file.
  a.command("less /etc/services", 1s);
  for (int i = 0; i < 6; ++i) { a.type(" "); std::this_thread::sleep_for(600ms); }
  a.type("/http\n");
  std::this_thread::sleep_for(1s);
  a.type("q");
  std::this_thread::sleep_for(500ms);
  // A second terminal: opened, used, moved like a drag, closed.
  Process second;
  if (auto p = n.display->spawn({"xterm", "-T", "logs", "-geometry", "100x30+700+450", "-fa", "Monospace",
                                 "-fs", "11"});
      p.ok())
    second = std::move(*p);
  const std::string logs = a.window("logs");
  a.focus("logs");
  a.command("grep -r ssh /etc/services | head -20", 2s);
  for (int i = 0; i <= 20; ++i) {
    a.x({"xdotool", "windowmove", logs, std::to_string(700 - i * 25), std::to_string(450 - i * 8)});
    std::this_thread::sleep_for(50ms);
  }
  a.command("cat /etc/os-release", 2s);
  a.command("exit", 1s);
  second.stop();
  eyes.stop();
  a.focus(kTerminal);
  a.command("cd /var/log && ls -la", 2s);
  a.command("for i in 1 2 3 4 5; do date; sleep 1; done", 6s);
  a.command("ls -la /usr/lib/x86_64-linux-gnu | tail -40", 3s);
  // Fill what is left with short commands and reading pauses.
  int i = 0;
  while (Clock::now() + 6s < end) {
    static const char* kCmds[] = {"free -m", "id; hostname", "ls /proc | head -40", "cat /proc/cpuinfo | head -20",
                                  "env | sort | head -30", "ls -la ~"};
    a.command(kCmds[i++ % 6], 3s);
  }
  clock_app.stop();
  a.command("clear; echo 'Vigil bench: the quick brown fox jumps over the lazy dog 0123456789'; ls -la /etc | head -30",
            2s);
  while (Clock::now() < end) std::this_thread::sleep_for(100ms);
  (void)out_dir;
}

int run(const std::string& out_dir, int seconds) {
  (void)testbed::run({"mkdir", "-p", out_dir});
  const std::string work = testbed::makeTempDir("vigil-bench-rec");
  Node n;
  startNode(n, work);
  std::fprintf(stderr, "node up: display %s, vigil pid %d\n", n.display->name().c_str(), n.gateway.pid());

  // Code for the session.
  nlohmann::json g = nlohmann::json::parse(
      n.vigil({"grant", "--user", "admin1", "--target", "desk-vnc", "--ttl", "30m", "--json"}), nullptr, false);
  if (!g.is_object() || !g.contains("code")) fail("vigil grant failed");

  const std::string ffmpeg_out = out_dir + "/ffmpeg_x11grab.mp4";
  (void)testbed::run({"rm", "-f", ffmpeg_out});
  const pid_t vigil_pid = n.gateway.pid();
  const pid_t x11vnc_pid = n.x11vnc.pid();
  const double vigil_cpu0 = processCpu(vigil_pid);
  const double x11vnc_cpu0 = processCpu(x11vnc_pid);
  const std::map<int, double> threads0 = threadCpu(vigil_pid);

  auto ff = Process::start({"ffmpeg", "-nostdin", "-loglevel", "error", "-f", "x11grab", "-framerate", "30",
                            "-video_size", "1920x1080", "-i", n.display->name(), "-c:v", "libx264", "-preset",
                            "veryfast", ffmpeg_out},
                           {.env = {}, .log_path = out_dir + "/ffmpeg.log"});
  if (!ff) fail(ff.message());
  VncTestClient::Options o;
  o.port = n.vnc_port;
  o.password = g["code"];
  const auto t_start = Clock::now();
  auto viewer = VncTestClient::connect(o);
  if (!viewer) fail("viewer: " + viewer.message() + "\n" + testbed::readFile(work + "/vigil.log"));
  if (!testbed::waitFor([&] { return (*viewer)->updates() > 0; }, 20s)) fail("no framebuffer update");
  const std::uint64_t updates0 = (*viewer)->updates();

  workload(n, **viewer, out_dir, seconds);

  // Snapshot the moment the workload ends, before anything slow (the frame
  // grabs below take seconds, during which ffmpeg keeps encoding 30 frames a
  // second): CPU and the session-hour are over the workload alone.
  const std::uint64_t updates = (*viewer)->updates() - updates0;
  const std::map<int, double> threads1 = threadCpu(vigil_pid);
  const double ff_cpu = processCpu(ff->pid());
  const double vigil_cpu = processCpu(vigil_pid) - vigil_cpu0;
  const double x11vnc_cpu = processCpu(x11vnc_pid) - x11vnc_cpu0;
  const double session_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  std::map<int, std::string> labels = threadNames(vigil_pid);  // the recorder thread is still alive
  auto screen = n.display->screenshot();
  if (screen.ok()) {
    // Keep the server's screen as a PPM for comparison.
    std::string shot;
    (void)n.display->run({"import", "-window", "root", out_dir + "/server_screen.png"});
  }
  (*viewer)->disconnect();
  ff->stop(10s);  // SIGTERM: ffmpeg writes its trailer
  // Recording closed: vigil logs recording_closed.
  testbed::waitFor([&] {
    return testbed::readFile(work + "/vigil.log").find("recording_closed") != std::string::npos;
  }, 30s, 100ms);

  const std::string rec = firstMp4(work + "/recordings");
  if (rec.empty()) fail("no recording in " + work + "/recordings");
  (void)testbed::run({"cp", rec, out_dir + "/vigil_recording.mp4"});
  const long long rec_bytes = fileSize(rec);
  const long long ff_bytes = fileSize(ffmpeg_out);
  const nlohmann::json rec_probe = probe(rec), ff_probe = probe(ffmpeg_out);
  // Frames for the legibility check: the end, and 8 s after the start (ls -la /usr/bin).
  (void)testbed::run({"ffmpeg", "-v", "error", "-y", "-sseof", "-0.5", "-i", rec, "-frames:v", "1",
                      out_dir + "/vigil_last_frame.png"}, {}, nullptr, 60s);
  (void)testbed::run({"ffmpeg", "-v", "error", "-y", "-ss", "12", "-i", rec, "-frames:v", "1",
                      out_dir + "/vigil_frame_12s.png"}, {}, nullptr, 60s);
  (void)testbed::run({"ffmpeg", "-v", "error", "-y", "-sseof", "-0.5", "-i", ffmpeg_out, "-frames:v", "1",
                      out_dir + "/ffmpeg_last_frame.png"}, {}, nullptr, 60s);
  std::string psnr_out;
  (void)testbed::run({"sh", "-c", "ffmpeg -v info -i '" + out_dir + "/vigil_last_frame.png' -i '" + out_dir +
                                      "/server_screen.png' -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.inf]*'"},
                     {}, &psnr_out, 60s);

  // Per-thread CPU over the session (threads that ran during it).
  nlohmann::json per_thread = nlohmann::json::array();
  double recorder_cpu = 0;
  for (const auto& [tid, c1] : threads1) {
    const auto it = threads0.find(tid);
    const double d = c1 - (it == threads0.end() ? 0.0 : it->second);
    const std::string label = labels.count(tid) ? labels[tid] : "?";
    if (label == "record") recorder_cpu += d;
    if (d > 0.005) per_thread.push_back({{"tid", tid}, {"label", label}, {"cpu_s", d}});
  }
  if (recorder_cpu <= 0) fail("no CPU time for vigil's \"record\" thread: threads seen " + nlohmann::json(labels).dump());
  const double hour = 3600.0 / session_s;
  nlohmann::json r = {
      {"session_s", session_s},
      {"vigil", {{"process_cpu_s", vigil_cpu}, {"recorder_thread_cpu_s", recorder_cpu},
                 {"recording_bytes", rec_bytes}, {"mb_per_hour", double(rec_bytes) / 1e6 * hour},
                 {"probe", rec_probe}, {"threads", per_thread}, {"viewer_updates", updates},
                 {"viewer_updates_per_s", double(updates) / session_s}, {"psnr_last_vs_screen", psnr_out}}},
      {"ffmpeg", {{"cpu_s", ff_cpu}, {"bytes", ff_bytes}, {"mb_per_hour", double(ff_bytes) / 1e6 * hour},
                  {"probe", ff_probe}}},
      {"x11vnc_cpu_s", x11vnc_cpu},
      {"ratio_recorder_thread_vs_ffmpeg", ff_cpu > 0 ? recorder_cpu / ff_cpu : -1},
      {"ratio_vigil_process_vs_ffmpeg", ff_cpu > 0 ? vigil_cpu / ff_cpu : -1},
      {"loadavg", testbed::readFile("/proc/loadavg")},
  };
  std::ofstream(out_dir + "/results.json") << r.dump(2) << "\n";
  (void)testbed::run({"cp", work + "/vigil.log", out_dir + "/vigil.log"});
  std::printf("%s\n", r.dump(2).c_str());
  n.gateway.stop(5s);
  if (!getenv("VIGIL_KEEP_TEST_DIRS")) (void)testbed::run({"rm", "-rf", work});
  return 0;
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  std::string out = "bench-out/recorder";
  int seconds = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--out") out = argv[i + 1];
    else if (a == "--seconds") seconds = std::stoi(argv[i + 1]);
  }
  return vigil::bench::run(out, seconds);
}
