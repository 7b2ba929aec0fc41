// `vigil trust-target NAME [--yes]` (the real binary) against a real RDP
// target: freerdp-shadow-cli with NLA on its own Xvfb. It shows the
// certificate, records it only when confirmed, never replaces a trusted one
// with --yes, and the recorded one is what the gateway then accepts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gateway/rdp/rdp_client.h"
#include "gateway/rdp/target_pins.h"
#include "tests/testbed/testbed.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;
namespace tb = vigil::testbed;
using gateway::rdp::RdpClient;
using gateway::rdp::RdpClientOptions;
using gateway::rdp::RdpConnectFailure;

constexpr char kPassword[] = "desk-secret-3";

class Screen final : public gateway::rdp::RdpClientObserver {
 public:
  void onPaint(const Frame&, const DirtyRegion&) override { ++paints; }
  std::atomic<int> paints{0};
};

struct Ran {
  int code = -1;
  std::string out;  // stdout and stderr
};

class TrustTargetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto display = tb::XDisplay::start(1024, 768, false);
    ASSERT_TRUE(display.ok()) << display.message();
    display_ = std::move(display.value()).release();
    dir_ = tb::makeTempDir("vigil-trust-target");
    std::string sam;
    auto hashed = tb::run({"winpr-hash", "-u", "Administrator", "-p", kPassword, "-f", "sam"}, {}, &sam);
    ASSERT_TRUE(hashed.ok() && *hashed == 0 && !sam.empty()) << "winpr-hash (winpr-utils) failed";
    std::ofstream(dir_ + "/shadow.sam") << sam;
    port_ = tb::freeTcpPort();
    auto shadow = display_->spawn({"freerdp-shadow-cli", "/port:" + std::to_string(port_),
                                   "/bind-address:127.0.0.1", "/sec:nla",
                                   "/sam-file:" + dir_ + "/shadow.sam"},
                                  dir_ + "/shadow.log");
    ASSERT_TRUE(shadow.ok()) << shadow.message();
    shadow_ = new tb::Process(std::move(shadow.value()));
    ASSERT_TRUE(tb::waitForPort(port_, 20s)) << tb::readFile(dir_ + "/shadow.log");
    // The config: no Redis needed for trust-target.
    std::ofstream(dir_ + "/vigil.toml")
        << "[gateway]\nstate_dir = \"" << dir_ << "/var\"\n"
        << "[[targets]]\nname = \"desk\"\nprotocol = \"rdp\"\nhost = \"127.0.0.1\"\nport = " << port_
        << "\nusername = \"Administrator\"\npassword = \"" << kPassword << "\"\n"
        << "[[targets]]\nname = \"vnc-desk\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\nport = 5999\n"
        << "password = \"x\"\nvnc_listen = \"127.0.0.1:5998\"\n";
    // What the target really presents, read by the library the same way.
    Screen screen;
    RdpClientOptions probe;
    probe.host = "127.0.0.1";
    probe.port = port_;
    probe.check_certificate = [](const std::string&) { return Status::Error("probe"); };
    RdpClient client(probe, &screen);
    ASSERT_FALSE(client.connect().ok());
    fingerprint_ = client.serverFingerprint();
    ASSERT_EQ(fingerprint_.size(), 95u) << fingerprint_;
  }
  static void TearDownTestSuite() {
    delete shadow_;
    delete display_;
    shadow_ = nullptr;
    display_ = nullptr;
    if (!getenv("VIGIL_KEEP_TEST_DIRS")) std::filesystem::remove_all(dir_);
  }
  void SetUp() override {
    ASSERT_NE(shadow_, nullptr) << "test bed did not start";
    std::filesystem::remove(knownTargets());
  }

  static std::string knownTargets() { return dir_ + "/var/rdp/known_targets"; }
  static std::string where() { return "127.0.0.1:" + std::to_string(port_); }

  // Runs vigil with `stdin_text` on its stdin.
  static Ran vigil(const std::string& args, const std::string& stdin_text = "") {
    const std::string in = dir_ + "/stdin";
    std::ofstream(in, std::ios::trunc) << stdin_text;
    Ran r;
    auto rc = tb::run({"sh", "-c", std::string(VIGIL_BINARY) + " " + args + " --config '" + dir_ +
                                       "/vigil.toml' < '" + in + "' 2>&1"},
                      {}, &r.out, 60s);
    r.code = rc.ok() ? *rc : -1;
    return r;
  }

  TargetConfig desk() const {
    TargetConfig t;
    t.name = "desk";
    t.host = "127.0.0.1";
    t.port = port_;
    return t;
  }

  static inline tb::XDisplay* display_ = nullptr;
  static inline tb::Process* shadow_ = nullptr;
  static inline std::string dir_, fingerprint_;
  static inline std::uint16_t port_ = 0;
};

TEST_F(TrustTargetTest, AnsweringNoRecordsNothing) {
  for (const std::string answer : {"n\n", "", "yes please\n"}) {
    SCOPED_TRACE("stdin: " + answer);
    const Ran r = vigil("trust-target desk", answer);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find("SHA-256: " + fingerprint_), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Trust this certificate for desk? [y/N]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nothing recorded"), std::string::npos) << r.out;
    EXPECT_FALSE(std::filesystem::exists(knownTargets()));
  }
  gateway::rdp::TargetPins pins(knownTargets());
  EXPECT_FALSE(pins.check(desk(), fingerprint_).ok());
}

TEST_F(TrustTargetTest, YesRecordsTheCertificateAndTheNextConnectionIsAccepted) {
  const Ran r = vigil("trust-target desk --yes");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("SHA-256: " + fingerprint_), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("subject: "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kPassword), std::string::npos) << "the vaulted password was shown";
  EXPECT_EQ(tb::readFile(knownTargets()), where() + " " + fingerprint_ + "\n");

  // The gateway's check (a fresh TargetPins reads the file) accepts it, and
  // the target leg then logs on (NLA) and gets the screen.
  gateway::rdp::TargetPins pins(knownTargets());
  Screen screen;
  RdpClientOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.username = "Administrator";
  o.password = kPassword;
  o.target_name = "desk";
  o.require_logon_confirmation = true;
  o.gfx = false;
  const TargetConfig t = desk();
  o.check_certificate = [&](const std::string& fp) { return pins.check(t, fp); };
  RdpClient client(o, &screen);
  const Status st = client.connect();
  ASSERT_TRUE(st.ok()) << st.message();
  client.start();
  EXPECT_TRUE(tb::waitFor([&] { return screen.paints > 0; }, 20s));
  client.stop();

  // Again: already trusted, nothing changes. Interactive "y" works too.
  const Ran again = vigil("trust-target desk --yes");
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("already trusted"), std::string::npos) << again.out;
  std::filesystem::remove(knownTargets());
  const Ran typed = vigil("trust-target desk", "y\n");
  EXPECT_EQ(typed.code, 0) << typed.out;
  EXPECT_EQ(tb::readFile(knownTargets()), where() + " " + fingerprint_ + "\n");
}

// A changed certificate stays refused: --yes never replaces a trusted one;
// an operator who checked it replaces it by answering "y".
TEST_F(TrustTargetTest, AChangedCertificateNeedsAnOperator) {
  const std::string old =
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";
  std::filesystem::create_directories(dir_ + "/var/rdp");
  std::ofstream(knownTargets()) << where() << " " << old << "\n";
  gateway::rdp::TargetPins pins(knownTargets());
  const Status refused = pins.check(desk(), fingerprint_);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("certificate changed"), std::string::npos) << refused.message();

  const Ran yes = vigil("trust-target desk --yes");
  EXPECT_EQ(yes.code, 1) << yes.out;
  EXPECT_NE(yes.out.find("WARNING"), std::string::npos) << yes.out;
  EXPECT_NE(yes.out.find("--yes does not replace"), std::string::npos) << yes.out;
  EXPECT_EQ(tb::readFile(knownTargets()), where() + " " + old + "\n");
  const Ran no = vigil("trust-target desk", "n\n");
  EXPECT_EQ(no.code, 1) << no.out;
  EXPECT_EQ(tb::readFile(knownTargets()), where() + " " + old + "\n");
  const Ran typed = vigil("trust-target desk", "y\n");
  EXPECT_EQ(typed.code, 0) << typed.out;
  EXPECT_EQ(tb::readFile(knownTargets()), where() + " " + fingerprint_ + "\n");
  EXPECT_TRUE(pins.check(desk(), fingerprint_).ok());
}

TEST_F(TrustTargetTest, JsonAndUsage) {
  const Ran json = vigil("trust-target desk --yes --json");
  ASSERT_EQ(json.code, 0) << json.out;
  EXPECT_NE(json.out.find("\"fingerprint\": \"" + fingerprint_ + "\""), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"trusted\": true"), std::string::npos) << json.out;

  const Ran unknown = vigil("trust-target nosuch --yes");
  EXPECT_EQ(unknown.code, 1) << unknown.out;
  EXPECT_NE(unknown.out.find("no target \"nosuch\""), std::string::npos) << unknown.out;
  const Ran vnc = vigil("trust-target vnc-desk --yes");
  EXPECT_EQ(vnc.code, 1) << vnc.out;
  const Ran usage = vigil("trust-target");
  EXPECT_EQ(usage.code, 2) << usage.out;
}

}  // namespace
}  // namespace vigil
