// Test bed for integration tests: real programs (Xvfb, openbox, xterm,
// x11vnc, redis-server, freerdp-shadow-cli, ...) started on free ports and
// unique X displays, and killed when their owner goes away, even when a test
// fails. A missing program is an error (the test fails), never a skip.
// Not thread-safe unless a function says so; meant for test main threads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/frame.h"
#include "core/status.h"

namespace vigil::testbed {

using namespace std::chrono_literals;

// A TCP port that was free on 127.0.0.1 a moment ago (bind to 0, close).
std::uint16_t freeTcpPort();
// Polls `pred` until it returns true or `timeout` passes; returns its last value.
bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds interval = 20ms);
// True once a TCP connect to host:port succeeds within `timeout`.
bool waitForPort(std::uint16_t port, std::chrono::milliseconds timeout,
                 const std::string& host = "127.0.0.1");
// Absolute path of `name` found in PATH, or "" when it is not installed.
std::string findExecutable(const std::string& name);
// A fresh private directory under /tmp (removed by the caller if wanted).
std::string makeTempDir(const std::string& prefix);

// Environment additions for a child: {"DISPLAY", ":12"}.
using Env = std::vector<std::pair<std::string, std::string>>;

// A child process in its own process group. Destroying (or stop()) sends
// SIGTERM to the whole group, then SIGKILL after a grace period, and reaps it.
class Process {
 public:
  struct Options {
    Env env;
    std::string log_path;  // stdout+stderr go here; "" = /dev/null
    // If >= 0, this descriptor of the parent is passed to the child as fd 3.
    int pass_fd = -1;
  };
  // argv[0] is looked up in PATH. Fails if it is not installed or fork fails.
  static Result<Process> start(std::vector<std::string> argv, Options opts);
  static Result<Process> start(std::vector<std::string> argv) { return start(std::move(argv), {}); }

  Process() = default;
  Process(Process&& o) noexcept : pid_(std::exchange(o.pid_, -1)), name_(std::move(o.name_)) {}
  Process& operator=(Process&& o) noexcept;
  ~Process() { stop(); }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  bool running();
  // Kills the group (SIGTERM, then SIGKILL after `grace`) and reaps it.
  void stop(std::chrono::milliseconds grace = 2000ms);
  // Waits for the child to exit by itself; returns its exit status (or -1).
  int wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::string name_;
  int status_ = -1;
};

// Runs a program to completion (at most `timeout`), returns its exit code,
// its stdout in *out if given.
Result<int> run(std::vector<std::string> argv, const Env& env = {}, std::string* out = nullptr,
                std::chrono::milliseconds timeout = 20s);

// Reads a binary PPM (P6, maxval 255) into a BGRX Frame.
Result<Frame> parsePpm(const std::string& bytes);
// The other way: a BGRX Frame as a binary PPM, which tesseract and ffmpeg read.
std::string ppmBytes(const Frame& f);
// Peak signal-to-noise ratio over R,G,B of two same-size frames (dB;
// +infinity when identical, 0 when the sizes differ).
double psnr(const Frame& a, const Frame& b);

// A virtual X display: Xvfb on a display number it picks itself
// (-displayfd), optionally with openbox as window manager.
class XDisplay {
 public:
  static Result<std::unique_ptr<XDisplay>> start(int width = 1280, int height = 800,
                                                 bool window_manager = true);
  // TigerVNC's Xvnc instead of Xvfb: an X display that is also a VNC server
  // on 127.0.0.1:rfb_port (VNC authentication, password file from
  // writeVncPasswordFile), with openbox if asked.
  static Result<std::unique_ptr<XDisplay>> startXvnc(std::uint16_t rfb_port, const std::string& password_file,
                                                     int width = 1280, int height = 800,
                                                     bool window_manager = false);
  ~XDisplay();

  int number() const { return number_; }
  std::string name() const { return ":" + std::to_string(number_); }
  Env env() const { return {{"DISPLAY", name()}}; }
  int width() const { return width_; }
  int height() const { return height_; }

  // Starts a program on this display (owned by the caller).
  Result<Process> spawn(std::vector<std::string> argv, const std::string& log_path = "") const;
  // Starts an xterm titled `title` and waits until its window is mapped;
  // returns the process. The window can then be found with xdotool.
  Result<Process> startXterm(const std::string& title,
                             const std::string& geometry = "100x30+50+50") const;
  // Runs a program on this display to completion (xdotool, xwininfo, ...).
  Result<int> run(std::vector<std::string> argv, std::string* out = nullptr) const;
  // The whole screen as the server sees it (ImageMagick `import`).
  Result<Frame> screenshot() const;
  // The screen once two shots 300 ms apart agree (> 60 dB), or the last of
  // 20 tries: a client's display after it has finished drawing.
  Frame settledScreenshot() const;

 private:
  XDisplay() = default;
  // Starts `argv` (an X server taking -displayfd 3) and, if asked, openbox.
  static Result<std::unique_ptr<XDisplay>> startServer(std::vector<std::string> argv, int width, int height,
                                                       bool window_manager);
  int number_ = -1, width_ = 0, height_ = 0;
  Process xvfb_, wm_;
};

// A VNC password file as vncpasswd writes it (for Xvnc -PasswordFile and
// xtigervncviewer -passwd).
Status writeVncPasswordFile(const std::string& password, const std::string& path);

// x11vnc sharing `display` on 127.0.0.1:port with a VNC password.
// Its log (connections appear as "Got connection from client") goes to log_path.
Result<Process> startX11vnc(const XDisplay& display, std::uint16_t port, const std::string& password,
                            const std::string& log_path);

// xrdp and its session manager as an RDP target closer to a Windows server
// than freerdp-shadow: TLS only, its own logon, a fresh X session per user.
// A logon as `user` (a local account, made if absent, whose password is set
// to `password`) gets an Xvnc session running only an xterm titled
// `xterm_title` with a plain shell. Needs root (useradd, chpasswd, PAM).
// xrdp-sesman listens on its fixed port 3350, so one at a time per machine.
class XrdpServer {
 public:
  static Result<std::unique_ptr<XrdpServer>> start(const std::string& dir, std::uint16_t port,
                                                   const std::string& user, const std::string& password,
                                                   const std::string& xterm_title);
  ~XrdpServer();  // stops xrdp, sesman and the user's sessions

  std::uint16_t port() const { return port_; }
  // DISPLAY and XAUTHORITY of the user's session, once a client has logged
  // on (waits up to `timeout`); empty if there is none.
  Env sessionEnv(std::chrono::milliseconds timeout = 20s) const;
  // The session's whole screen, as XDisplay::screenshot().
  Result<Frame> screenshot() const;

 private:
  XrdpServer() = default;
  std::uint16_t port_ = 0;
  std::string user_;
  Process sesman_, xrdp_;
};

// redis-server on 127.0.0.1:port, no persistence, data under `dir`.
Result<Process> startRedis(std::uint16_t port, const std::string& dir);

// The whole content of a file ("" if absent).
std::string readFile(const std::string& path);

}  // namespace vigil::testbed
