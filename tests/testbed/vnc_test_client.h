// A VNC viewer for tests, driven by code: libvncclient on its own thread,
// 32 bpp BGRX like the gateway, counting framebuffer updates. Connects to
// the gateway (or any VNC server) with a password.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "core/frame.h"
#include "core/status.h"

struct _rfbClient;

namespace vigil::testbed {

class VncTestClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    std::string password;
    std::string encodings = "copyrect tight zrle hextile zlib raw";
  };
  // Connects and authenticates on the calling thread (fails on a refused
  // password), then reads updates on its own thread.
  static Result<std::unique_ptr<VncTestClient>> connect(const Options& opts);
  ~VncTestClient();  // disconnects
  VncTestClient(const VncTestClient&) = delete;
  VncTestClient& operator=(const VncTestClient&) = delete;

  // Thread-safe; sent in order by the client thread.
  void key(std::uint32_t keysym, bool down);
  void pointer(int x, int y, int buttons);
  void clipboard(const std::string& latin1);
  // Presses and releases each character (ASCII; '\n' is Return).
  void typeText(const std::string& text);

  // Thread-safe reads.
  Frame snapshot() const;
  int width() const;
  int height() const;
  std::uint64_t updates() const { return updates_.load(); }
  bool connected() const { return connected_.load(); }
  std::string serverCutText() const;
  // Closes the connection now (the server sees the client go away).
  void disconnect();

 private:
  using Input = std::variant<std::pair<std::uint32_t, bool>, std::array<int, 3>, std::string>;
  VncTestClient() = default;
  void loop();
  static void onFinished(_rfbClient* c);
  static void onCutText(_rfbClient* c, const char* text, int len);

  _rfbClient* client_ = nullptr;
  std::thread thread_;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> updates_{0};
  mutable std::mutex fb_mutex_;  // held while libvncclient writes pixels
  std::mutex in_mutex_;
  std::deque<Input> in_;
  mutable std::mutex cut_mutex_;
  std::string cut_;
  std::string password_;
  std::string encodings_;
};

}  // namespace vigil::testbed
