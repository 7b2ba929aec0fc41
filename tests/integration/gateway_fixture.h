// A whole Vigil node for end-to-end tests: a real Redis, a real desktop
// (Xvfb + openbox + xterm) served by x11vnc, and the real `vigil serve`
// binary with a generated config. The VNC target is reached through a
// counting TCP proxy, so a test can prove that a refused client caused no
// connection to the target. With FixtureOptions::rdp_target the same desktop
// is also served by freerdp-shadow-cli as RDP target "desk-rdp", behind its
// own counting proxy. Everything is stopped when the fixture dies.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "storage/key_ring.h"
#include "tests/testbed/testbed.h"

namespace vigil::integration {

// Forwards 127.0.0.1:port() to a target port and counts the connections.
class CountingProxy {
 public:
  explicit CountingProxy(std::uint16_t target_port);
  ~CountingProxy();
  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  // Forgets the connections so far (the fixture's own set-up ones).
  void resetCount() { connections_ = 0; }

 private:
  void acceptLoop();
  std::uint16_t target_port_;
  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> pumps_;
};

struct VigilRun {
  int exit_code = -1;
  std::string out;
};

struct FixtureOptions {
  // Also serve the desktop over RDP (freerdp-shadow-cli, NLA with the vaulted
  // credentials) as target "desk-rdp", granted to vendor1 (log in as
  // "vendor1#desk-rdp" with kVendorPassword).
  bool rdp_target = false;
  // Trust desk-rdp's certificate as an operator would, with the real
  // `vigil trust-target desk-rdp --yes` before the gateway starts (its
  // connection is not counted in rdpTargetConnections()). Off: the gateway
  // must refuse the target as unknown.
  bool trust_rdp_target = true;
  // Also configure web API users: kAuditorUser (role auditor) and
  // kSecurityUser (role security), with kAuditorPassword / kSecurityPassword.
  bool web_users = false;
  // [recordings] qp, when set.
  std::optional<int> recording_qp;
  // Front-door tests: TOML lines appended to [gateway] as they are
  // (e.g. "handshake_timeout = \"3s\"\nmax_unauthenticated_per_address = 8\n");
  // [recordings] dir instead of <fixture dir>/recordings; [recordings]
  // min_free as written in TOML (e.g. "\"1GiB\"").
  std::string extra_gateway_toml;
  std::optional<std::string> recordings_dir;
  std::optional<std::string> recordings_min_free;
  // TOML appended at the end of the config as it is (e.g. [[rules]] tables).
  std::string extra_toml;
};

class GatewayFixture {
 public:
  static constexpr const char* kRdpTarget = "desk-rdp";
  static constexpr const char* kTerminalTitle = "Administrator: Command Prompt";
  static constexpr const char* kVendorPassword = "vendor-pass-1";
  // desk-rdp's vaulted password (the shadow server checks it by NLA).
  static constexpr const char* kRdpTargetPassword = "tgt-rdp-pw9";
  // Web API users (only with FixtureOptions::web_users).
  static constexpr const char* kAuditorUser = "auditor1";
  static constexpr const char* kAuditorPassword = "auditor-pass-1";
  static constexpr const char* kSecurityUser = "security1";
  static constexpr const char* kSecurityPassword = "security-pass-1";

  // Starts everything; any failure is a test failure (ASSERT in the caller).
  static Result<std::unique_ptr<GatewayFixture>> start();
  static Result<std::unique_ptr<GatewayFixture>> start(const FixtureOptions& opts);
  ~GatewayFixture();

  // Runs `vigil ARGS --config <generated>`.
  VigilRun vigil(std::vector<std::string> args) const;
  nlohmann::json vigilJson(std::vector<std::string> args) const;  // adds --json
  // Sessions live now, per `vigil sessions --live` (-1 if it failed).
  int liveSessionCount() const;
  // `vigil serve`'s resident set in MiB (VmRSS), -1 if it is gone.
  double gatewayRssMiB() const;
  std::string grantCode(const std::string& target = "desk-vnc") const;

  Status startGateway();      // (re)starts `vigil serve`
  void killGateway();         // kill -9
  // kill -TERM; waits up to `timeout` for `vigil serve` to exit. Its exit
  // status, or -1 if it is still running (the destructor kills it).
  int terminateGateway(std::chrono::milliseconds timeout);
  std::uint16_t vncPort() const { return vnc_port_; }
  std::uint16_t webPort() const { return web_port_; }
  std::uint16_t rdpPort() const { return rdp_port_; }
  int targetConnections() const { return proxy_->connections(); }
  // Connections the gateway made to the RDP target (0 without rdp_target).
  int rdpTargetConnections() const { return rdp_proxy_ ? rdp_proxy_->connections() : 0; }
  // freerdp-shadow-cli's own port (a direct connection, bypassing gateway and proxy).
  std::uint16_t rdpServerPort() const { return shadow_port_; }
  // The running `vigil serve` (-1 when it is not running).
  pid_t gatewayPid() const { return gateway_.pid(); }
  const testbed::XDisplay& display() const { return *display_; }
  const std::string& dir() const { return dir_; }
  std::string recordingsDir() const { return recordings_dir_.empty() ? dir_ + "/recordings" : recordings_dir_; }
  // The gateway's recording keys ([recordings] encrypt is on by default):
  // what reading a recording file straight off the disk needs.
  storage::KeyRing recordingKeys() const {
    auto keys = storage::KeyRing::load(dir_ + "/var");
    return keys.ok() ? *keys : storage::KeyRing();
  }
  std::string gatewayLog() const { return testbed::readFile(dir_ + "/vigil.log"); }
  // Focuses the terminal on the server's screen.
  void focusTerminal() const;

 private:
  GatewayFixture() = default;
  std::string dir_, config_path_, recordings_dir_;
  std::uint16_t redis_port_ = 0, x11vnc_port_ = 0, vnc_port_ = 0, web_port_ = 0, rdp_port_ = 0;
  std::uint16_t shadow_port_ = 0;
  testbed::Process redis_, x11vnc_, xterm_, gateway_;
  std::unique_ptr<testbed::XDisplay> display_;
  std::unique_ptr<CountingProxy> proxy_;
  testbed::Process shadow_;
  std::unique_ptr<CountingProxy> rdp_proxy_;
};

}  // namespace vigil::integration
