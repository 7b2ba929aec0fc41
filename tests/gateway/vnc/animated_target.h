// An in-process libvncserver 0.9.14 target for the VNC adapter's tests. It
// serves each client on its own threads (rfbRunEventLoop(…, TRUE), as
// programs built on libvncserver often do), animates a square as fast as it
// can and timestamps every pointer event it receives.
#pragma once

#include <arpa/inet.h>
#include <rfb/rfb.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/frame.h"

namespace vigil::gateway::vnc::testing {

inline std::int64_t nowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class AnimatedTarget {
 public:
  static constexpr int kW = 640, kH = 480;

  explicit AnimatedTarget(std::uint16_t port) : fb_(kW, kH) {
    screen_ = rfbGetScreen(nullptr, nullptr, kW, kH, 8, 3, 4);
    screen_->frameBuffer = reinterpret_cast<char*>(fb_.data());
    screen_->port = port;
    screen_->ipv6port = 0;
    screen_->listenInterface = htonl(INADDR_LOOPBACK);
    screen_->httpPort = 0;
    screen_->screenData = this;
    screen_->deferUpdateTime = 0;
    screen_->deferPtrUpdateTime = 0;
    screen_->cursor = nullptr;
    passwords_[0] = const_cast<char*>("tgtpw");
    screen_->authPasswdData = passwords_;
    screen_->passwordCheck = rfbCheckPasswordByList;
    screen_->ptrAddEvent = [](int, int x, int y, rfbClientPtr cl) {
      auto* me = static_cast<AnimatedTarget*>(cl->screen->screenData);
      std::lock_guard lock(me->mu_);
      me->received_[y * kW + x] = nowUs();
    };
    rfbInitServer(screen_);
    rfbRunEventLoop(screen_, -1, TRUE);  // a thread per client (and one more for its output)
    animator_ = std::thread([this] {
      using namespace std::chrono_literals;
      int i = 0;
      while (!stop_) {
        const int x = (i * 7) % (kW - 64), y = (i * 3) % (kH - 64);
        fb_.fill({x, y, 64, 64}, static_cast<std::uint32_t>(i * 2654435761u) & 0xffffff);
        rfbMarkRectAsModified(screen_, x, y, x + 64, y + 64);
        ++i;
        std::this_thread::sleep_for(1ms);
      }
    });
  }
  ~AnimatedTarget() {
    stop_ = true;
    animator_.join();
    rfbShutdownServer(screen_, TRUE);
    rfbScreenCleanup(screen_);
  }
  AnimatedTarget(const AnimatedTarget&) = delete;
  AnimatedTarget& operator=(const AnimatedTarget&) = delete;

  std::optional<std::int64_t> receivedAt(int x, int y) {
    std::lock_guard lock(mu_);
    auto it = received_.find(y * kW + x);
    if (it == received_.end()) return std::nullopt;
    return it->second;
  }

 private:
  Frame fb_;
  rfbScreenInfoPtr screen_ = nullptr;
  char* passwords_[2] = {nullptr, nullptr};
  std::atomic<bool> stop_{false};
  std::thread animator_;
  std::mutex mu_;
  std::map<int, std::int64_t> received_;
};

}  // namespace vigil::gateway::vnc::testing
