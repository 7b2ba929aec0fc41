#include "tests/ocr/x_desktop.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

extern char** environ;

namespace vigil::ocr::testing {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> mergedEnv(const std::vector<std::string>& extra) {
  std::map<std::string, std::string> kv;
  for (char** e = environ; *e; ++e) {
    std::string s(*e);
    const auto eq = s.find('=');
    if (eq != std::string::npos) kv[s.substr(0, eq)] = s.substr(eq + 1);
  }
  for (const std::string& s : extra) {
    const auto eq = s.find('=');
    if (eq != std::string::npos) kv[s.substr(0, eq)] = s.substr(eq + 1);
  }
  std::vector<std::string> out;
  for (const auto& [k, v] : kv) out.push_back(k + "=" + v);
  return out;
}

pid_t spawnRaw(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               const std::string& out_path) {
  std::vector<char*> av;
  for (const std::string& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  const std::vector<std::string> merged = mergedEnv(env);
  std::vector<char*> ev;
  for (const std::string& e : merged) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&at, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, av[0], &fa, &at, av.data(), ev.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc == 0 ? pid : -1;
}

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return cond();
}

}  // namespace

Result<Child> Child::spawn(const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const std::string& log) {
  const pid_t pid = spawnRaw(argv, env, log);
  if (pid < 0) return Status::Error("cannot start " + argv[0] + " (is it installed?)");
  Child c;
  c.pid_ = pid;
  return c;
}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = o.pid_;
    o.pid_ = -1;
  }
  return *this;
}

bool Child::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  const pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    // Leader gone; its group may live on (dbus-run-session children).
    kill(-pid_, SIGTERM);
    pid_ = -1;
    return false;
  }
  return true;
}

void Child::stop() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGTERM);
  bool reaped = false;
  for (int i = 0; i < 40 && !reaped; ++i) {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) reaped = true;
    else std::this_thread::sleep_for(50ms);
  }
  kill(-pid_, SIGKILL);  // stragglers in the group (dbus, xfconfd)
  if (!reaped) {
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  pid_ = -1;
}

int runCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
               std::string* out, int timeout_ms) {
  char tmpl[] = "/tmp/vigil-ocr-cmd-XXXXXX";
  const int fd = mkstemp(tmpl);
  if (fd < 0) return -1;
  close(fd);
  const pid_t pid = spawnRaw(argv, env, tmpl);
  int code = -1;
  if (pid > 0) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    int st = 0;
    for (;;) {
      const pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        break;
      }
      if (std::chrono::steady_clock::now() > end) {
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  if (out) {
    std::ifstream f(tmpl);
    std::stringstream ss;
    ss << f.rdbuf();
    *out = ss.str();
  }
  unlink(tmpl);
  return code;
}

Status XDesktop::start(int width, int height, const WmSpec& wm, const std::string& workdir) {
  namespace fs = std::filesystem;
  workdir_ = workdir;
  fs::create_directories(workdir);
  // A display number nobody holds: no lock file and no socket.
  // Desktops started side by side in one process take distinct numbers.
  static std::atomic<int> next{0};
  int n = 300 + static_cast<int>((getpid() * 7 + next.fetch_add(13)) % 400);
  for (int tries = 0; tries < 400; ++tries, n = 300 + (n - 300 + 1) % 400) {
    if (!fs::exists("/tmp/.X" + std::to_string(n) + "-lock") &&
        !fs::exists("/tmp/.X11-unix/X" + std::to_string(n)))
      break;
  }
  display_ = ":" + std::to_string(n);
  // -noreset: the probes below connect and leave; a server that resets when
  // its last client goes can refuse the window manager connecting just then.
  auto xvfb = Child::spawn({"Xvfb", display_, "-screen", "0",
                            std::to_string(width) + "x" + std::to_string(height) + "x24",
                            "-nolisten", "tcp", "-noreset"},
                           {}, workdir + "/xvfb.log");
  if (!xvfb) return xvfb.status();
  xvfb_ = std::move(*xvfb);
  if (!waitFor([&] { return runCommand({"xdpyinfo"}, env(), nullptr, 3000) == 0; }, 15s))
    return Status::Error("Xvfb did not start on " + display_ + " (see " + workdir + "/xvfb.log)");

  std::vector<std::string> argv;
  std::vector<std::string> wm_env = env();
  wm_env.push_back("HOME=" + workdir);
  wm_env.push_back("XDG_CONFIG_HOME=" + workdir + "/cfg");
  switch (wm.wm) {
    case Wm::Openbox: {
      std::ofstream(workdir + "/rc.xml")
          << "<?xml version=\"1.0\"?>\n<openbox_config xmlns=\"http://openbox.org/3.4/rc\">"
             "<theme><name>"
          << wm.theme
          << "</name><titleLayout>NLIMC</titleLayout></theme>"
             "<focus><focusNew>yes</focusNew></focus></openbox_config>\n";
      argv = {"openbox", "--config-file", workdir + "/rc.xml"};
      break;
    }
    case Wm::Xfwm4: {
      const std::string dir = workdir + "/cfg/xfce4/xfconf/xfce-perchannel-xml";
      fs::create_directories(dir);
      std::ofstream(dir + "/xfwm4.xml")
          << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<channel name=\"xfwm4\" "
             "version=\"1.0\"><property name=\"general\" type=\"empty\"><property "
             "name=\"theme\" type=\"string\" value=\""
          << wm.theme
          << "\"/><property name=\"use_compositing\" type=\"bool\" value=\"false\"/>"
             "</property></channel>\n";
      // xfwm4 reads its settings over D-Bus (xfconfd): give it a private bus.
      argv = {"dbus-run-session", "--", "xfwm4", "--compositor=off"};
      break;
    }
    case Wm::Icewm:
      argv = {"icewm", "--theme=" + wm.theme + "/default.theme"};
      break;
  }
  auto w = Child::spawn(argv, wm_env, workdir + "/wm.log");
  if (!w) return w.status();
  wm_ = std::move(*w);
  // The WM owns the screen once it advertises itself (EWMH check window).
  const bool up = waitFor(
      [&] {
        std::string out;
        return runCommand({"xprop", "-root", "_NET_SUPPORTING_WM_CHECK"}, env(), &out, 3000) == 0 &&
               out.find("window id") != std::string::npos;
      },
      20s);
  if (!up) return Status::Error("window manager " + argv[0] + " did not start (see " + workdir +
                                "/wm.log)");
  // Not black: dark themes' captions must stand out from the desktop, as
  // they do on any real wallpaper.
  if (runCommand({"xsetroot", "-solid", "#3a6ea5"}, env()) != 0)
    return Status::Error("xsetroot failed (is x11-xserver-utils installed?)");
  return Status::Ok();
}

void XDesktop::stop() {
  wm_.stop();
  xvfb_.stop();
}

std::vector<std::string> XDesktop::env() const {
  return {"DISPLAY=" + display_, "LC_ALL=C.UTF-8", "LANG=C.UTF-8"};
}

}  // namespace vigil::ocr::testing
