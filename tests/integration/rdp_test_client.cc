#include "tests/integration/rdp_test_client.h"

#include <freerdp/input.h>

#include <cstring>
#include <thread>

namespace vigil::integration {

bool usScancode(char c, std::uint8_t* scancode, bool* shift) {
  // Each row of a US keyboard, unshifted and shifted, from its first scancode.
  struct Row {
    std::uint8_t first;
    const char* plain;
    const char* shifted;
  };
  static constexpr Row kRows[] = {
      {0x02, "1234567890-=", "!@#$%^&*()_+"},
      {0x10, "qwertyuiop[]", "QWERTYUIOP{}"},
      {0x1E, "asdfghjkl;'`", "ASDFGHJKL:\"~"},
      {0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?"},
  };
  if (c == ' ') {
    *scancode = 0x39;
    *shift = false;
    return true;
  }
  if (c == '\n') {
    *scancode = 0x1C;
    *shift = false;
    return true;
  }
  for (const Row& r : kRows) {
    if (const char* p = std::strchr(r.plain, c); p && c) {
      *scancode = static_cast<std::uint8_t>(r.first + (p - r.plain));
      *shift = false;
      return true;
    }
    if (const char* p = std::strchr(r.shifted, c); p && c) {
      *scancode = static_cast<std::uint8_t>(r.first + (p - r.shifted));
      *shift = true;
      return true;
    }
  }
  return false;
}

RdpTestClient::RdpTestClient(const Options& opts) : on_paint_(opts.on_paint) {
  gateway::rdp::RdpClientOptions o;
  o.host = opts.host;
  o.port = opts.port;
  o.username = opts.username;
  o.password = opts.password;
  o.width = opts.width;
  o.height = opts.height;
  o.gfx = opts.gfx;
  o.remotefx = opts.remotefx;
  o.clipboard = false;
  o.connect_timeout_ms = opts.connect_timeout_ms;
  client_ = std::make_unique<gateway::rdp::RdpClient>(o, this);
}

Result<std::unique_ptr<RdpTestClient>> RdpTestClient::connect(const Options& opts) {
  std::unique_ptr<RdpTestClient> c(new RdpTestClient(opts));
  if (Status st = c->client_->connect(); !st.ok()) return st;
  c->client_->start();
  return c;
}

RdpTestClient::~RdpTestClient() { disconnect(); }

void RdpTestClient::disconnect() {
  if (client_) client_->stop();
}

bool RdpTestClient::typeText(const std::string& text, std::chrono::milliseconds per_key) {
  constexpr std::uint16_t kLeftShift = 0x2A;
  for (char ch : text) {
    std::uint8_t sc = 0;
    bool shift = false;
    if (!usScancode(ch, &sc, &shift)) return false;
    if (shift && !client_->sendKey(KBD_FLAGS_DOWN, kLeftShift)) return false;
    if (!client_->tapKey(sc)) return false;
    if (shift && !client_->sendKey(KBD_FLAGS_RELEASE, kLeftShift)) return false;
    std::this_thread::sleep_for(per_key);
  }
  return true;
}

Frame RdpTestClient::snapshot() const {
  Frame copy;
  client_->readScreen([&](const Frame& screen) { copy = screen; });
  return copy;
}

void RdpTestClient::onPaint(const Frame& screen, const DirtyRegion& changed) {
  ++updates_;
  pixels_ += static_cast<std::uint64_t>(changed.area());
  if (on_paint_) on_paint_(screen, changed);
}

void RdpTestClient::onDisconnected(const std::string&) { disconnected_ = true; }

}  // namespace vigil::integration
