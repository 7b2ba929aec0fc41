// Test helpers for the OCR tests: child processes in their own process group
// (killed with their children on destruction, also when a test fails) and a
// virtual X desktop (Xvfb + a window manager) on a free display number.
// Private to tests/ocr: the shared testbed did not exist when this was written.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace vigil::ocr::testing {

class Child {
 public:
  Child() = default;
  // Starts argv[0] (PATH lookup) in a new process group; stdout/stderr go
  // to `log` (or /dev/null). `env` entries ("K=V") override the inherited ones.
  static Result<Child> spawn(const std::vector<std::string>& argv,
                             const std::vector<std::string>& env = {},
                             const std::string& log = "/dev/null");
  ~Child() { stop(); }
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM to the whole group, SIGKILL after 2 s; reaps the leader.
  void stop();

 private:
  pid_t pid_ = -1;
};

// Runs a command to completion (killed after timeout_ms); returns its exit
// code (-1 on spawn failure or timeout) and stdout in `out`.
int runCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
               std::string* out = nullptr, int timeout_ms = 20000);

enum class Wm { Openbox, Xfwm4, Icewm };

struct WmSpec {
  Wm wm = Wm::Openbox;
  std::string theme;  // openbox theme name, xfwm4 theme, icewm theme dir
  std::string label;  // for reports: "openbox/Clearlooks"
};

class XDesktop {
 public:
  XDesktop() = default;
  ~XDesktop() { stop(); }
  XDesktop(const XDesktop&) = delete;
  XDesktop& operator=(const XDesktop&) = delete;

  // Xvfb on a free display, then the window manager; waits until the WM
  // owns the screen. `workdir` holds private config (HOME for the WM).
  Status start(int width, int height, const WmSpec& wm, const std::string& workdir);
  void stop();
  const std::string& display() const { return display_; }
  // {"DISPLAY=:N", "LC_ALL=C.UTF-8", ...} for clients on this desktop.
  std::vector<std::string> env() const;

 private:
  std::string display_;
  std::string workdir_;
  Child xvfb_, wm_;
};

}  // namespace vigil::ocr::testing
