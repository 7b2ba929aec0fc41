// The RDP adapter against real parts: freerdp-shadow-cli sharing an Xvfb
// desktop (openbox + xterm) as the target (NLA against a SAM file with the
// vaulted credentials; its certificate trusted as by `vigil trust-target`), the gateway's RdpListener on a
// free port with fake Gatekeeper/SessionManager/Session, and two clients: the
// FreeRDP-library RdpClient in-process, and the real xfreerdp on its own Xvfb
// driven by xdotool.
#include <freerdp/input.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "gateway/rdp/pointer_relay.h"
#include "gateway/rdp/rdp_client.h"
#include "gateway/rdp/rdp_listener.h"
#include "gateway/rdp/target_pins.h"
#include "gateway/rdp/tls_files.h"
#include "tests/gateway/rdp/fakes.h"
#include "tests/testbed/testbed.h"

namespace vigil::gateway::rdp {
namespace {

using namespace std::chrono_literals;
using testing::FakeGatekeeper;
using testing::FakeSession;
using testing::FakeSessionManager;
namespace tb = vigil::testbed;

constexpr char kUser[] = "vendor1";
constexpr char kPassword[] = "correct horse 1";
constexpr char kXtermTitle[] = "Administrator: Command Prompt";
constexpr char kTargetUser[] = "Administrator";
constexpr char kTargetPassword[] = "vaulted-secret";

// Keeps what a client shows, like a person looking at the window.
class TestObserver final : public RdpClientObserver {
 public:
  void onPaint(const Frame& screen, const DirtyRegion& d) override {
    std::lock_guard lock(mu_);
    (void)d;  // copy everything: cheap enough for a test, and simplest to trust
    fb_ = screen;
    ++paints_;
  }
  void onPointer(const PointerUpdate& u) override {
    std::lock_guard lock(mu_);
    pointers_.push_back(u);
  }
  void onDisconnected(const std::string& reason) override {
    std::lock_guard lock(mu_);
    disconnected_ = true;
    reason_ = reason;
    disconnected_at_ = std::chrono::steady_clock::now();
  }
  Frame frame() const { std::lock_guard lock(mu_); return fb_; }
  std::vector<PointerUpdate> pointers() const { std::lock_guard lock(mu_); return pointers_; }
  std::vector<PointerShape> pointerShapes() const {
    std::lock_guard lock(mu_);
    std::vector<PointerShape> out;
    for (const auto& p : pointers_) {
      if (p.kind == PointerUpdate::Kind::New && p.shape) out.push_back(*p.shape);
    }
    return out;
  }
  int pointerUpdates(PointerUpdate::Kind kind) const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& p : pointers_) n += p.kind == kind;
    return n;
  }
  int paints() const { std::lock_guard lock(mu_); return paints_; }
  bool disconnected() const { std::lock_guard lock(mu_); return disconnected_; }
  std::chrono::steady_clock::time_point disconnectedAt() const {
    std::lock_guard lock(mu_);
    return disconnected_at_;
  }

 private:
  mutable std::mutex mu_;
  Frame fb_;
  int paints_ = 0;
  std::vector<PointerUpdate> pointers_;
  bool disconnected_ = false;
  std::string reason_;
  std::chrono::steady_clock::time_point disconnected_at_{};
};

// US scancodes for the characters the tests type.
struct Stroke {
  std::uint8_t sc;
  bool shift;
};
std::optional<Stroke> usStroke(char c) {
  static const char* kRow1 = "qwertyuiop";
  static const char* kRow2 = "asdfghjkl";
  static const char* kRow3 = "zxcvbnm";
  for (int i = 0; kRow1[i]; ++i) if (kRow1[i] == c) return Stroke{std::uint8_t(0x10 + i), false};
  for (int i = 0; kRow2[i]; ++i) if (kRow2[i] == c) return Stroke{std::uint8_t(0x1E + i), false};
  for (int i = 0; kRow3[i]; ++i) if (kRow3[i] == c) return Stroke{std::uint8_t(0x2C + i), false};
  if (c >= '1' && c <= '9') return Stroke{std::uint8_t(0x02 + (c - '1')), false};
  switch (c) {
    case '0': return Stroke{0x0B, false};
    case '-': return Stroke{0x0C, false};
    case '_': return Stroke{0x0C, true};
    case '/': return Stroke{0x35, false};
    case '.': return Stroke{0x34, false};
    case ' ': return Stroke{0x39, false};
    default: return std::nullopt;
  }
}

void typeUs(RdpClient& c, const std::string& text) {
  for (char ch : text) {
    auto s = usStroke(ch);
    ASSERT_TRUE(s) << "no scancode for " << ch;
    if (s->shift) c.sendKey(KBD_FLAGS_DOWN, 0x2A);
    c.tapKey(s->sc);
    if (s->shift) c.sendKey(KBD_FLAGS_RELEASE, 0x2A);
    std::this_thread::sleep_for(15ms);  // like a fast typist; xterm keeps up
  }
}

// The keysyms of key presses the session saw, modifiers left out.
std::string typedText(const std::vector<InputEvent>& inputs) {
  std::string out;
  for (const InputEvent& e : inputs) {
    const auto* k = std::get_if<KeyInput>(&e);
    if (!k || !k->down) continue;
    if (k->keysym >= 0x20 && k->keysym < 0x7f) out += static_cast<char>(k->keysym);
    if (k->keysym == 0xff0d) out += '\n';
  }
  return out;
}

class RdpGatewayTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    spdlog::set_level(spdlog::level::info);
    auto display = tb::XDisplay::start(1280, 800, true);
    ASSERT_TRUE(display.ok()) << display.message();
    server_display_ = std::move(display.value()).release();
    auto xterm = server_display_->startXterm(kXtermTitle);
    ASSERT_TRUE(xterm.ok()) << xterm.message();
    xterm_ = new tb::Process(std::move(xterm.value()));
    shadow_port_ = tb::freeTcpPort();
    log_dir_ = tb::makeTempDir("vigil-rdp-test");
    // NLA: the gateway's target leg needs the target to confirm the logon,
    // which freerdp-shadow does only through CredSSP (it never sends a logon
    // notification), and this checks the vaulted credentials for real.
    std::string sam;
    auto hashed =
        tb::run({"winpr-hash", "-u", kTargetUser, "-p", kTargetPassword, "-f", "sam"}, {}, &sam);
    ASSERT_TRUE(hashed.ok() && *hashed == 0 && !sam.empty()) << "winpr-hash (winpr-utils) failed";
    std::ofstream(log_dir_ + "/shadow.sam") << sam;
    auto shadow = server_display_->spawn(
        {"freerdp-shadow-cli", "/port:" + std::to_string(shadow_port_),
         "/bind-address:127.0.0.1", "/sec:nla", "/sam-file:" + log_dir_ + "/shadow.sam"},
        log_dir_ + "/shadow.log");
    ASSERT_TRUE(shadow.ok()) << shadow.message();
    shadow_ = new tb::Process(std::move(shadow.value()));
    ASSERT_TRUE(tb::waitForPort(shadow_port_, 20s)) << tb::readFile(log_dir_ + "/shadow.log");
    // The certificate, read like `vigil trust-target` does: refused at once,
    // so no credentials go with it.
    TestObserver obs;
    RdpClientOptions probe;
    probe.host = "127.0.0.1";
    probe.port = shadow_port_;
    probe.check_certificate = [](const std::string&) { return Status::Error("probe"); };
    RdpClient client(probe, &obs);
    ASSERT_FALSE(client.connect().ok());
    EXPECT_EQ(client.lastFailure(), RdpConnectFailure::CertificateRefused);
    shadow_fingerprint_ = client.serverFingerprint();
    ASSERT_EQ(shadow_fingerprint_.size(), 95u) << shadow_fingerprint_;
  }
  static void TearDownTestSuite() {
    delete shadow_;
    delete xterm_;
    delete server_display_;
    shadow_ = nullptr;
    xterm_ = nullptr;
    server_display_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(server_display_, nullptr) << "test bed did not start";
    target_.name = "demo";
    target_.protocol = Protocol::Rdp;
    target_.host = "127.0.0.1";
    target_.port = shadow_port_;
    target_.username = kTargetUser;
    target_.password = kTargetPassword;
    gk_.addTarget(&target_);
    cfg_.state_dir = log_dir_ + "/state";
    cfg_.recordings_dir = log_dir_ + "/recordings";
    // An operator trusted the target's certificate (`vigil trust-target demo`).
    std::filesystem::remove(pinsPath());
    ASSERT_TRUE(TargetPins(pinsPath()).trust(target_, shadow_fingerprint_).ok());
    auto tls = ensureTlsFiles(cfg_);
    ASSERT_TRUE(tls.ok()) << tls.message();
    RdpOptions opts;
    opts.target_gfx = gfx_;
    opts.target_logon_timeout_ms = 8000;
    auto l = RdpListener::start(HostPort{"127.0.0.1", 0}, tls.value(), cfg_, gk_, sm_, opts);
    ASSERT_TRUE(l.ok()) << l.message();
    listener_ = std::move(l.value());
    ASSERT_NE(listener_->port(), 0);
  }
  void TearDown() override {
    if (listener_) listener_->stop();
  }

  std::string pinsPath() const { return cfg_.state_dir + "/rdp/known_targets"; }

  RdpClientOptions clientOptions(const std::string& password = kPassword) const {
    RdpClientOptions o;
    o.host = "127.0.0.1";
    o.port = listener_->port();
    o.username = std::string(kUser) + "#demo";
    o.password = password;
    o.width = 1280;
    o.height = 800;
    o.gfx = false;
    return o;
  }

  void focusXterm() {
    std::string out;
    auto rc = server_display_->run({"xdotool", "search", "--name", kXtermTitle, "windowactivate",
                                    "--sync"}, &out);
    ASSERT_TRUE(rc.ok()) << rc.message();
  }

  // PSNR of `grab()` against the server's screen, polled until it settles.
  double bestPsnr(const std::function<Frame()>& grab) {
    double best = 0;
    tb::waitFor([&] {
      auto shot = server_display_->screenshot();
      if (!shot.ok()) return false;
      best = std::max(best, tb::psnr(grab(), shot.value()));
      return best >= 35.0;
    }, 20s, 300ms);
    return best;
  }

  // A client straight to freerdp-shadow, bypassing the gateway: what the
  // target really sends.
  RdpClientOptions directOptions() const {
    RdpClientOptions o;
    o.host = "127.0.0.1";
    o.port = shadow_port_;
    o.username = kTargetUser;
    o.password = kTargetPassword;
    o.gfx = false;
    o.clipboard = false;
    return o;
  }

  // Points inside and outside the xterm, from its real geometry: at 100x30
  // in an 11 pt font it covers most of the screen, so fixed points can both
  // land on it, and then the X cursor never changes.
  struct XtermPoints {
    int in_x, in_y, out_x, out_y;
  };
  static std::optional<XtermPoints> xtermPoints() {
    std::string out;
    auto rc = server_display_->run({"xdotool", "search", "--name", kXtermTitle,
                                    "getwindowgeometry", "--shell"}, &out);
    if (!rc.ok() || *rc != 0) return std::nullopt;
    std::map<std::string, int> v;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      const auto eq = line.find('=');
      if (eq != std::string::npos) v[line.substr(0, eq)] = std::atoi(line.c_str() + eq + 1);
    }
    if (!v.count("X") || !v.count("Y") || !v.count("WIDTH") || !v.count("HEIGHT")) return std::nullopt;
    // Stay clear of openbox's frame (title bar above, borders around).
    constexpr int kFrame = 30;
    const int right = v["X"] + v["WIDTH"] + kFrame, bottom = v["Y"] + v["HEIGHT"] + kFrame;
    const int w = server_display_->width(), h = server_display_->height();
    XtermPoints p{v["X"] + v["WIDTH"] / 2, v["Y"] + v["HEIGHT"] / 2, 0, 0};
    if (right < w - 1) {
      p.out_x = (right + w) / 2;
      p.out_y = p.in_y;
    } else if (bottom < h - 1) {
      p.out_x = p.in_x;
      p.out_y = (bottom + h) / 2;
    } else {
      return std::nullopt;  // the xterm covers the screen
    }
    return p;
  }

  // Moves the server's pointer in and out of the xterm, so X switches
  // between the xterm and the desktop cursor and freerdp-shadow sends the
  // new shape (it sends one only on an XFixes cursor change, none on connect).
  void crossXterm(RdpClient& c, const XtermPoints& p) {
    pointer_inside_ = !pointer_inside_;
    c.sendMouse(PTR_FLAGS_MOVE, pointer_inside_ ? p.in_x : p.out_x,
                pointer_inside_ ? p.in_y : p.out_y);
  }
  bool pointer_inside_ = false;

  static inline tb::XDisplay* server_display_ = nullptr;
  static inline tb::Process* xterm_ = nullptr;
  static inline tb::Process* shadow_ = nullptr;
  static inline std::uint16_t shadow_port_ = 0;
  static inline std::string log_dir_;
  static inline std::string shadow_fingerprint_;
  bool gfx_ = true;

  Config cfg_;
  TargetConfig target_;
  FakeGatekeeper gk_{kUser, kPassword};
  FakeSessionManager sm_;
  std::unique_ptr<RdpListener> listener_;
};

std::string uniqueFile(const std::string& tag) {
  static int n = 0;
  return "/tmp/vigil-rdp-" + std::to_string(::getpid()) + "-" + tag + std::to_string(++n);
}

TEST_F(RdpGatewayTest, LibraryClientTypesALineThroughTheGateway) {
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  auto session = sm_.last();
  EXPECT_EQ(gk_.calls(), std::vector<std::string>{"vendor1#demo"});
  ASSERT_TRUE(tb::waitFor([&] { return obs.paints() > 0 && session->frames() > 0; }, 20s));
  EXPECT_EQ(client.width(), 1280);
  EXPECT_EQ(client.height(), 800);

  focusXterm();
  const std::string file = uniqueFile("lib");
  std::filesystem::remove(file);
  const std::string line = "touch " + file;
  typeUs(client, line);
  client.tapKey(0x1C);  // Enter
  EXPECT_TRUE(tb::waitFor([&] { return std::filesystem::exists(file); }, 15s))
      << "the typed command did not run on the server";
  std::filesystem::remove(file);

  // The pipeline saw the keystrokes as keysyms, Enter included.
  EXPECT_NE(typedText(session->inputs()).find(line + "\n"), std::string::npos)
      << typedText(session->inputs());
  const auto lc = session->lifecycleEvents();
  ASSERT_FALSE(lc.empty());
  EXPECT_EQ(lc.front(), "connected to target 127.0.0.1:" + std::to_string(shadow_port_));

  // What the client shows and what the session recorded match the server.
  const double client_psnr = bestPsnr([&] { return obs.frame(); });
  EXPECT_GE(client_psnr, 35.0);
  const double session_psnr = bestPsnr([&] { return session->lastFrame(); });
  EXPECT_GE(session_psnr, 35.0);
  std::printf("[ metrics ] client PSNR %.1f dB, session PSNR %.1f dB\n", client_psnr,
              session_psnr);

  client.stop();
  ASSERT_TRUE(tb::waitFor([&] { return !session->finishReasons().empty(); }, 5s));
  EXPECT_EQ(session->finishReasons().size(), 1u);
}

// Clients without RemoteFX get planar (32 bpp) or interleaved (16 bpp) bitmaps.
TEST_F(RdpGatewayTest, BitmapCodecsShowTheServerScreen) {
  for (int depth : {32, 16}) {
    SCOPED_TRACE("color depth " + std::to_string(depth));
    TestObserver obs;
    auto o = clientOptions();
    o.remotefx = false;
    o.color_depth = depth;
    RdpClient client(o, &obs);
    ASSERT_TRUE(client.connect().ok());
    client.start();
    ASSERT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
    const double psnr = bestPsnr([&] { return obs.frame(); });
    std::printf("[ metrics ] %d bpp bitmaps: client PSNR %.1f dB\n", depth, psnr);
    EXPECT_GE(psnr, depth == 32 ? 35.0 : 30.0);
    client.stop();
  }
}

TEST_F(RdpGatewayTest, WrongPasswordIsRefusedWithoutTargetConnection) {
  TestObserver obs;
  RdpClient client(clientOptions("wrong password"), &obs);
  EXPECT_FALSE(client.connect().ok());
  // FreeRDP's client retries a failed logon once on its own; each attempt is
  // judged (and throttled) by the Gatekeeper.
  const auto calls = gk_.calls();
  ASSERT_FALSE(calls.empty());
  for (const auto& c : calls) EXPECT_EQ(c, "vendor1#demo");
  EXPECT_EQ(sm_.opens(), 0);

  // A name without a target is refused too, through the Gatekeeper.
  auto o = clientOptions();
  o.username = "vendor1";
  RdpClient client2(o, &obs);
  EXPECT_FALSE(client2.connect().ok());
  EXPECT_EQ(sm_.opens(), 0);
  EXPECT_GT(gk_.calls().size(), calls.size());
  EXPECT_EQ(gk_.calls().back(), "vendor1#");
}

TEST_F(RdpGatewayTest, SessionManagerFailureDropsTheClient) {
  sm_.setFail(true);
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  EXPECT_FALSE(client.connect().ok());
  EXPECT_GE(sm_.opens(), 1);
  ASSERT_TRUE(sm_.last() == nullptr);
}

TEST_F(RdpGatewayTest, TerminateClosesBothLegsWithinOneSecond) {
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  auto session = sm_.last();
  ASSERT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
  const auto t0 = std::chrono::steady_clock::now();
  session->terminate("terminated by alice");
  ASSERT_TRUE(tb::waitFor([&] { return obs.disconnected(); }, 5s));
  ASSERT_TRUE(tb::waitFor([&] { return !session->finishReasons().empty(); }, 5s));
  const auto client_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(obs.disconnectedAt() - t0).count();
  const auto finish_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(session->finishedAt() - t0).count();
  std::printf("[ metrics ] terminate: client gone after %lld ms, session finished after %lld ms\n",
              static_cast<long long>(client_ms), static_cast<long long>(finish_ms));
  EXPECT_LT(client_ms, 1000);
  EXPECT_LT(finish_ms, 1000);
  EXPECT_EQ(session->finishReasons(), std::vector<std::string>{"terminated by alice"});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(session->finishReasons().size(), 1u);
  EXPECT_EQ(listener_->activeConnections(), 0);
}

TEST_F(RdpGatewayTest, ClientClipboardIsRecorded) {
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  auto session = sm_.last();
  const std::string text = "clip from vendor ✓";
  ASSERT_TRUE(tb::waitFor([&] { return client.setClipboardText(text); }, 10s, 100ms))
      << "the clipboard channel never became ready";
  EXPECT_TRUE(tb::waitFor([&] {
    for (const InputEvent& e : session->inputs()) {
      const auto* c = std::get_if<ClipboardInput>(&e);
      if (c && c->text == text && c->direction == Direction::ClientToServer) return true;
    }
    return false;
  }, 10s));
  client.stop();
}

TEST_F(RdpGatewayTest, ListenerStopEndsLiveSessions) {
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  auto session = sm_.last();
  listener_->stop();
  EXPECT_EQ(session->finishReasons(), std::vector<std::string>{"gateway shutting down"});
  EXPECT_TRUE(tb::waitFor([&] { return obs.disconnected(); }, 5s));
}

// The target gets its vaulted credentials only from a gateway that checked
// its certificate: one an operator trusted (`vigil trust-target`), or the
// configured tls_fingerprint. Unknown (no trust on first use), changed, or
// not the configured one: the session ends before the target's screen or
// any key gets through, and the lifecycle says what to do.
TEST_F(RdpGatewayTest, TargetCertificateMustBeTrusted) {
  const std::string where = "127.0.0.1:" + std::to_string(shadow_port_);
  const std::string wrong =
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  const auto expectRefused = [&](const std::string& why, const std::string& says) {
    SCOPED_TRACE(why);
    const int opens = sm_.opens();
    TestObserver obs;
    RdpClient client(clientOptions(), &obs);
    if (client.connect().ok()) {
      client.start();
      EXPECT_TRUE(tb::waitFor([&] { return obs.disconnected(); }, 10s));
    }
    EXPECT_EQ(obs.paints(), 0) << "the target's screen reached the client";
    // (FreeRDP's client retries a failed connection once by itself.)
    ASSERT_GT(sm_.opens(), opens);
    auto session = sm_.last();
    ASSERT_NE(session, nullptr);
    EXPECT_FALSE(session->attached());
    EXPECT_EQ(session->frames(), 0);
    ASSERT_TRUE(tb::waitFor([&] { return !session->finishReasons().empty(); }, 10s));
    const std::string reason = session->finishReasons().front();
    EXPECT_EQ(reason.rfind("target demo is not trusted: ", 0), 0u) << reason;
    EXPECT_NE(reason.find("certificate refused"), std::string::npos) << reason;
    EXPECT_NE(reason.find(says), std::string::npos) << reason;
    EXPECT_EQ(reason.find(kTargetPassword), std::string::npos);
  };

  std::filesystem::remove(pinsPath());
  expectRefused("an unknown certificate", "run `vigil trust-target demo` on the gateway to check "
                                          "and trust it");
  EXPECT_FALSE(std::filesystem::exists(pinsPath())) << "trusted on first use";
  expectRefused("still unknown on second use", "vigil trust-target demo");

  std::ofstream(pinsPath(), std::ios::trunc) << where << " " << wrong << "\n";
  expectRefused("a changed certificate", "certificate changed");
  EXPECT_EQ(tb::readFile(pinsPath()), where + " " + wrong + "\n") << "the record was rewritten";

  std::filesystem::remove(pinsPath());
  target_.tls_fingerprint = wrong;
  expectRefused("a configured tls_fingerprint that does not match", "tls_fingerprint");
  EXPECT_FALSE(std::filesystem::exists(pinsPath()));

  const auto expectAccepted = [&](const std::string& why) {
    SCOPED_TRACE(why);
    TestObserver obs;
    RdpClient client(clientOptions(), &obs);
    ASSERT_TRUE(client.connect().ok());
    client.start();
    EXPECT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
    client.stop();
  };
  target_.tls_fingerprint = shadow_fingerprint_;
  expectAccepted("the configured tls_fingerprint");
  target_.tls_fingerprint.clear();
  ASSERT_TRUE(TargetPins(pinsPath()).trust(target_, shadow_fingerprint_).ok());
  expectAccepted("trusted by an operator");
}

// Wrong vaulted credentials: the target (NLA) turns them down and the
// gateway ends the session with that reason; nothing of the target's screen
// reaches the client or the recording.
TEST_F(RdpGatewayTest, WrongVaultedCredentialsEndTheSessionUnseen) {
  // The target leg on its own first: the kind of failure is told apart.
  {
    TestObserver obs;
    RdpClientOptions o = directOptions();
    o.password = "not-the-vaulted-secret";
    o.target_name = "demo";
    o.require_logon_confirmation = true;
    RdpClient direct(o, &obs);
    const Status st = direct.connect();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(direct.lastFailure(), RdpConnectFailure::CredentialsRejected) << st.message();
    EXPECT_NE(st.message().find("target demo rejected the vaulted credentials"),
              std::string::npos) << st.message();
    EXPECT_EQ(obs.paints(), 0);
  }
  {
    TestObserver obs;
    RdpClientOptions o = directOptions();
    o.port = tb::freeTcpPort();  // nobody listens
    o.target_name = "demo";
    o.require_logon_confirmation = true;
    RdpClient direct(o, &obs);
    const Status st = direct.connect();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(direct.lastFailure(), RdpConnectFailure::Unreachable) << st.message();
    EXPECT_EQ(st.message().rfind("target demo unreachable: ", 0), 0u) << st.message();
  }

  target_.password = "not-the-vaulted-secret";
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  if (client.connect().ok()) {
    client.start();
    EXPECT_TRUE(tb::waitFor([&] { return obs.disconnected(); }, 20s));
  }
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && !sm_.last()->finishReasons().empty(); }, 30s));
  auto session = sm_.last();
  EXPECT_FALSE(session->attached());
  EXPECT_EQ(session->frames(), 0) << "the recording got the target's screen";
  EXPECT_EQ(obs.paints(), 0) << "the client got the target's screen";
  EXPECT_EQ(session->finishReasons().front(), "target demo rejected the vaulted credentials");
  for (const auto& e : session->lifecycleEvents()) {
    EXPECT_EQ(e.find("connected to target"), std::string::npos) << e;
  }
  target_.password = kTargetPassword;
}

// A TLS-only target that confirms the logon with a Save Session Info PDU:
// the gateway itself (it sends one when its client activates) in front of
// the shadow server. The gated client sees frames only after the logon.
TEST_F(RdpGatewayTest, TlsOnlyTargetConfirmsTheLogon) {
  TestObserver obs;
  auto o = clientOptions();
  o.target_name = "gateway";
  o.require_logon_confirmation = true;
  o.logon_timeout_ms = 10000;
  RdpClient client(o, &obs);
  const Status st = client.connect();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(client.lastFailure(), RdpConnectFailure::None);
  client.start();
  EXPECT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
  const double psnr = bestPsnr([&] { return obs.frame(); });
  EXPECT_GE(psnr, 35.0);
  client.stop();
}

// The product path to a TLS-only target that confirms logons: gateway A's
// target leg to gateway B (TLS-only; it sends Save Session Info when its
// client activates), which relays the shadow server. A waits for B's logon
// notification, then the client gets the server's screen through both.
TEST_F(RdpGatewayTest, ChainedGatewayIsATlsOnlyTargetThatConfirmsTheLogon) {
  auto tls_b = ensureTlsFiles(cfg_);  // B is this suite's listener
  ASSERT_TRUE(tls_b.ok()) << tls_b.message();
  auto fp_b = certificateFingerprint(tb::readFile(tls_b->cert_pem_path));
  ASSERT_TRUE(fp_b.ok()) << fp_b.message();

  Config cfg_a;
  cfg_a.state_dir = log_dir_ + "/state-a";
  cfg_a.recordings_dir = log_dir_ + "/recordings";
  TargetConfig gw_b;
  gw_b.name = "gw-b";
  gw_b.protocol = Protocol::Rdp;
  gw_b.host = "127.0.0.1";
  gw_b.port = listener_->port();
  gw_b.username = std::string(kUser) + "#demo";  // A's vaulted login at B
  gw_b.password = kPassword;
  std::filesystem::remove(cfg_a.state_dir + "/rdp/known_targets");
  ASSERT_TRUE(TargetPins(cfg_a.state_dir + "/rdp/known_targets").trust(gw_b, *fp_b).ok());
  FakeGatekeeper gk_a{"vendor2", "pass of vendor2"};
  gk_a.addTarget(&gw_b);
  FakeSessionManager sm_a;
  auto tls_a = ensureTlsFiles(cfg_a);
  ASSERT_TRUE(tls_a.ok()) << tls_a.message();
  RdpOptions opts;
  opts.target_gfx = false;
  opts.target_logon_timeout_ms = 8000;
  auto a = RdpListener::start(HostPort{"127.0.0.1", 0}, tls_a.value(), cfg_a, gk_a, sm_a, opts);
  ASSERT_TRUE(a.ok()) << a.message();

  TestObserver obs;
  auto o = clientOptions();
  o.port = (*a)->port();
  o.username = "vendor2#gw-b";
  o.password = "pass of vendor2";
  RdpClient client(o, &obs);
  const Status st = client.connect();
  ASSERT_TRUE(st.ok()) << st.message();
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_a.last() && sm_a.last()->attached(); }, 20s));
  const auto events = sm_a.last()->lifecycleEvents();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front(), "connected to target 127.0.0.1:" + std::to_string(listener_->port()));
  const double psnr = bestPsnr([&] { return obs.frame(); });
  std::printf("[ metrics ] client -> gateway A -> gateway B -> shadow: PSNR %.1f dB\n", psnr);
  EXPECT_GE(psnr, 30.0);
  client.stop();
  (*a)->stop();
}

// A target announcing a desktop beyond [gateway] max_desktop is refused
// before its screen is allocated, on the target leg and through the gateway.
TEST_F(RdpGatewayTest, TargetDesktopBeyondMaxDesktopIsRefused) {
  {
    TestObserver obs;
    RdpClientOptions o = directOptions();
    o.max_width = 1024;
    o.max_height = 768;
    RdpClient direct(o, &obs);
    const Status st = direct.connect();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(direct.lastFailure(), RdpConnectFailure::DesktopTooLarge);
    EXPECT_EQ(st.message(), "target desktop 1280x800 exceeds max_desktop 1024x768");
    EXPECT_EQ(obs.paints(), 0);
  }
  listener_->stop();
  cfg_.front_door.max_desktop_width = 1024;
  cfg_.front_door.max_desktop_height = 768;
  auto tls = ensureTlsFiles(cfg_);
  ASSERT_TRUE(tls.ok()) << tls.message();
  RdpOptions opts;
  opts.target_gfx = false;
  auto l = RdpListener::start(HostPort{"127.0.0.1", 0}, tls.value(), cfg_, gk_, sm_, opts);
  ASSERT_TRUE(l.ok()) << l.message();
  listener_ = std::move(l.value());
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  if (client.connect().ok()) client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && !sm_.last()->finishReasons().empty(); }, 20s));
  EXPECT_EQ(sm_.last()->finishReasons().front(),
            "target desktop 1280x800 exceeds max_desktop 1024x768");
  EXPECT_EQ(obs.paints(), 0);
  EXPECT_EQ(sm_.last()->frames(), 0);
}

TEST_F(RdpGatewayTest, ConcurrentSessionsEachGetTheScreen) {
  constexpr int kClients = 4;
  std::vector<std::unique_ptr<TestObserver>> obs;
  std::vector<std::unique_ptr<RdpClient>> clients;
  std::vector<std::thread> connecting;
  for (int i = 0; i < kClients; ++i) {
    obs.push_back(std::make_unique<TestObserver>());
    clients.push_back(std::make_unique<RdpClient>(clientOptions(), obs.back().get()));
  }
  std::atomic<int> connected{0};
  for (int i = 0; i < kClients; ++i) {
    connecting.emplace_back([&, i] {
      if (clients[i]->connect().ok()) {
        clients[i]->start();
        ++connected;
      }
    });
  }
  for (auto& t : connecting) t.join();
  ASSERT_EQ(connected.load(), kClients);
  EXPECT_EQ(sm_.opens(), kClients);
  EXPECT_TRUE(tb::waitFor([&] {
    for (auto& o : obs) if (o->paints() == 0) return false;
    return true;
  }, 30s));
  EXPECT_EQ(listener_->activeConnections(), kClients);
  for (auto& c : clients) c->stop();
  EXPECT_TRUE(tb::waitFor([&] { return listener_->activeConnections() == 0; }, 10s));
}

bool sameShape(const PointerShape& a, const PointerShape& b) {
  return a.width == b.width && a.height == b.height && a.hot_x == b.hot_x &&
         a.hot_y == b.hot_y && a.xor_bpp == b.xor_bpp && a.xor_mask == b.xor_mask &&
         a.and_mask == b.and_mask;
}

std::size_t distinctShapes(const std::vector<PointerShape>& shapes) {
  std::vector<PointerShape> seen;
  for (const PointerShape& s : shapes) {
    if (std::none_of(seen.begin(), seen.end(), [&](const PointerShape& t) { return sameShape(s, t); }))
      seen.push_back(s);
  }
  return seen.size();
}

// The target's cursor reaches the client: freerdp-shadow sends the X cursor
// as a New Pointer Update (24 bpp) whenever it changes, and the client
// through the gateway gets exactly the shapes a direct client gets.
TEST_F(RdpGatewayTest, PointerShapesReachTheClient) {
  TestObserver direct_obs;
  RdpClient direct(directOptions(), &direct_obs);
  ASSERT_TRUE(direct.connect().ok());
  direct.start();
  TestObserver obs;
  RdpClient client(clientOptions(), &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  ASSERT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
  const auto points = xtermPoints();
  ASSERT_TRUE(points) << "no xterm geometry, or no room beside the xterm";

  ASSERT_TRUE(tb::waitFor([&] {
    crossXterm(client, *points);
    return distinctShapes(obs.pointerShapes()) >= 2 && !direct_obs.pointerShapes().empty();
  }, 20s, 400ms)) << "gateway client got " << obs.pointerShapes().size()
                  << " shapes, direct client " << direct_obs.pointerShapes().size();
  std::this_thread::sleep_for(300ms);  // let the direct client catch up on the last change

  const auto shapes = obs.pointerShapes();
  const auto reference = direct_obs.pointerShapes();
  for (const PointerShape& s : shapes) {
    EXPECT_TRUE(checkPointerShape(s).ok()) << checkPointerShape(s).message();
    const bool seen = std::any_of(reference.begin(), reference.end(),
                                  [&](const PointerShape& r) { return sameShape(r, s); });
    EXPECT_TRUE(seen) << "a " << s.width << "x" << s.height
                      << " shape the target never sent reached the client";
  }
  // Two different cursors (xterm and desktop), each with pixels that show and
  // pixels that let the screen through, like a real cursor.
  for (const PointerShape& s : shapes) {
    const bool opaque = std::any_of(s.and_mask.begin(), s.and_mask.end(),
                                    [](std::uint8_t b) { return b != 0xff; });
    const bool transparent = std::any_of(s.and_mask.begin(), s.and_mask.end(),
                                         [](std::uint8_t b) { return b != 0; });
    EXPECT_TRUE(opaque && transparent) << s.width << "x" << s.height;
  }
  std::printf("[ metrics ] pointer: %zu shapes through the gateway, first %dx%d at %d bpp "
              "hot %d,%d\n",
              shapes.size(), shapes.front().width, shapes.front().height,
              shapes.front().xor_bpp, shapes.front().hot_x, shapes.front().hot_y);
  client.stop();
  direct.stop();
}

// A client that announces no pointer cache can only be given system
// pointers: the target's shapes become the default pointer.
TEST_F(RdpGatewayTest, ClientWithoutPointerCacheGetsTheDefaultPointer) {
  TestObserver direct_obs;
  RdpClient direct(directOptions(), &direct_obs);
  ASSERT_TRUE(direct.connect().ok());
  direct.start();
  TestObserver obs;
  auto o = clientOptions();
  o.pointer_cache_size = 0;
  RdpClient client(o, &obs);
  ASSERT_TRUE(client.connect().ok());
  client.start();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 20s));
  ASSERT_TRUE(tb::waitFor([&] { return obs.paints() > 0; }, 20s));
  const auto points = xtermPoints();
  ASSERT_TRUE(points) << "no xterm geometry, or no room beside the xterm";
  const int defaults = obs.pointerUpdates(PointerUpdate::Kind::Default);
  ASSERT_TRUE(tb::waitFor([&] {
    crossXterm(client, *points);
    return direct_obs.pointerShapes().size() >= 2 &&
           obs.pointerUpdates(PointerUpdate::Kind::Default) >= defaults + 2;
  }, 20s, 400ms));
  EXPECT_EQ(obs.pointerUpdates(PointerUpdate::Kind::New), 0);
  EXPECT_EQ(obs.pointerUpdates(PointerUpdate::Kind::Cached), 0);
  client.stop();
  direct.stop();
}

TEST_F(RdpGatewayTest, RealXfreerdpTypesALine) {
  auto client_display = tb::XDisplay::start(1366, 900, false);
  ASSERT_TRUE(client_display.ok()) << client_display.message();
  auto& cd = *client_display.value();
  auto xfreerdp = cd.spawn({"xfreerdp", "/v:127.0.0.1:" + std::to_string(listener_->port()),
                            std::string("/u:") + kUser + "#demo", std::string("/p:") + kPassword,
                            "/cert:ignore", "/size:1280x800", "-grab-keyboard"},
                           log_dir_ + "/xfreerdp.log");
  ASSERT_TRUE(xfreerdp.ok()) << xfreerdp.message();
  ASSERT_TRUE(tb::waitFor([&] { return sm_.last() && sm_.last()->attached(); }, 30s))
      << tb::readFile(log_dir_ + "/xfreerdp.log");
  auto session = sm_.last();
  ASSERT_TRUE(tb::waitFor([&] { return session->frames() > 0; }, 20s));

  std::string wid;
  ASSERT_TRUE(tb::waitFor([&] {
    wid.clear();
    auto rc = cd.run({"xdotool", "search", "--name", "FreeRDP"}, &wid);
    return rc.ok() && rc.value() == 0 && !wid.empty();
  }, 20s)) << tb::readFile(log_dir_ + "/xfreerdp.log");
  wid = wid.substr(0, wid.find('\n'));
  focusXterm();
  ASSERT_TRUE(cd.run({"xdotool", "windowfocus", "--sync", wid}).ok());
  // Click inside the xterm (it sits at +50+50 on the server's screen).
  ASSERT_TRUE(cd.run({"xdotool", "mousemove", "--window", wid, "300", "200", "click", "1"}).ok());
  const std::string file = uniqueFile("xfreerdp");
  std::filesystem::remove(file);
  const std::string line = "touch " + file;
  ASSERT_TRUE(cd.run({"xdotool", "type", "--delay", "40", line}).ok());
  ASSERT_TRUE(cd.run({"xdotool", "key", "Return"}).ok());
  EXPECT_TRUE(tb::waitFor([&] { return std::filesystem::exists(file); }, 15s))
      << "typed through xfreerdp, nothing ran on the server";
  std::filesystem::remove(file);
  EXPECT_NE(typedText(session->inputs()).find(line + "\n"), std::string::npos)
      << typedText(session->inputs());
  const double psnr = bestPsnr([&] { return session->lastFrame(); });
  std::printf("[ metrics ] xfreerdp session PSNR %.1f dB\n", psnr);
  EXPECT_GE(psnr, 35.0);
}

}  // namespace
}  // namespace vigil::gateway::rdp
