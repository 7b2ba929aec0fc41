#include "tests/testbed/testbed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace vigil::testbed {
namespace {

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Child side of fork(): only async-signal-safe calls until exec.
[[noreturn]] void execChild(const std::string& path, const std::vector<std::string>& argv,
                            const Env& env, int out_fd, int pass_fd) {
  ::setpgid(0, 0);
  // Die with the test even if it is killed before its destructors run.
  int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, 0);
  if (out_fd >= 0) {
    ::dup2(out_fd, 1);
    ::dup2(out_fd, 2);
  }
  if (pass_fd >= 0) {
    if (pass_fd == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else {
      ::dup2(pass_fd, 3);
    }
  }
  for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::signal(SIGPIPE, SIG_DFL);
  ::execv(path.c_str(), args.data());
  ::_exit(127);
}

}  // namespace

std::uint16_t freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(interval);
  }
}

bool waitForPort(std::uint16_t port, std::chrono::milliseconds timeout, const std::string& host) {
  return waitFor(
      [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
      },
      timeout, 50ms);
}

std::string findExecutable(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string full = dir + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

std::string makeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ------------------------------------------------------------------ Process

Result<Process> Process::start(std::vector<std::string> argv, Options opts) {
  if (argv.empty()) return Status::Error("no program given");
  const std::string path = findExecutable(argv[0]);
  if (path.empty()) {
    return Status::Error(argv[0] + " is not installed (apt-get install the package providing it)");
  }
  int out_fd = -1;
  if (!opts.log_path.empty()) {
    out_fd = ::open(opts.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  } else {
    out_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    if (out_fd >= 0) ::close(out_fd);
    return Status::Error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) execChild(path, argv, opts.env, out_fd, opts.pass_fd);
  ::setpgid(pid, pid);  // also in the child: whichever runs first
  if (out_fd >= 0) ::close(out_fd);
  Process p;
  p.pid_ = pid;
  p.name_ = argv[0];
  return p;
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    stop();
    pid_ = std::exchange(o.pid_, -1);
    name_ = std::move(o.name_);
    status_ = o.status_;
  }
  return *this;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    // The leader is gone; take its group with it.
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  const std::int64_t deadline = nowMs() + timeout.count();
  while (pid_ > 0) {
    int st = 0;
    const pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = st;
      pid_ = -1;
      break;
    }
    if (nowMs() > deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

void Process::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGTERM);
  ::kill(pid_, SIGTERM);
  if (wait(grace) == -1 && pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  if (pid_ <= 0) return;
}

Result<int> run(std::vector<std::string> argv, const Env& env, std::string* out,
                std::chrono::milliseconds timeout) {
  int pipefd[2] = {-1, -1};
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::Error("pipe failed");
  const std::string path = argv.empty() ? "" : findExecutable(argv[0]);
  if (path.empty()) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return Status::Error((argv.empty() ? std::string("?") : argv[0]) + " is not installed");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    execChild(path, argv, env, -1, -1);
  }
  ::close(pipefd[1]);
  if (pid < 0) {
    ::close(pipefd[0]);
    return Status::Error("fork failed");
  }
  ::setpgid(pid, pid);
  std::string data;
  const std::int64_t deadline = nowMs() + timeout.count();
  char buf[65536];
  while (true) {
    const std::int64_t left = deadline - nowMs();
    if (left <= 0) break;
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  int st = 0;
  while (true) {
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid) break;
    if (nowMs() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &st, 0);
      return Status::Error(argv[0] + " timed out");
    }
    std::this_thread::sleep_for(5ms);
  }
  if (out) *out = std::move(data);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

// --------------------------------------------------------------- images

Result<Frame> parsePpm(const std::string& bytes) {
  std::size_t pos = 0;
  auto token = [&]() -> std::string {
    while (pos < bytes.size()) {
      if (bytes[pos] == '#') {
        while (pos < bytes.size() && bytes[pos] != '\n') ++pos;
      } else if (std::isspace(static_cast<unsigned char>(bytes[pos]))) {
        ++pos;
      } else {
        break;
      }
    }
    std::string t;
    while (pos < bytes.size() && !std::isspace(static_cast<unsigned char>(bytes[pos]))) t += bytes[pos++];
    return t;
  };
  if (token() != "P6") return Status::Error("not a binary PPM (P6)");
  const int w = std::atoi(token().c_str());
  const int h = std::atoi(token().c_str());
  const int maxval = std::atoi(token().c_str());
  ++pos;  // the single whitespace after maxval
  if (w <= 0 || h <= 0 || maxval != 255) return Status::Error("unsupported PPM header");
  if (bytes.size() < pos + static_cast<std::size_t>(w) * h * 3) return Status::Error("short PPM");
  Frame f(w, h);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
  for (int y = 0; y < h; ++y) {
    std::uint8_t* row = f.row(y);
    for (int x = 0; x < w; ++x, p += 3) {
      row[x * 4 + 0] = p[2];
      row[x * 4 + 1] = p[1];
      row[x * 4 + 2] = p[0];
      row[x * 4 + 3] = 0;
    }
  }
  return f;
}

std::string ppmBytes(const Frame& f) {
  std::string out = "P6\n" + std::to_string(f.width()) + " " + std::to_string(f.height()) + "\n255\n";
  out.reserve(out.size() + static_cast<std::size_t>(f.width()) * f.height() * 3);
  for (int y = 0; y < f.height(); ++y) {
    const std::uint8_t* row = f.row(y);
    for (int x = 0; x < f.width(); ++x) {
      out += static_cast<char>(row[x * 4 + 2]);
      out += static_cast<char>(row[x * 4 + 1]);
      out += static_cast<char>(row[x * 4 + 0]);
    }
  }
  return out;
}

double psnr(const Frame& a, const Frame& b) {
  if (a.width() != b.width() || a.height() != b.height() || a.empty()) return 0.0;
  double sse = 0;
  for (int y = 0; y < a.height(); ++y) {
    const std::uint8_t* ra = a.row(y);
    const std::uint8_t* rb = b.row(y);
    for (int x = 0; x < a.width() * 4; x += 4) {
      for (int c = 0; c < 3; ++c) {
        const double d = double(ra[x + c]) - double(rb[x + c]);
        sse += d * d;
      }
    }
  }
  if (sse == 0) return INFINITY;
  const double mse = sse / (3.0 * a.width() * a.height());
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

// --------------------------------------------------------------- XDisplay

Result<std::unique_ptr<XDisplay>> XDisplay::start(int width, int height, bool window_manager) {
  return startServer({"Xvfb", "-screen", "0", std::to_string(width) + "x" + std::to_string(height) + "x24"},
                     width, height, window_manager);
}

Result<std::unique_ptr<XDisplay>> XDisplay::startXvnc(std::uint16_t rfb_port, const std::string& password_file,
                                                      int width, int height, bool window_manager) {
  return startServer({"Xvnc", "-geometry", std::to_string(width) + "x" + std::to_string(height), "-depth", "24",
                      "-rfbport", std::to_string(rfb_port), "-localhost", "-SecurityTypes", "VncAuth",
                      "-PasswordFile", password_file},
                     width, height, window_manager);
}

Result<std::unique_ptr<XDisplay>> XDisplay::startServer(std::vector<std::string> argv, int width, int height,
                                                        bool window_manager) {
  std::unique_ptr<XDisplay> d(new XDisplay());
  d->width_ = width;
  d->height_ = height;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status::Error("pipe failed");
  Process::Options o;
  o.pass_fd = fds[1];
  // -displayfd: Xvfb picks a free display number and writes it when ready,
  // so parallel tests never race for a number.
  for (const char* a : {"-displayfd", "3", "-nolisten", "tcp", "-noreset"}) argv.push_back(a);
  const std::string server = argv[0];
  auto xvfb = Process::start(std::move(argv), o);
  ::close(fds[1]);
  if (!xvfb.ok()) {
    ::close(fds[0]);
    return xvfb.status();
  }
  d->xvfb_ = std::move(*xvfb);
  std::string num;
  const std::int64_t deadline = nowMs() + 20000;
  while (nowMs() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      char c;
      const ssize_t n = ::read(fds[0], &c, 1);
      if (n <= 0) break;
      if (c == '\n') break;
      num += c;
    }
  }
  ::close(fds[0]);
  if (num.empty()) return Status::Error(server + " did not start (no display number)");
  d->number_ = std::atoi(num.c_str());
  if (window_manager) {
    auto wm = d->spawn({"openbox"});
    if (!wm.ok()) return wm.status();
    d->wm_ = std::move(*wm);
    // openbox sets _NET_SUPPORTING_WM_CHECK on the root once it manages.
    waitFor(
        [&] {
          std::string out;
          auto rc = d->run({"xprop", "-root", "_NET_SUPPORTING_WM_CHECK"}, &out);
          return rc.ok() && out.find("window id") != std::string::npos;
        },
        10s, 100ms);
  }
  return d;
}

Status writeVncPasswordFile(const std::string& password, const std::string& path) {
  // vncpasswd -f (tigervnc-tools): the password on stdin, the file on stdout.
  auto rc = run({"sh", "-c", "printf '%s\\n' \"$0\" | vncpasswd -f > \"$1\"", password, path});
  if (!rc.ok()) return rc.status();
  if (*rc != 0 || readFile(path).size() != 8) return Status::Error("vncpasswd -f failed for " + path);
  return Status::Ok();
}

XDisplay::~XDisplay() {
  wm_.stop();
  xvfb_.stop();
}

Result<Process> XDisplay::spawn(std::vector<std::string> argv, const std::string& log_path) const {
  Process::Options o;
  o.env = env();
  o.log_path = log_path;
  return Process::start(std::move(argv), o);
}

Result<int> XDisplay::run(std::vector<std::string> argv, std::string* out) const {
  return testbed::run(std::move(argv), env(), out);
}

Result<Process> XDisplay::startXterm(const std::string& title, const std::string& geometry) const {
  // A shell without the machine's startup files: those can make a shell
  // slow to start, or hang it (a pyenv init waits 60 s on a lock that a
  // shell killed at the end of an earlier test left behind), and a line
  // typed by a test would then not run in time.
  auto p = spawn({"xterm", "-T", title, "-geometry", geometry, "-fa", "Monospace", "-fs", "11", "-e", "bash",
                  "--norc", "--noprofile"});
  if (!p.ok()) return p;
  const bool up = waitFor(
      [&] {
        std::string out;
        auto rc = run({"xdotool", "search", "--onlyvisible", "--name", title}, &out);
        return rc.ok() && *rc == 0 && !out.empty();
      },
      15s, 100ms);
  if (!up) return Status::Error("xterm window '" + title + "' did not appear");
  return p;
}

Result<Frame> XDisplay::screenshot() const {
  std::string out;
  auto rc = run({"import", "-silent", "-window", "root", "-depth", "8", "ppm:-"}, &out);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) return Status::Error("import failed with status " + std::to_string(*rc));
  return parsePpm(out);
}

Frame XDisplay::settledScreenshot() const {
  Frame last;
  for (int i = 0; i < 20; ++i) {
    auto shot = screenshot();
    if (shot.ok()) {
      if (!last.empty() && psnr(last, *shot) > 60.0) return *shot;
      last = *shot;
    }
    std::this_thread::sleep_for(300ms);
  }
  return last;
}

Result<Process> startX11vnc(const XDisplay& display, std::uint16_t port, const std::string& password,
                            const std::string& log_path) {
  auto p = display.spawn({"x11vnc", "-display", display.name(), "-rfbport", std::to_string(port),
                          "-localhost", "-passwd", password, "-forever", "-shared", "-nopw",
                          "-noipv6", "-norc"},
                         log_path);
  if (!p.ok()) return p;
  if (!waitForPort(port, 20s)) return Status::Error("x11vnc did not listen on port " + std::to_string(port));
  return p;
}

namespace {

int exitCode(const Result<int>& rc) { return rc.ok() ? *rc : -1; }

// Copies an ini file, replacing `key=...` lines (first occurrence per key in
// each section is enough for xrdp's Globals, which come first).
Status writeIni(const std::string& from, const std::string& to,
                const std::vector<std::pair<std::string, std::string>>& values) {
  std::istringstream in(readFile(from));
  if (in.str().empty()) return Status::Error(from + " is missing (is xrdp installed?)");
  std::ofstream out(to);
  std::set<std::string> done;
  for (std::string line; std::getline(in, line);) {
    for (const auto& [key, value] : values)
      if (!done.count(key) && line.rfind(key + "=", 0) == 0) {
        line = key + "=" + value;
        done.insert(key);
      }
    out << line << "\n";
  }
  return out ? Status::Ok() : Status::Error("cannot write " + to);
}

}  // namespace

Result<std::unique_ptr<XrdpServer>> XrdpServer::start(const std::string& dir, std::uint16_t port,
                                                      const std::string& user, const std::string& password,
                                                      const std::string& xterm_title) {
  std::unique_ptr<XrdpServer> x(new XrdpServer());
  x->port_ = port;
  x->user_ = user;
  if (exitCode(run({"id", user})) != 0 && exitCode(run({"useradd", "-m", "-s", "/bin/bash", user})) != 0)
    return Status::Error("useradd " + user + " failed (xrdp needs a local account; run as root)");
  std::string ignored;
  if (exitCode(run({"sh", "-c", "echo '" + user + ":" + password + "' | chpasswd"}, {}, &ignored)) != 0)
    return Status::Error("chpasswd failed for " + user);
  // sesman runs the user's own ~/startwm.sh: here only the terminal.
  const std::string home = "/home/" + user;
  {
    std::ofstream wm(home + "/startwm.sh");
    wm << "#!/bin/sh\nexec xterm -T '" << xterm_title
       << "' -geometry 100x30+60+60 -fa Monospace -fs 11 -e bash --norc --noprofile\n";
  }
  if (exitCode(run({"chmod", "755", home + "/startwm.sh"})) != 0) return Status::Error("chmod startwm.sh failed");
  (void)run({"pkill", "-u", user});  // a session left by an earlier run would be reused
  if (auto st = writeIni("/etc/xrdp/sesman.ini", dir + "/sesman.ini",
                         {{"LogFile", dir + "/sesman.log"}, {"EnableSyslog", "false"}});
      !st.ok())
    return st;
  if (auto st = writeIni("/etc/xrdp/xrdp.ini", dir + "/xrdp.ini",
                         {{"port", "tcp://127.0.0.1:" + std::to_string(port)},
                          {"autorun", "Xvnc"},
                          {"fork", "false"},
                          {"LogFile", dir + "/xrdp.log"},
                          {"EnableSyslog", "false"}});
      !st.ok())
    return st;
  Process::Options o;
  o.log_path = dir + "/sesman.out";
  auto sesman = Process::start({"xrdp-sesman", "--nodaemon", "-c", dir + "/sesman.ini"}, o);
  if (!sesman.ok()) return sesman.status();
  x->sesman_ = std::move(*sesman);
  o.log_path = dir + "/xrdp.out";
  auto xrdp = Process::start({"xrdp", "--nodaemon", "-c", dir + "/xrdp.ini"}, o);
  if (!xrdp.ok()) return xrdp.status();
  x->xrdp_ = std::move(*xrdp);
  if (!waitForPort(port, 10s)) return Status::Error("xrdp did not listen on " + std::to_string(port));
  return x;
}

XrdpServer::~XrdpServer() {
  xrdp_.stop();
  sesman_.stop();
  if (!user_.empty()) (void)run({"pkill", "-u", user_});
}

Env XrdpServer::sessionEnv(std::chrono::milliseconds timeout) const {
  std::string display;
  waitFor([&] {
    std::string out;
    if (exitCode(run({"pgrep", "-u", user_, "-a", "Xvnc"}, {}, &out)) != 0) return false;
    const auto at = out.find(" :");
    if (at == std::string::npos) return false;
    display = out.substr(at + 1, out.find(' ', at + 1) - at - 1);
    return true;
  }, timeout, 200ms);
  if (display.empty()) return {};
  return {{"DISPLAY", display}, {"XAUTHORITY", "/home/" + user_ + "/.Xauthority"}};
}

Result<Frame> XrdpServer::screenshot() const {
  const Env env = sessionEnv();
  if (env.empty()) return Status::Error("no xrdp session is running");
  std::string out;
  auto rc = run({"import", "-silent", "-window", "root", "-depth", "8", "ppm:-"}, env, &out);
  if (!rc.ok()) return rc.status();
  if (*rc != 0) return Status::Error("import failed with status " + std::to_string(*rc));
  return parsePpm(out);
}

Result<Process> startRedis(std::uint16_t port, const std::string& dir) {
  auto p = Process::start({"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", dir});
  if (!p.ok()) return p;
  if (!waitForPort(port, 10s)) return Status::Error("redis-server did not listen");
  return p;
}

}  // namespace vigil::testbed
