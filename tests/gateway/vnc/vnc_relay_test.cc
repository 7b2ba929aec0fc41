// The VNC adapter against real parts: Xvfb + openbox + xterm shared by
// x11vnc as the target, the VncListener on port 0 with fake Gatekeeper /
// SessionManager / Session, and an in-process libvncclient viewer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <filesystem>
#include <regex>

#include "gateway/vnc/vnc_listener.h"
#include "tests/gateway/vnc/fakes.h"
#include "tests/testbed/testbed.h"
#include "tests/testbed/vnc_test_client.h"

namespace vigil::gateway::vnc {
namespace {

using namespace std::chrono_literals;
using testbed::VncTestClient;
using testing::FakeGatekeeper;
using testing::FakeSession;
using testing::FakeSessionManager;

constexpr char kCode[] = "GOODCODE";
constexpr char kTargetPassword[] = "tgt-secret";

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One desktop and one x11vnc for the whole suite: starting them is the slow part.
struct Desktop {
  std::string dir;
  std::unique_ptr<testbed::XDisplay> display;
  testbed::Process xterm, x11vnc;
  std::uint16_t port = 0;
  std::string log;

  int x11vncConnections() const {
    const std::string text = testbed::readFile(log);
    int n = 0;
    for (std::size_t p = text.find("Got connection from client"); p != std::string::npos;
         p = text.find("Got connection from client", p + 1)) {
      ++n;
    }
    return n;
  }
};

Desktop* g_desktop = nullptr;

class VncRelayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(std::getenv("VIGIL_DEBUG") ? spdlog::level::debug : spdlog::level::warn);
    auto* d = new Desktop();
    d->dir = testbed::makeTempDir("vigil-vnc-test");
    auto display = testbed::XDisplay::start(1024, 768, true);
    ASSERT_TRUE(display.ok()) << display.message();
    d->display = std::move(*display);
    auto xterm = d->display->startXterm("vigil-test-term");
    ASSERT_TRUE(xterm.ok()) << xterm.message();
    d->xterm = std::move(*xterm);
    d->port = testbed::freeTcpPort();
    d->log = d->dir + "/x11vnc.log";
    auto vnc = testbed::startX11vnc(*d->display, d->port, kTargetPassword, d->log);
    ASSERT_TRUE(vnc.ok()) << vnc.message();
    d->x11vnc = std::move(*vnc);
    // startX11vnc's readiness probe is itself a connection: let it reach the
    // log so that tests count only their own.
    testbed::waitFor([&] { return d->x11vncConnections() >= 1; }, 5s);
    g_desktop = d;
  }
  static void TearDownTestSuite() {
    if (g_desktop) std::filesystem::remove_all(g_desktop->dir);
    delete g_desktop;
    g_desktop = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(g_desktop, nullptr) << "desktop did not start";
    target_.name = "demo-vnc";
    target_.protocol = Protocol::Vnc;
    target_.host = "127.0.0.1";
    target_.port = g_desktop->port;
    target_.password = kTargetPassword;
    target_.vnc_listen = HostPort{"127.0.0.1", 0};
    cfg_.recordings_dir = g_desktop->dir + "/recordings";
    cfg_.recordings_min_free = 0;
  }

  void startListener(VncOptions opts = {}) {
    auto l = VncListener::start(cfg_, target_, gk_, sm_, opts);
    ASSERT_TRUE(l.ok()) << l.message();
    listener_ = std::move(*l);
    ASSERT_NE(listener_->port(), 0);
  }

  Result<std::unique_ptr<VncTestClient>> connectClient(const std::string& code = kCode) {
    VncTestClient::Options o;
    o.port = listener_->port();
    o.password = code;
    return VncTestClient::connect(o);
  }

  // The client shows the server's screen: PSNR against a fresh screenshot.
  double bestPsnrWithin(VncTestClient& c, std::chrono::milliseconds timeout) {
    double best = 0;
    testbed::waitFor(
        [&] {
          auto shot = g_desktop->display->screenshot();
          if (!shot.ok()) return false;
          best = std::max(best, testbed::psnr(c.snapshot(), *shot));
          return best >= 35.0;
        },
        timeout, 100ms);
    return best;
  }

  Config cfg_;
  TargetConfig target_;
  FakeGatekeeper gk_{kCode};
  FakeSessionManager sm_;
  std::unique_ptr<VncListener> listener_;
};

TEST_F(VncRelayTest, WrongCodeIsRefusedAndTargetIsNeverContacted) {
  startListener();
  const int before = g_desktop->x11vncConnections();
  auto c = connectClient("BADCODE1");
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(gk_.calls.load(), 1);
  EXPECT_EQ(gk_.refusals.load(), 1);
  EXPECT_EQ(sm_.opens(), 0);
  EXPECT_TRUE(testbed::waitFor([&] { return listener_->activeConnections() == 0; }, 5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(g_desktop->x11vncConnections(), before);
}

TEST_F(VncRelayTest, OffersOnlyVncAuthentication) {
  startListener();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(listener_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  char version[12];
  ASSERT_EQ(::recv(fd, version, 12, MSG_WAITALL), 12);
  EXPECT_EQ(std::string(version, 12), "RFB 003.008\n");
  ASSERT_EQ(::send(fd, "RFB 003.008\n", 12, 0), 12);
  unsigned char n = 0;
  ASSERT_EQ(::recv(fd, &n, 1, MSG_WAITALL), 1);
  std::vector<unsigned char> types(n);
  ASSERT_EQ(::recv(fd, types.data(), n, MSG_WAITALL), n);
  EXPECT_EQ(types, std::vector<unsigned char>{2});
  ::close(fd);
}

TEST_F(VncRelayTest, RelaysScreenAndKeystrokes) {
  startListener();
  auto c = connectClient();
  ASSERT_TRUE(c.ok()) << c.message();
  VncTestClient& client = **c;
  ASSERT_TRUE(testbed::waitFor([&] { return sm_.count() == 1 && sm_.session(0)->attached(); }, 10s));
  auto session = sm_.session(0);
  EXPECT_EQ(client.width(), 1024);
  EXPECT_EQ(client.height(), 768);
  EXPECT_EQ(gk_.last_addr.rfind("127.0.0.1:", 0), 0u) << gk_.last_addr;

  const double psnr = bestPsnrWithin(client, 15s);
  EXPECT_GE(psnr, 35.0) << "client's picture does not match the server's screen";
  EXPECT_GT(session->frames(), 0);
  EXPECT_FALSE(session->sawBadRect());
  auto shot = g_desktop->display->screenshot();
  ASSERT_TRUE(shot.ok());
  EXPECT_GE(testbed::psnr(session->screen(), *shot), 35.0) << "session's frame differs from the screen";
  const auto sizes = session->sizes();
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(sizes.front(), std::make_pair(1024, 768));

  // Type a command into the focused xterm; it creates a file on the server.
  std::string wid;
  ASSERT_TRUE(g_desktop->display->run({"xdotool", "search", "--name", "vigil-test-term"}, &wid).ok());
  wid = wid.substr(0, wid.find('\n'));
  (void)g_desktop->display->run({"xdotool", "windowactivate", "--sync", wid});
  (void)g_desktop->display->run({"xdotool", "windowfocus", "--sync", wid});
  const std::string file = g_desktop->dir + "/typed-" + std::to_string(::getpid());
  const std::string line = "touch " + file + "\n";
  client.typeText(line);
  EXPECT_TRUE(testbed::waitFor([&] { return std::filesystem::exists(file); }, 10s))
      << "typed command did not run on the server";

  std::vector<KeyInput> keys;
  for (const InputEvent& e : session->inputs()) {
    if (auto* k = std::get_if<KeyInput>(&e)) keys.push_back(*k);
  }
  ASSERT_EQ(keys.size(), line.size() * 2);
  for (std::size_t i = 0; i < line.size(); ++i) {
    const std::uint32_t sym = line[i] == '\n' ? 0xff0du : static_cast<unsigned char>(line[i]);
    EXPECT_EQ(keys[2 * i].keysym, sym);
    EXPECT_TRUE(keys[2 * i].down);
    EXPECT_EQ(keys[2 * i + 1].keysym, sym);
    EXPECT_FALSE(keys[2 * i + 1].down);
  }

  // Pointer and clipboard reach the session too.
  client.pointer(100, 120, 0);
  client.clipboard("caf\xe9 clip");
  EXPECT_TRUE(testbed::waitFor(
      [&] {
        bool ptr = false, clip = false;
        for (const InputEvent& e : session->inputs()) {
          if (auto* p = std::get_if<PointerInput>(&e)) ptr = ptr || (p->x == 100 && p->y == 120);
          if (auto* cb = std::get_if<ClipboardInput>(&e)) {
            clip = clip || (cb->text == "caf\xc3\xa9 clip" && cb->direction == Direction::ClientToServer);
          }
        }
        return ptr && clip;
      },
      5s));

  const auto life = session->lifecycle();
  EXPECT_NE(std::find(life.begin(), life.end(),
                      "connected to target 127.0.0.1:" + std::to_string(g_desktop->port)),
            life.end());

  client.disconnect();
  ASSERT_TRUE(testbed::waitFor([&] { return !session->finishReasons().empty(); }, 5s));
  EXPECT_EQ(session->finishReasons(), std::vector<std::string>{"client disconnected"});
  EXPECT_EQ(session->attaches(), 1);
}

TEST_F(VncRelayTest, TerminateClosesBothLegsWithinOneSecond) {
  startListener();
  auto c = connectClient();
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_TRUE(testbed::waitFor([&] { return sm_.count() == 1 && sm_.session(0)->attached(); }, 10s));
  ASSERT_TRUE(testbed::waitFor([&] { return (*c)->updates() > 0; }, 10s));
  auto session = sm_.session(0);
  const std::int64_t t0 = nowMs();
  session->terminate("terminated by alice");
  ASSERT_TRUE(testbed::waitFor([&] { return !(*c)->connected(); }, 3s));
  ASSERT_TRUE(testbed::waitFor([&] { return !session->finishReasons().empty(); }, 3s));
  const std::int64_t took = nowMs() - t0;
  EXPECT_LE(took, 1000) << "legs closed after " << took << " ms";
  EXPECT_EQ(session->finishReasons(), std::vector<std::string>{"terminated by alice"});
  EXPECT_EQ(listener_->activeConnections(), 0u);
}

TEST_F(VncRelayTest, SessionOpenFailureRefusesClient) {
  startListener();
  sm_.setFail(true);
  const int before = g_desktop->x11vncConnections();
  auto c = connectClient();
  EXPECT_FALSE(c.ok());
  EXPECT_EQ(sm_.opens(), 1);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(g_desktop->x11vncConnections(), before);
}

TEST_F(VncRelayTest, UnreachableTargetRefusesClientAndEndsSession) {
  target_.port = testbed::freeTcpPort();  // nothing listens there
  startListener();
  auto c = connectClient();
  EXPECT_FALSE(c.ok());
  ASSERT_TRUE(testbed::waitFor([&] { return sm_.count() == 1 && !sm_.session(0)->finishReasons().empty(); }, 5s));
  const std::string reason = sm_.session(0)->finishReasons().front();
  EXPECT_EQ(reason.rfind("target demo-vnc unreachable: ", 0), 0u) << reason;
}

// A hostile VNC target: no authentication, then a ServerInit announcing a
// desktop of `width`x`height`; it holds the connection open until destroyed.
class LyingVncServer {
 public:
  LyingVncServer(int width, int height) : width_(width), height_(height) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 4);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LyingVncServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
  }
  std::uint16_t port() const { return port_; }
  int served() const { return served_.load(); }

 private:
  void serve() {
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    ++served_;
    char buf[64];
    auto put = [&](const void* p, std::size_t n) { return ::send(fd, p, n, MSG_NOSIGNAL) == ssize_t(n); };
    auto get = [&](std::size_t n) { return ::recv(fd, buf, n, MSG_WAITALL) == ssize_t(n); };
    const std::uint8_t none[] = {1, 1};      // one security type: None
    const std::uint8_t ok[] = {0, 0, 0, 0};  // SecurityResult OK
    std::uint8_t init[24 + 4] = {};
    init[0] = std::uint8_t(width_ >> 8), init[1] = std::uint8_t(width_);
    init[2] = std::uint8_t(height_ >> 8), init[3] = std::uint8_t(height_);
    const std::uint8_t format[16] = {32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
    std::memcpy(init + 4, format, sizeof format);
    init[23] = 4;
    std::memcpy(init + 24, "evil", 4);
    if (put("RFB 003.008\n", 12) && get(12) && put(none, 2) && get(1) && put(ok, 4) && get(1) &&
        put(init, sizeof init)) {
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, 5000) > 0 && ::recv(fd, buf, sizeof buf, 0) > 0) {
      }
    }
    ::close(fd);
  }
  int width_, height_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST_F(VncRelayTest, ATargetAnnouncingAHugeDesktopIsRefused) {
  LyingVncServer evil(65535, 65535);
  target_.port = evil.port();
  startListener();
  auto c = connectClient();
  EXPECT_FALSE(c.ok()) << "the client was let in to a 65535x65535 desktop";
  EXPECT_EQ(evil.served(), 1);
  ASSERT_TRUE(testbed::waitFor(
      [&] { return sm_.count() == 1 && !sm_.session(0)->finishReasons().empty(); }, 5s));
  EXPECT_EQ(sm_.session(0)->finishReasons().front(),
            "target desktop 65535x65535 exceeds max_desktop 8192x8192");
  EXPECT_FALSE(sm_.session(0)->attached());
  EXPECT_TRUE(sm_.session(0)->sizes().empty()) << "nothing was sized to the lie";
}

TEST_F(VncRelayTest, AFullRecordingsDiskRefusesBeforeTheCodeOrTheTargetIsUsed) {
  cfg_.recordings_min_free = 1ull << 60;  // more room than any disk has
  startListener();
  const int before = g_desktop->x11vncConnections();
  auto c = connectClient();
  EXPECT_FALSE(c.ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gk_.calls, 0) << "the access code was checked (and would be used up)";
  EXPECT_EQ(sm_.opens(), 0);
  EXPECT_EQ(g_desktop->x11vncConnections(), before) << "the target was contacted";
  // With room again the same code works: it was not used up.
  listener_->stop();
  listener_.reset();
  cfg_.recordings_min_free = 0;
  startListener();
  auto again = connectClient();
  EXPECT_TRUE(again.ok()) << again.message();
}

TEST_F(VncRelayTest, SilentClientIsDroppedAfterHandshakeTimeout) {
  cfg_.front_door.handshake_timeout_ms = 1000;
  startListener();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(listener_->port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::int64_t t0 = nowMs();
  char buf[64];
  ssize_t n = 1;
  while (n > 0) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    n = ::recv(fd, buf, sizeof buf, 0);
  }
  const std::int64_t took = nowMs() - t0;
  EXPECT_EQ(n, 0) << "server did not close the silent connection";
  EXPECT_GE(took, 900);
  EXPECT_LE(took, 3000);
  ::close(fd);
  EXPECT_TRUE(testbed::waitFor([&] { return listener_->activeConnections() == 0; }, 3s));
}

TEST_F(VncRelayTest, GarbageFromClientDoesNotHurt) {
  startListener();
  for (int round = 0; round < 3; ++round) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(listener_->port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    std::string junk(4096, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 131 + round) & 0xff);
    if (round == 1) junk.replace(0, 12, "RFB 003.008\n");
    (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    ::close(fd);
  }
  EXPECT_TRUE(testbed::waitFor([&] { return listener_->activeConnections() == 0; }, 5s));
  EXPECT_EQ(sm_.opens(), 0);
  auto c = connectClient();
  EXPECT_TRUE(c.ok()) << c.message();
}

TEST_F(VncRelayTest, TenSequentialSessions) {
  startListener();
  for (int i = 0; i < 10; ++i) {
    auto c = connectClient();
    ASSERT_TRUE(c.ok()) << "cycle " << i << ": " << c.message();
    ASSERT_TRUE(testbed::waitFor([&] { return (*c)->updates() > 0; }, 10s)) << "cycle " << i;
    (*c)->disconnect();
    ASSERT_TRUE(testbed::waitFor(
        [&] { return sm_.count() == std::size_t(i + 1) && !sm_.session(i)->finishReasons().empty(); }, 5s))
        << "cycle " << i;
  }
  for (std::size_t i = 0; i < sm_.count(); ++i) {
    EXPECT_EQ(sm_.session(i)->finishReasons(), std::vector<std::string>{"client disconnected"});
  }
  EXPECT_TRUE(testbed::waitFor([&] { return listener_->activeConnections() == 0; }, 3s));
}

TEST_F(VncRelayTest, FiveConcurrentSessions) {
  startListener();
  std::vector<std::unique_ptr<VncTestClient>> clients;
  for (int i = 0; i < 5; ++i) {
    auto c = connectClient();
    ASSERT_TRUE(c.ok()) << "client " << i << ": " << c.message();
    clients.push_back(std::move(*c));
  }
  for (auto& c : clients) {
    ASSERT_TRUE(testbed::waitFor([&] { return c->updates() > 0; }, 15s));
    EXPECT_EQ(c->width(), 1024);
  }
  EXPECT_EQ(listener_->activeConnections(), 5u);
  EXPECT_GE(bestPsnrWithin(*clients[4], 15s), 35.0);
  clients.clear();
  EXPECT_TRUE(testbed::waitFor([&] {
    for (std::size_t i = 0; i < sm_.count(); ++i) {
      if (sm_.session(i)->finishReasons().empty()) return false;
    }
    return sm_.count() == 5;
  }, 10s));
}

TEST_F(VncRelayTest, StopEndsEverySession) {
  startListener();
  auto c = connectClient();
  ASSERT_TRUE(c.ok()) << c.message();
  ASSERT_TRUE(testbed::waitFor([&] { return (*c)->updates() > 0; }, 10s));
  const std::int64_t t0 = nowMs();
  listener_->stop();
  EXPECT_LE(nowMs() - t0, 2000);
  EXPECT_TRUE(testbed::waitFor([&] { return !(*c)->connected(); }, 3s));
  ASSERT_EQ(sm_.count(), 1u);
  EXPECT_EQ(sm_.session(0)->finishReasons(), std::vector<std::string>{"gateway shutting down"});
}

}  // namespace
}  // namespace vigil::gateway::vnc
