#include "gateway/vnc/vnc_relay.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <rfb/rfb.h>
#include <rfb/rfbclient.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/thread_name.h"
#include "gateway/callback_guard.h"
#include "gateway/vnc/vnc_log.h"

namespace vigil::gateway::vnc {
namespace {

// libvncclient keys its per-connection user data by an address.
char kClientDataTag;
// What one queued key or pointer event counts against the byte bound.
constexpr std::size_t kQueuedEventBytes = 16;
constexpr std::size_t kMaxQueuedServerCut = 8;
// The client state enum is declared inside the C struct, so C++ scopes it.
constexpr int kRfbNormal = rfbClientRec::RFB_NORMAL;

std::int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::size_t queuedBytes(const std::variant<KeyInput, PointerInput, std::string>& in) {
  const auto* text = std::get_if<std::string>(&in);
  return kQueuedEventBytes + (text ? text->size() : 0);
}

// libvncclient says why a handshake failed only in its log; a refused
// password reads "VNC authentication failed" or "authentication failure".
bool isAuthFailure(const std::string& why) {
  std::string lower;
  for (char c : why) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower.find("authentication fail") != std::string::npos ||
         lower.find("password") != std::string::npos;
}

void drainEventFd(int fd) {
  std::uint64_t v;
  while (::read(fd, &v, sizeof v) > 0) {
  }
}

void signalEventFd(int fd) {
  if (fd < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

std::string latin1ToUtf8(const char* text, std::size_t len) {
  std::string out;
  out.reserve(len);
  for (std::size_t i = 0; i < len; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// Code points above U+00FF become '?': classic RFB cut text is Latin-1.
std::string utf8ToLatin1(const char* text, std::size_t len) {
  std::string out;
  out.reserve(len);
  std::size_t i = 0;
  while (i < len) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (n == 2 && i + 1 < len) {
      const unsigned cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3Fu);
      out.push_back(cp <= 0xFF ? static_cast<char>(cp) : '?');
    } else {
      out.push_back('?');
    }
    i += n;
  }
  return out;
}

// Keeps a cut of UTF-8 text from ending inside a multi-byte sequence.
std::size_t utf8Cut(const char* text, std::size_t len, std::size_t max) {
  if (len <= max) return len;
  std::size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return n;
}

VncRelay* relayOf(rfbClientPtr cl) { return static_cast<VncRelay*>(cl->screen->screenData); }
VncRelay* relayOf(rfbClient* c) {
  return static_cast<VncRelay*>(rfbClientGetClientData(c, &kClientDataTag));
}

// --- libvncserver hooks (client-leg thread) ---
rfbBool passwordCheckHook(rfbClientPtr cl, const char* response, int len) {
  return guarded("vnc: password check", FALSE, [&]() -> rfbBool {
    return relayOf(cl)->onPasswordCheck(reinterpret_cast<const std::uint8_t*>(response), len) ? TRUE
                                                                                               : FALSE;
  });
}
void keyHook(rfbBool down, rfbKeySym keysym, rfbClientPtr cl) {
  guardedVoid("vnc: key", [&] { relayOf(cl)->onClientKey(down != FALSE, keysym); });
}
void pointerHook(int buttons, int x, int y, rfbClientPtr cl) {
  guardedVoid("vnc: pointer", [&] { relayOf(cl)->onClientPointer(buttons, x, y); });
}
void cutTextHook(char* str, int len, rfbClientPtr cl) {
  guardedVoid("vnc: cut text", [&] { relayOf(cl)->onClientCutText(str, len, false); });
}
void cutTextUtf8Hook(char* str, int len, rfbClientPtr cl) {
  guardedVoid("vnc: cut text", [&] { relayOf(cl)->onClientCutText(str, len, true); });
}

// --- libvncclient hooks (target-leg thread; during the handshake, the
// client-leg thread before the target-leg thread exists) ---
rfbBool mallocFrameBufferHook(rfbClient* c) {
  return guarded("vnc: target framebuffer", FALSE,
                 [&]() -> rfbBool { return relayOf(c)->onTargetMallocFrameBuffer(c) ? TRUE : FALSE; });
}
void gotUpdateHook(rfbClient* c, int x, int y, int w, int h) {
  guardedVoid("vnc: target update", [&] { relayOf(c)->onTargetRect(x, y, w, h); });
}
void finishedUpdateHook(rfbClient* c) {
  guardedVoid("vnc: target update", [&] { relayOf(c)->onTargetUpdateFinished(); });
}
void gotCutTextHook(rfbClient* c, const char* text, int len) {
  guardedVoid("vnc: target cut text", [&] { relayOf(c)->onTargetCutText(text, len); });
}
void bellHook(rfbClient* c) {
  guardedVoid("vnc: target bell", [&] { relayOf(c)->onTargetBell(); });
}
char* getPasswordHook(rfbClient* c) {
  return guarded("vnc: target password", static_cast<char*>(nullptr),
                 [&] { return relayOf(c)->onTargetGetPassword(); });
}

// The one pixel format on both legs: 32 bpp, depth 24, B,G,R,X in memory.
void setBgrx(rfbPixelFormat& f) {
  f.bitsPerPixel = 32;
  f.depth = 24;
  f.bigEndian = FALSE;
  f.trueColour = TRUE;
  f.redMax = f.greenMax = f.blueMax = 255;
  f.redShift = 16;
  f.greenShift = 8;
  f.blueShift = 0;
}

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

void VncRelay::ScreenDeleter::operator()(_rfbScreenInfo* s) const {
  // Also ends (rfbClientConnectionGone) the client still attached: closes its
  // socket and frees it.
  rfbScreenCleanup(s);
}
void VncRelay::ClientDeleter::operator()(_rfbClient* c) const {
  // Closes the target socket; the framebuffer is ours and is not touched.
  rfbClientCleanup(c);
}

VncRelay::VncRelay(int fd, std::string client_addr, const TargetConfig& target,
                   ConnectionDeps deps, const VncOptions& opts, DoorPass pass)
    : client_addr_(client_addr),
      target_(target),
      opts_(opts),
      core_(deps, Protocol::Vnc, std::move(client_addr), std::move(pass)),
      client_fd_(fd) {
  client_ctl_fd_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  client_wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  target_wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

VncRelay::~VncRelay() {
  closeFd(client_fd_);
  closeFd(client_wake_fd_);
  closeFd(target_wake_fd_);
  std::lock_guard lock(state_mutex_);
  closeFd(client_ctl_fd_);
  closeFd(target_ctl_fd_);
}


void VncRelay::close(const std::string& reason) {
  {
    std::lock_guard lock(state_mutex_);
    if (end_reason_.empty()) end_reason_ = reason;
    closing_ = true;
    // shutdown() on our duplicate of each socket makes the leg's blocked
    // read/poll return at once; the libraries close their own descriptors.
    if (client_ctl_fd_ >= 0) ::shutdown(client_ctl_fd_, SHUT_RDWR);
    if (target_ctl_fd_ >= 0) ::shutdown(target_ctl_fd_, SHUT_RDWR);
  }
  wakeClientLeg();
  wakeTargetLeg();
}

void VncRelay::setEndReason(const std::string& reason) {
  std::lock_guard lock(state_mutex_);
  if (end_reason_.empty()) end_reason_ = reason;
}

std::string VncRelay::endReason() {
  std::lock_guard lock(state_mutex_);
  return end_reason_;
}

void VncRelay::wakeClientLeg() { signalEventFd(client_wake_fd_); }
void VncRelay::wakeTargetLeg() { signalEventFd(target_wake_fd_); }

void VncRelay::refreshScreen() {
  refresh_wanted_ = true;
  wakeTargetLeg();
}

// ---------------------------------------------------------------- client leg

void VncRelay::run() {
  nameThisThread("vnc-user");
  if (client_ctl_fd_ < 0 || client_wake_fd_ < 0 || target_wake_fd_ < 0) {
    setEndReason("out of file descriptors");
  } else if (setUpScreen()) {
    serveClient();
  }
  close(endReason().empty() ? "client disconnected" : endReason());

  if (target_thread_.joinable()) target_thread_.join();
  target_client_.reset();
  if (client_) {
    // rfbScreenCleanup frees only clients whose socket is still open; a
    // client libvncserver already closed must be freed here.
    if (client_->sock != RFB_INVALID_SOCKET) rfbCloseClient(client_);
    rfbClientConnectionGone(client_);
    client_ = nullptr;
  }
  screen_.reset();
  {
    std::lock_guard lock(state_mutex_);
    closeFd(client_ctl_fd_);
    closeFd(target_ctl_fd_);
  }

  const std::string reason = endReason();
  if (session_) {
    core_.finish(reason);
  } else {
    spdlog::debug("vnc connection ended client={} target={} reason=\"{}\"", client_addr_,
                  target_.name, reason);
  }
}

bool VncRelay::setUpScreen() {
  served_ = std::make_unique<Frame>(8, 8);
  {
    // libvncserver 0.9.14's rfbGetScreen initializes its log mutex behind
    // an unlocked flag; never let two run at once (the client-list mutex it
    // used to re-initialize: see rfbClientListInit at the end).
    static std::mutex create_mutex;
    std::lock_guard lock(create_mutex);
    screen_.reset(rfbGetScreen(nullptr, nullptr, 8, 8, 8, 3, 4));
  }
  if (!screen_) {
    setEndReason("out of memory");
    return false;
  }
  rfbScreenInfoPtr s = screen_.get();
  s->frameBuffer = reinterpret_cast<char*>(served_->data());
  s->depth = 24;
  setBgrx(s->serverFormat);
  desktop_name_ = target_.name;
  s->desktopName = desktop_name_.c_str();
  s->screenData = this;
  // Non-null so that libvncserver offers VNC authentication (and only that);
  // our passwordCheck never reads it.
  s->authPasswdData = this;
  s->passwordCheck = passwordCheckHook;
  s->kbdAddEvent = keyHook;
  s->ptrAddEvent = pointerHook;
  s->setXCutText = cutTextHook;
  s->setXCutTextUTF8 = cutTextUtf8Hook;
  // No server-drawn cursor: the target draws its own into the framebuffer,
  // and libvncserver must never write into the shared pixels.
  s->cursor = nullptr;
  s->deferUpdateTime = 0;
  s->deferPtrUpdateTime = 0;
  s->port = s->ipv6port = s->httpPort = 0;  // never listens: the socket is handed in

  // libvncserver keeps client sockets in fd_sets (select), so a descriptor
  // past FD_SETSIZE would overflow them.
  if (client_fd_ >= FD_SETSIZE) {
    setEndReason("too many open descriptors");
    return false;
  }
  const int fd = client_fd_;
  client_fd_ = -1;  // rfbNewClient owns it from here, even when it fails
  client_ = rfbNewClient(s, fd);
  if (!client_) {
    setEndReason("client disconnected during greeting");
    return false;
  }
  return true;
}

void VncRelay::serveClient() {
  while (!closing_) {
    const int sock = client_->sock;
    if (sock == RFB_INVALID_SOCKET) break;
    pollfd fds[2] = {{sock, POLLIN, 0}, {client_wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, 1000);
    if (n < 0 && errno != EINTR) {
      setEndReason("client poll failed");
      break;
    }
    if (closing_) break;
    if (fds[1].revents & POLLIN) drainEventFd(client_wake_fd_);
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      rfbProcessClientMessage(client_);
      if (client_->sock == RFB_INVALID_SOCKET) {
        setEndReason(refused_ ? "refused" : "client disconnected");
        break;
      }
    }
    if (client_->state == kRfbNormal) {
      applyTargetOutput();
      rfbUpdateClient(client_);
      if (client_->sock == RFB_INVALID_SOCKET) {
        setEndReason("client disconnected");
        break;
      }
    }
  }
}

void VncRelay::applyTargetOutput() {
  DirtyRegion damage;
  std::deque<std::string> cuts;
  int bells = 0;
  {
    std::lock_guard lock(share_mutex_);
    if (resize_pending_ && !staging_.empty()) {
      // libvncserver reads only served_, and only on this thread: the new
      // frame replaces it before anything else is sent.
      auto f = std::make_unique<Frame>(staging_);
      rfbScreenInfoPtr s = screen_.get();
      rfbNewFramebuffer(s, reinterpret_cast<char*>(f->data()), f->width(), f->height(), 8, 3, 4);
      // rfbNewFramebuffer resets the format to its own default: put ours back.
      s->depth = 24;
      setBgrx(s->serverFormat);
      s->setTranslateFunction(client_);
      served_ = std::move(f);
      resize_pending_ = false;
    }
    damage = std::move(damage_);
    damage_.clear();
    damage.clipTo(served_->width(), served_->height());
    if (staging_.width() == served_->width() && staging_.height() == served_->height())
      for (const Rect& r : damage.rects()) served_->copyRect(staging_, r);
    cuts.swap(server_cut_);
    bells = std::exchange(bells_, 0);
  }
  if (client_->state != kRfbNormal) return;  // only the resize may happen earlier
  for (const Rect& r : damage.rects()) {
    rfbMarkRectAsModified(screen_.get(), r.x, r.y, r.x + r.w, r.y + r.h);
  }
  for (std::string& text : cuts) {
    rfbSendServerCutText(screen_.get(), text.data(), static_cast<int>(text.size()));
  }
  for (int i = 0; i < bells; ++i) rfbSendBell(screen_.get());
}

bool VncRelay::onPasswordCheck(const std::uint8_t* response, int len) {
  if (len != CHALLENGESIZE || closing_) {
    refused_ = true;
    return false;
  }
  std::array<std::uint8_t, 16> challenge{}, resp{};
  std::memcpy(challenge.data(), client_->authChallenge, challenge.size());
  std::memcpy(resp.data(), response, resp.size());

  Result<std::shared_ptr<Session>> session = core_.admitVnc(target_, challenge, resp);
  if (!session.ok() || closing_) {
    refused_ = true;
    setEndReason("refused: " + (session.ok() ? std::string("connection closed") : session.message()));
    return false;
  }
  session_ = *session;

  if (Status st = connectTarget(); !st.ok()) {
    refused_ = true;
    setEndReason(core_.targetFailed(target_failure_, st.message()));
    return false;
  }
  applyTargetOutput();  // sizes the screen so ServerInit carries the target's size
  if (Status st = core_.targetConnected(this, served_->width(), served_->height()); !st.ok()) {
    refused_ = true;
    setEndReason(st.message());
    return false;
  }
  session_->resized(served_->width(), served_->height());
  target_running_ = true;
  target_thread_ = std::thread(&VncRelay::runTargetLeg, this);
  return true;
}

void VncRelay::onClientKey(bool down, std::uint32_t keysym) {
  if (!session_) return;
  const KeyInput k{keysym, down};
  if (session_->input(k)) queueInput(k);  // false: a rule holds it back
}

void VncRelay::onClientPointer(int buttons, int x, int y) {
  if (!session_) return;
  const PointerInput p{std::clamp(x, 0, std::max(0, served_->width() - 1)),
                       std::clamp(y, 0, std::max(0, served_->height() - 1)),
                       static_cast<std::uint32_t>(buttons) & 0xFFu};
  if (session_->input(p)) queueInput(p);
}

void VncRelay::onClientCutText(const char* text, int len, bool utf8) {
  if (!session_ || len < 0 || text == nullptr) return;
  const std::size_t max = opts_.max_clipboard_bytes;
  std::size_t n = static_cast<std::size_t>(len);
  if (utf8) {
    n = utf8Cut(text, n, max);
    if (session_->input(ClipboardInput{std::string(text, n), Direction::ClientToServer}))
      queueInput(utf8ToLatin1(text, n));
  } else {
    n = std::min(n, max);
    if (session_->input(ClipboardInput{latin1ToUtf8(text, n), Direction::ClientToServer}))
      queueInput(std::string(text, n));
  }
}

void VncRelay::queueInput(QueuedInput in) {
  bool overflow = false;
  {
    std::lock_guard lock(input_mutex_);
    auto* p = std::get_if<PointerInput>(&in);
    auto* last = input_.empty() ? nullptr : std::get_if<PointerInput>(&input_.back());
    const std::size_t bytes = queuedBytes(in);
    if (p && last && last->buttons == p->buttons) {
      *last = *p;  // pointer moves coalesce; button changes never do
    } else if (input_bytes_ + bytes > opts_.max_queued_input_bytes) {
      overflow = true;
    } else {
      input_bytes_ += bytes;
      input_.push_back(std::move(in));
    }
  }
  if (overflow) {
    spdlog::warn("vnc input queue overflow client={} target={}", client_addr_, target_.name);
    setEndReason("input queue overflow");
    close("input queue overflow");
    return;
  }
  wakeTargetLeg();
}

// ---------------------------------------------------------------- target leg

Result<int> VncRelay::connectTcp() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(target_.port);
  if (int rc = ::getaddrinfo(target_.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Status::Error("cannot resolve " + target_.host + ": " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(res, ::freeaddrinfo);
  std::string last_error = "no address";
  const std::int64_t deadline = steadyMs() + opts_.target_timeout.count();
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (fd >= FD_SETSIZE) {  // libvncclient select()s on it
      ::close(fd);
      return Status::Error("too many open descriptors");
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    while (rc != 0) {
      const std::int64_t left = deadline - steadyMs();
      if (left <= 0 || closing_) break;
      pollfd fds[2] = {{fd, POLLOUT, 0}, {target_wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left, 1000)));
      if (n < 0 && errno != EINTR) break;
      if (fds[0].revents != 0) {
        int err = 0;
        socklen_t elen = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        if (err == 0) {
          rc = 0;
        } else {
          last_error = std::strerror(err);
          break;
        }
      }
    }
    if (rc == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    ::close(fd);
    if (closing_) return Status::Error("connection closed");
    if (steadyMs() >= deadline) return Status::Error("timed out connecting");
  }
  return Status::Error(last_error);
}

Status VncRelay::connectTarget() {
  Result<int> fd = connectTcp();
  if (!fd.ok()) return fd.status();
  {
    std::lock_guard lock(state_mutex_);
    if (closing_) {
      ::close(*fd);
      return Status::Error("connection closed");
    }
    target_ctl_fd_ = ::fcntl(*fd, F_DUPFD_CLOEXEC, 0);
  }
  ClientPtr c(rfbGetClient(8, 3, 4));
  if (!c) {
    ::close(*fd);
    return Status::Error("out of memory");
  }
  setBgrx(c->format);
  c->appData.useRemoteCursor = FALSE;  // the target draws the cursor into the pixels
  c->appData.enableJPEG = FALSE;       // lossless: the recording must match the screen
  c->canHandleNewFBSize = TRUE;
  c->MallocFrameBuffer = mallocFrameBufferHook;
  c->GotFrameBufferUpdate = gotUpdateHook;
  c->FinishedFrameBufferUpdate = finishedUpdateHook;
  c->GotXCutText = gotCutTextHook;
  c->Bell = bellHook;
  c->GetPassword = getPasswordHook;
  rfbClientSetClientData(c.get(), &kClientDataTag, this);
  std::free(c->serverHost);  // rfbGetClient's placeholder
  c->serverHost = ::strdup(target_.host.c_str());
  c->serverPort = target_.port;
  c->listenSpecified = TRUE;  // use our connected socket
  c->sock = *fd;
  c->readTimeout = static_cast<unsigned>(std::max<long long>(1, opts_.target_timeout.count() / 1000));

  clearClientErrorOnThisThread();
  target_why_.clear();
  rfbClient* raw = c.release();
  if (!rfbInitClient(raw, nullptr, nullptr)) {  // frees `raw` and closes the socket
    std::string why = !target_why_.empty() ? target_why_ : lastClientErrorOnThisThread();
    if (closing_) why = "connection closed";
    if (target_failure_ == TargetFailure::Unreachable && isAuthFailure(why))
      target_failure_ = TargetFailure::Rejected;
    while (!why.empty() && (why.back() == '.' || why.back() == ' ' || why.back() == '\n'))
      why.pop_back();
    return Status::Error(why.empty() ? "VNC handshake with the target failed" : why);
  }
  target_client_.reset(raw);
  return Status::Ok();
}

void VncRelay::runTargetLeg() {
  nameThisThread("vnc-target");
  rfbClient* c = target_client_.get();
  clearClientErrorOnThisThread();
  std::string why;
  while (!closing_) {
    pollfd fds[2] = {{c->sock, POLLIN, 0}, {target_wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, c->buffered > 0 ? 0 : 1000);
    if (n < 0 && errno != EINTR) {
      why = "poll failed";
      break;
    }
    if (closing_) break;
    if (fds[1].revents & POLLIN) drainEventFd(target_wake_fd_);
    // The target leg owns the frame's pixels, so it alone may hand them on.
    if (refresh_wanted_.exchange(false) && target_running_ && target_frame_)
      session_->frame(*target_frame_, DirtyRegion{});
    if (!sendQueuedInput()) {
      why = "write failed";
      break;
    }
    if (c->buffered > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      if (!HandleRFBServerMessage(c)) {
        why = !target_why_.empty() ? target_why_ : lastClientErrorOnThisThread();
        if (why.empty()) why = "connection lost";
        break;
      }
    }
  }
  if (!closing_) {
    while (!why.empty() && (why.back() == '.' || why.back() == ' ')) why.pop_back();
    spdlog::info("vnc target disconnected target={}: {}", target_.name, why);
    setEndReason("target disconnected: " + why);
    close("target disconnected: " + why);
  }
}

bool VncRelay::sendQueuedInput() {
  std::deque<QueuedInput> batch;
  {
    std::lock_guard lock(input_mutex_);
    batch.swap(input_);
    input_bytes_ = 0;
  }
  rfbClient* c = target_client_.get();
  for (QueuedInput& in : batch) {
    rfbBool ok = TRUE;
    if (auto* k = std::get_if<KeyInput>(&in)) {
      ok = SendKeyEvent(c, k->keysym, k->down ? TRUE : FALSE);
    } else if (auto* p = std::get_if<PointerInput>(&in)) {
      ok = SendPointerEvent(c, p->x, p->y, static_cast<int>(p->buttons));
    } else if (auto* text = std::get_if<std::string>(&in)) {
      ok = SendClientCutText(c, text->data(), static_cast<int>(text->size()));
    }
    if (!ok) return false;
  }
  return true;
}

bool VncRelay::onTargetMallocFrameBuffer(rfbClient* c) {
  const int w = c->width, h = c->height;
  if (Status st = core_.resized(w, h); !st.ok()) {
    target_why_ = st.message();
    target_failure_ = TargetFailure::TooLarge;
    return false;
  }
  if (c->format.bitsPerPixel != 32) {
    target_why_ = "unexpected pixel format";
    return false;
  }
  // The old frame's pixels were this leg's alone (the client leg serves its
  // own copy), so it can go at once.
  target_frame_ = std::make_unique<Frame>(w, h);
  c->frameBuffer = target_frame_->data();
  {
    std::lock_guard lock(share_mutex_);
    staging_.resize(w, h);
    resize_pending_ = true;
    damage_.clear();  // the switch sends the whole screen
  }
  accum_.clear();
  if (target_running_) {
    session_->resized(w, h);
    wakeClientLeg();
  }
  return true;
}

void VncRelay::onTargetRect(int x, int y, int w, int h) {
  if (!target_frame_) return;
  // libvncclient checks rects against its size; clip again so that nothing
  // downstream can be handed a rect outside the frame.
  const Rect r = Rect{x, y, w, h}.intersect(target_frame_->bounds());
  if (!r.empty()) accum_.add(r);
}

void VncRelay::onTargetUpdateFinished() {
  if (accum_.empty() || !target_frame_) return;
  if (target_running_) session_->frame(*target_frame_, accum_);
  {
    std::lock_guard lock(share_mutex_);
    if (staging_.width() == target_frame_->width() && staging_.height() == target_frame_->height())
      for (const Rect& r : accum_.rects()) staging_.copyRect(*target_frame_, r);
    damage_.add(accum_);
  }
  accum_.clear();
  wakeClientLeg();
}

void VncRelay::onTargetCutText(const char* text, int len) {
  if (text == nullptr || len < 0 || !session_) return;
  const std::size_t n = std::min(static_cast<std::size_t>(len), opts_.max_clipboard_bytes);
  (void)session_->input(ClipboardInput{latin1ToUtf8(text, n), Direction::ServerToClient});
  {
    std::lock_guard lock(share_mutex_);
    if (server_cut_.size() >= kMaxQueuedServerCut) server_cut_.pop_front();
    server_cut_.emplace_back(text, n);
  }
  wakeClientLeg();
}

void VncRelay::onTargetBell() {
  {
    std::lock_guard lock(share_mutex_);
    bells_ = std::min(bells_ + 1, 4);
  }
  wakeClientLeg();
}

// libvncclient frees the returned copy; the password is never logged.
char* VncRelay::onTargetGetPassword() { return ::strdup(target_.password.c_str()); }

}  // namespace vigil::gateway::vnc

// libvncserver 0.9.14 keeps every screen's client list under one static
// mutex, and rfbGetScreen re-initializes it (rfbClientListInit) for each new
// screen, while other connections' threads may be holding it (ThreadSanitizer
// caught it: pthread_mutex_init in one relay's rfbGetScreen against
// rfbClientIteratorNext in another's). The mutex is zero-initialized, which
// is PTHREAD_MUTEX_INITIALIZER on glibc, so a new screen needs only its empty
// list. The executable's definition replaces the library's (rfbGetScreen
// calls it through the PLT); checked against this version only.
static_assert(std::string_view(LIBVNCSERVER_VERSION) == "0.9.14",
              "re-check rfbClientListInit in this libvncserver before keeping this override");
extern "C" void rfbClientListInit(rfbScreenInfoPtr screen) { screen->clientHead = nullptr; }
