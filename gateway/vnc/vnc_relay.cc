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
#include "gateway/vnc/ext_clipboard.h"
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
// A target's cut text beyond this is read and dropped; far beyond, the
// connection is closed (as libvncclient does for classic text over 1 MiB).
constexpr std::size_t kMaxTargetCutRead = 1u << 20;
constexpr std::size_t kMaxTargetCutDrain = 16u << 20;
// A viewer's size request: smaller sides are refused as an invalid layout
// (max_desktop bounds the other end); the target gets this long to answer.
constexpr int kMinDesktopSide = 64;
constexpr std::int64_t kResizeAnswerMs = 5000;

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
int setDesktopSizeHook(int w, int h, int n, rfbExtDesktopScreen* screens, rfbClientPtr cl) {
  return guarded("vnc: desktop size", static_cast<int>(rfbExtDesktopSize_ResizeProhibited),
                 [&] { return relayOf(cl)->onClientDesktopSize(w, h, n, screens); });
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
  s->setDesktopSizeHook = setDesktopSizeHook;
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
  std::optional<int> resize_answer;
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
    resize_answer = std::exchange(resize_answer_, std::nullopt);
  }
  if (client_->state != kRfbNormal) return;  // only the resize may happen earlier
  if (resize_answer) {
    // The target kept its size: the viewer's request is answered with the
    // current one and the status (a size change answers on its own).
    client_->requestedDesktopSizeChange = rfbExtDesktopSize_ClientRequestedChange;
    client_->lastDesktopSizeChangeError = *resize_answer;
    client_->newFBSizePending = TRUE;
  }
  for (const Rect& r : damage.rects()) {
    rfbMarkRectAsModified(screen_.get(), r.x, r.y, r.x + r.w, r.y + r.h);
  }
  for (std::string& text : cuts) {
    // One viewer per screen: UTF-8 (Extended Clipboard) when it asked for
    // it, else Latin-1. (0.9.14's own fallback writes a wrong length.)
    if (client_->enableExtendedClipboard) {
      rfbSendServerCutTextUTF8(screen_.get(), text.data(), static_cast<int>(text.size()), nullptr, 0);
    } else {
      std::string latin1 = extclip::utf8ToLatin1(text);
      rfbSendServerCutText(screen_.get(), latin1.data(), static_cast<int>(latin1.size()));
    }
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
  std::string_view raw(text, static_cast<std::size_t>(len));
  std::string clip = utf8 ? extclip::cleanUtf8(raw.substr(0, extclip::utf8Cut(raw, opts_.max_clipboard_bytes)))
                          : extclip::latin1ToUtf8(raw.substr(0, opts_.max_clipboard_bytes));
  // Queued as UTF-8: the target leg converts for a Latin-1-only target.
  if (session_->input(ClipboardInput{clip, Direction::ClientToServer})) queueInput(std::move(clip));
}

int VncRelay::onClientDesktopSize(int width, int height, int screens, const rfbExtDesktopScreen* layout) {
  if (!session_) return rfbExtDesktopSize_ResizeProhibited;
  if (!target_sizes_) {
    spdlog::info("vnc session={} event=resize_refused size={}x{}: the target does not take size requests",
                 session_->id(), width, height);
    return rfbExtDesktopSize_ResizeProhibited;
  }
  if (!core_.desktopAllowed(width, height)) {
    spdlog::info("vnc session={} event=resize_refused size={}x{}: beyond max_desktop", session_->id(), width,
                 height);
    return rfbExtDesktopSize_OutOfResources;
  }
  bool valid = width >= kMinDesktopSide && height >= kMinDesktopSide && screens >= 1 && layout != nullptr;
  for (int i = 0; valid && i < screens; ++i) {
    const rfbExtDesktopScreen& s = layout[i];
    valid = s.width > 0 && s.height > 0 && s.x + s.width <= width && s.y + s.height <= height;
  }
  if (!valid) {
    spdlog::info("vnc session={} event=resize_refused size={}x{}: invalid layout", session_->id(), width, height);
    return rfbExtDesktopSize_InvalidScreenLayout;
  }
  {
    std::lock_guard lock(input_mutex_);
    resize_request_ = std::make_pair(width, height);  // a newer request replaces one not yet sent
  }
  wakeTargetLeg();
  return rfbExtDesktopSize_Success;
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
  c->listenSpecified = TRUE;  // our connected socket (as rfbInitClient had it)
  c->sock = *fd;
  c->readTimeout = static_cast<unsigned>(std::max<long long>(1, opts_.target_timeout.count() / 1000));

  clearClientErrorOnThisThread();
  target_why_.clear();
  if (!startTargetProtocol(c.get())) {  // `c` frees the client and closes the socket
    std::string why = !target_why_.empty() ? target_why_ : lastClientErrorOnThisThread();
    if (closing_) why = "connection closed";
    if (target_failure_ == TargetFailure::Unreachable && isAuthFailure(why))
      target_failure_ = TargetFailure::Rejected;
    while (!why.empty() && (why.back() == '.' || why.back() == ' ' || why.back() == '\n'))
      why.pop_back();
    return Status::Error(why.empty() ? "VNC handshake with the target failed" : why);
  }
  target_client_ = std::move(c);
  return Status::Ok();
}

bool VncRelay::startTargetProtocol(rfbClient* c) {
  // What rfbInitClient does for a connected socket (no arguments, listen
  // mode, repeater or scaling here), plus the offer in its place.
  if (!InitialiseRFBConnection(c)) return false;
  c->width = c->si.framebufferWidth;
  c->height = c->si.framebufferHeight;
  if (!c->MallocFrameBuffer(c) || !SetFormatAndEncodings(c)) return false;
  // Before the first update request: a libvncserver 0.9.14 target serving
  // each client on its own threads writes its Extended Clipboard capability
  // without its send lock, from the thread reading our messages, while it
  // handles this SetEncodings; its output thread sends nothing before it
  // has handled an update request. Messages are handled in order, so the
  // capability is out before any update starts and needs no wait. (Sent
  // after the request, it could land inside the first update: "Rect too
  // large: 65535x65528 at (768, 0)".) The relay never sends another
  // SetEncodings, so the capability is not written again.
  if (!offerExtendedClipboard(c)) return false;
  if (c->updateRect.x < 0) c->updateRect = {0, 0, c->width, c->height};
  return SendFramebufferUpdateRequest(c, c->updateRect.x, c->updateRect.y, c->updateRect.w,
                                      c->updateRect.h, FALSE) != FALSE;
}

void VncRelay::runTargetLeg() {
  nameThisThread("vnc-target");
  rfbClient* c = target_client_.get();
  clearClientErrorOnThisThread();
  std::string why;
  while (!closing_ && why.empty()) {
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
    if (!sendQueuedInput() || !sendTargetResize()) {
      why = "write failed";
      break;
    }
    if (c->buffered > 0 || (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      // Cut text is read here when the extension was offered (libvncclient
      // would drop the connection on an extended one).
      const bool ok = nextIsServerCutText() ? readTargetCutText() : HandleRFBServerMessage(c) != FALSE;
      if (!ok) {
        why = !target_why_.empty() ? target_why_ : lastClientErrorOnThisThread();
        if (why.empty()) why = "connection lost";
        break;
      }
      checkTargetResize();
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
      ok = sendTargetClipboard(*text) ? TRUE : FALSE;
    }
    if (!ok) return false;
  }
  return true;
}

// --- The viewer's size requests on the target leg (target-leg thread only) ---

bool VncRelay::sendTargetResize() {
  rfbClient* c = target_client_.get();
  if (resize_inflight_) {
    if (steadyMs() - resize_sent_ms_ < kResizeAnswerMs) return true;
    resize_inflight_ = false;
    spdlog::info("vnc session={} event=resize_unanswered size={}x{}", session_->id(), resize_w_, resize_h_);
    answerClientResize(rfbExtDesktopSize_ResizeProhibited);
  }
  std::optional<std::pair<int, int>> req;
  {
    std::lock_guard lock(input_mutex_);
    req = std::exchange(resize_request_, std::nullopt);
  }
  if (!req) return true;
  resize_w_ = req->first;
  resize_h_ = req->second;
  if (c->width == resize_w_ && c->height == resize_h_) {
    answerClientResize(rfbExtDesktopSize_Success);
    return true;
  }
  // SetDesktopSize with one screen covering the desktop, under the target's
  // own screen id (libvncclient's SendExtDesktopSize leaves the id, position
  // and flags unset).
  std::string msg{static_cast<char>(rfbSetDesktopSize), 0};
  auto put16 = [&](int v) {
    msg.push_back(static_cast<char>((v >> 8) & 0xFF));
    msg.push_back(static_cast<char>(v & 0xFF));
  };
  put16(resize_w_);
  put16(resize_h_);
  msg.push_back(1);  // number of screens
  msg.push_back(0);
  msg.append(reinterpret_cast<const char*>(&target_screen_id_), 4);  // already network order
  put16(0);
  put16(0);
  put16(resize_w_);
  put16(resize_h_);
  msg.append(4, '\0');  // flags
  // libvncclient writes the screen of each ExtendedDesktopSize it reads
  // here: cleared, it tells us when the target's answer has come.
  c->screen.width = 0;
  resize_inflight_ = true;
  resize_sent_ms_ = steadyMs();
  resize_from_w_ = c->width;
  resize_from_h_ = c->height;
  spdlog::info("vnc session={} event=resize_requested size={}x{} from={}x{}", session_->id(), resize_w_,
               resize_h_, c->width, c->height);
  return WriteToRFBServer(c, msg.data(), static_cast<unsigned>(msg.size())) != FALSE;
}

void VncRelay::checkTargetResize() {
  rfbClient* c = target_client_.get();
  if (c->screen.width == 0) return;
  if (!target_sizes_.exchange(true))
    spdlog::debug("vnc target={} event=extended_desktop_size", target_.name);
  target_screen_id_ = c->screen.id;
  if (!resize_inflight_) return;
  resize_inflight_ = false;
  // A change (the size asked for, or the nearest the target could do)
  // reaches the viewer through the new framebuffer; no change is a refusal.
  const bool changed = c->width != resize_from_w_ || c->height != resize_from_h_;
  spdlog::info("vnc session={} event={} size={}x{}", session_->id(),
               changed ? "resize_granted" : "resize_refused_by_target", c->width, c->height);
  if (!changed) answerClientResize(rfbExtDesktopSize_ResizeProhibited);
}

void VncRelay::answerClientResize(int status) {
  {
    std::lock_guard lock(share_mutex_);
    resize_answer_ = status;
  }
  wakeClientLeg();
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
  if (text == nullptr || len < 0) return;
  const std::string_view raw(text, std::min(static_cast<std::size_t>(len), opts_.max_clipboard_bytes));
  onTargetClipboard(extclip::latin1ToUtf8(raw));
}

void VncRelay::onTargetClipboard(std::string utf8) {
  if (!session_) return;
  (void)session_->input(ClipboardInput{utf8, Direction::ServerToClient});
  {
    std::lock_guard lock(share_mutex_);
    if (server_cut_.size() >= kMaxQueuedServerCut) server_cut_.pop_front();
    server_cut_.push_back(std::move(utf8));
  }
  wakeClientLeg();
}

// --- Extended Clipboard on the target leg (target-leg thread; the offer before it starts) ---

bool VncRelay::offerExtendedClipboard(rfbClient* c) {
  // Messages are read off the socket between libvncclient's: not possible
  // under its TLS or SASL layers, where the target stays on Latin-1.
  if (c->tlsSession != nullptr || c->saslconn != nullptr) return true;
  // libvncclient has just sent its encodings without the extension; a second
  // SetEncodings (allowed at any time) lists what it decodes, plus it. Its
  // default encodingsString, compress level 3, no JPEG, no remote cursor.
  const std::uint32_t encodings[] = {
      rfbEncodingTight,        rfbEncodingZRLE,          rfbEncodingUltra,
      rfbEncodingUltraZip,     rfbEncodingCopyRect,      rfbEncodingHextile,
      rfbEncodingZlib,         rfbEncodingCoRRE,         rfbEncodingRRE,
      rfbEncodingRaw,          rfbEncodingCompressLevel0 + 3,
      rfbEncodingKeyboardLedState, rfbEncodingNewFBSize, rfbEncodingExtDesktopSize,
      rfbEncodingLastRect,     rfbEncodingSupportedMessages, rfbEncodingSupportedEncodings,
      rfbEncodingServerIdentity, rfbEncodingXvp,         rfbEncodingQemuExtendedKeyEvent,
      extclip::kPseudoEncoding};
  std::string msg{static_cast<char>(rfbSetEncodings), 0};
  const auto n = static_cast<std::uint16_t>(std::size(encodings));
  msg.push_back(static_cast<char>(n >> 8));
  msg.push_back(static_cast<char>(n & 0xFF));
  for (std::uint32_t e : encodings)
    for (int shift = 24; shift >= 0; shift -= 8) msg.push_back(static_cast<char>((e >> shift) & 0xFF));
  if (!WriteToRFBServer(c, msg.data(), static_cast<unsigned>(msg.size()))) return false;
  ext_offered_ = true;
  return true;
}

bool VncRelay::nextIsServerCutText() {
  rfbClient* c = target_client_.get();
  if (!ext_offered_) return false;
  if (c->buffered > 0) return static_cast<unsigned char>(c->bufoutptr[0]) == rfbServerCutText;
  unsigned char type = 0;
  return ::recv(c->sock, &type, 1, MSG_PEEK | MSG_DONTWAIT) == 1 && type == rfbServerCutText;
}

bool VncRelay::readTargetCutText() {
  rfbClient* c = target_client_.get();
  char hdr[sz_rfbServerCutTextMsg];
  if (!ReadFromRFBServer(c, hdr, sizeof hdr)) return false;
  std::uint32_t raw_len = 0;
  for (int i = 4; i < 8; ++i) raw_len = raw_len << 8 | static_cast<unsigned char>(hdr[i]);
  const bool extended = (raw_len & 0x80000000u) != 0;
  const std::size_t len = extended ? (~raw_len + 1u) : raw_len;
  if (len > kMaxTargetCutDrain) {
    target_why_ = "target sent " + std::to_string(len) + " bytes of clipboard";
    return false;
  }
  std::string data(std::min(len, kMaxTargetCutRead), '\0');
  if (!data.empty() && !ReadFromRFBServer(c, data.data(), static_cast<unsigned>(data.size()))) return false;
  for (std::size_t left = len - data.size(); left > 0;) {  // too long: drained, dropped
    char sink[8192];
    const auto n = static_cast<unsigned>(std::min(left, sizeof sink));
    if (!ReadFromRFBServer(c, sink, n)) return false;
    left -= n;
  }
  if (len > kMaxTargetCutRead) {
    spdlog::info("vnc target={} event=clipboard_dropped bytes={}", target_.name, len);
    return true;
  }
  if (!extended) {
    onTargetCutText(data.data(), static_cast<int>(std::min(data.size(), opts_.max_clipboard_bytes)));
    return true;
  }
  auto m = extclip::parse(data, opts_.max_clipboard_bytes);
  if (!m.ok()) {
    target_why_ = m.message();
    return false;
  }
  return onTargetExtended(*m);
}

bool VncRelay::onTargetExtended(const extclip::Message& m) {
  rfbClient* c = target_client_.get();
  auto write = [&](const std::string& msg) {
    return !msg.empty() && WriteToRFBServer(c, msg.data(), static_cast<unsigned>(msg.size()));
  };
  if (m.flags & extclip::kCaps) {
    target_ext_flags_ = m.flags;
    if (!target_ext_) {
      target_ext_ = true;
      spdlog::debug("vnc target={} event=extended_clipboard flags={:#x}", target_.name, m.flags);
      const auto max = static_cast<std::uint32_t>(std::min<std::size_t>(opts_.max_clipboard_bytes, 0x7FFFFFFF));
      return write(extclip::capsMessage(extclip::kActions, max));
    }
    return true;
  }
  if (!target_ext_) return true;  // actions only after both sides said what they do
  if ((m.flags & extclip::kProvide) && m.has_text) {
    onTargetClipboard(m.text);
  } else if ((m.flags & extclip::kNotify) && (m.flags & extclip::kText)) {
    if (target_ext_flags_ & extclip::kRequest)
      return write(extclip::actionMessage(extclip::kRequest | extclip::kText));
  } else if (m.flags & extclip::kRequest) {
    if ((m.flags & extclip::kText) && have_client_clip_) return write(extclip::provideMessage(client_clip_));
  } else if (m.flags & extclip::kPeek) {
    return write(extclip::actionMessage(extclip::kNotify | (have_client_clip_ ? extclip::kText : 0)));
  }
  return true;
}

bool VncRelay::sendTargetClipboard(const std::string& utf8) {
  rfbClient* c = target_client_.get();
  client_clip_ = utf8;
  have_client_clip_ = true;
  const bool provide = target_ext_ && (target_ext_flags_ & extclip::kProvide);
  const bool notify = provide && (target_ext_flags_ & extclip::kNotify);
  std::string msg;
  if (!notify) {
    // Latin-1 first for targets without the extension, and for libvncserver
    // 0.9.14 ones (x11vnc: no Notify in their capabilities), which drop
    // extended text unless the program registered a UTF-8 handler; the
    // UTF-8 text that follows replaces it where one did.
    const std::string latin1 = extclip::utf8ToLatin1(utf8);
    msg = std::string{static_cast<char>(rfbClientCutText), 0, 0, 0};
    for (int shift = 24; shift >= 0; shift -= 8)
      msg.push_back(static_cast<char>((latin1.size() >> shift) & 0xFF));
    msg += latin1;
  } else {
    // Announce, then provide at once: the target has the text when one of
    // its programs asks (TigerVNC serves only an announced client's text).
    msg = extclip::actionMessage(extclip::kNotify | extclip::kText);
  }
  if (provide) {
    const std::string data = extclip::provideMessage(utf8);
    if (data.empty()) return false;
    msg += data;
  }
  return WriteToRFBServer(c, msg.data(), static_cast<unsigned>(msg.size())) != FALSE;
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
