#include "tests/testbed/vnc_test_client.h"

#include <poll.h>
#include <rfb/rfbclient.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

namespace vigil::testbed {
namespace {
char kTag;
VncTestClient* self(rfbClient* c) { return static_cast<VncTestClient*>(rfbClientGetClientData(c, &kTag)); }
}  // namespace

void VncTestClient::onFinished(rfbClient* c) { self(c)->updates_++; }

void VncTestClient::onCutText(rfbClient* c, const char* text, int len) {
  VncTestClient* me = self(c);
  std::lock_guard lock(me->cut_mutex_);
  me->cut_.assign(text, static_cast<std::size_t>(std::max(0, len)));
}

Result<std::unique_ptr<VncTestClient>> VncTestClient::connect(const Options& opts) {
  // libvncclient writes with plain write(): a gateway that refuses and hangs
  // up mid-handshake must fail the connect, not kill the test process.
  std::signal(SIGPIPE, SIG_IGN);
  std::unique_ptr<VncTestClient> me(new VncTestClient());
  rfbClient* c = rfbGetClient(8, 3, 4);
  if (!c) return Status::Error("rfbGetClient failed");
  c->format.bitsPerPixel = 32;
  c->format.depth = 24;
  c->format.redShift = 16;
  c->format.greenShift = 8;
  c->format.blueShift = 0;
  c->format.redMax = c->format.greenMax = c->format.blueMax = 255;
  me->encodings_ = opts.encodings;
  c->appData.encodingsString = me->encodings_.c_str();
  c->appData.enableJPEG = FALSE;
  c->FinishedFrameBufferUpdate = onFinished;
  c->GotXCutText = onCutText;
  me->password_ = opts.password;
  c->GetPassword = [](rfbClient* cl) -> char* { return ::strdup(self(cl)->password_.c_str()); };
  rfbClientSetClientData(c, &kTag, me.get());
  std::free(c->serverHost);  // rfbGetClient's placeholder
  c->serverHost = ::strdup(opts.host.c_str());
  c->serverPort = opts.port;
  c->connectTimeout = 10;
  c->readTimeout = 20;
  // rfbInitClient frees the client when it fails.
  if (!rfbInitClient(c, nullptr, nullptr)) {
    return Status::Error("VNC connection to " + opts.host + ":" + std::to_string(opts.port) +
                         " failed (refused or unreachable)");
  }
  me->client_ = c;
  me->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  me->connected_ = true;
  me->thread_ = std::thread(&VncTestClient::loop, me.get());
  return me;
}

VncTestClient::~VncTestClient() {
  disconnect();
  if (client_) {
    std::free(client_->frameBuffer);
    client_->frameBuffer = nullptr;
    rfbClientCleanup(client_);
  }
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void VncTestClient::disconnect() {
  stop_ = true;
  if (client_ && client_->sock >= 0) ::shutdown(client_->sock, SHUT_RDWR);
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  connected_ = false;
}

void VncTestClient::loop() {
  while (!stop_) {
    pollfd fds[2] = {{client_->sock, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    ::poll(fds, 2, client_->buffered > 0 ? 0 : 200);
    if (stop_) break;
    if (fds[1].revents & POLLIN) {
      std::uint64_t v;
      [[maybe_unused]] ssize_t n = ::read(wake_fd_, &v, sizeof v);
    }
    std::deque<Input> batch;
    {
      std::lock_guard lock(in_mutex_);
      batch.swap(in_);
    }
    bool ok = true;
    for (Input& in : batch) {
      if (auto* k = std::get_if<std::pair<std::uint32_t, bool>>(&in)) {
        ok = ok && SendKeyEvent(client_, k->first, k->second ? TRUE : FALSE);
      } else if (auto* p = std::get_if<std::array<int, 3>>(&in)) {
        ok = ok && SendPointerEvent(client_, (*p)[0], (*p)[1], (*p)[2]);
      } else if (auto* s = std::get_if<std::string>(&in)) {
        ok = ok && SendClientCutText(client_, s->data(), static_cast<int>(s->size()));
      }
    }
    if (!ok) break;
    if (client_->buffered > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      std::lock_guard lock(fb_mutex_);
      if (!HandleRFBServerMessage(client_)) break;
    }
  }
  connected_ = false;
}

void VncTestClient::key(std::uint32_t keysym, bool down) {
  {
    std::lock_guard lock(in_mutex_);
    in_.emplace_back(std::pair<std::uint32_t, bool>{keysym, down});
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void VncTestClient::pointer(int x, int y, int buttons) {
  {
    std::lock_guard lock(in_mutex_);
    in_.emplace_back(std::array<int, 3>{x, y, buttons});
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void VncTestClient::clipboard(const std::string& latin1) {
  {
    std::lock_guard lock(in_mutex_);
    in_.emplace_back(latin1);
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void VncTestClient::typeText(const std::string& text) {
  for (char ch : text) {
    const std::uint32_t sym = ch == '\n' ? 0xff0d : static_cast<unsigned char>(ch);
    key(sym, true);
    key(sym, false);
  }
}

Frame VncTestClient::snapshot() const {
  std::lock_guard lock(fb_mutex_);
  Frame f(client_->width, client_->height);
  if (client_->frameBuffer) std::memcpy(f.data(), client_->frameBuffer, f.byteSize());
  return f;
}

int VncTestClient::width() const {
  std::lock_guard lock(fb_mutex_);
  return client_->width;
}

int VncTestClient::height() const {
  std::lock_guard lock(fb_mutex_);
  return client_->height;
}

std::string VncTestClient::serverCutText() const {
  std::lock_guard lock(cut_mutex_);
  return cut_;
}

}  // namespace vigil::testbed
