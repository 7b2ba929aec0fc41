#include "tests/integration/gateway_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "gateway/auth/password.h"

namespace vigil::integration {

using namespace std::chrono_literals;

namespace {

int listenLoopback(std::uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int connectLoopback(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Copies bytes both ways until either side closes.
void pump(int a, int b, const std::atomic<bool>& stop) {
  char buf[65536];
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  while (!stop) {
    if (poll(fds, 2, 200) < 0) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) { done = true; break; }
      for (ssize_t off = 0; off < n;) {
        // MSG_NOSIGNAL: a side that went away must not kill the test with SIGPIPE.
        const ssize_t w = ::send(fds[1 - i].fd, buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) { done = true; break; }
        off += w;
      }
    }
    if (done) break;
  }
  close(a);
  close(b);
}

}  // namespace

CountingProxy::CountingProxy(std::uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = listenLoopback(&port_);
  thread_ = std::thread([this] { acceptLoop(); });
}

CountingProxy::~CountingProxy() {
  stop_ = true;
  shutdown(listen_fd_, SHUT_RDWR);
  close(listen_fd_);
  thread_.join();
  for (auto& t : pumps_) t.join();
}

void CountingProxy::acceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++connections_;
    const int upstream = connectLoopback(target_port_);
    if (upstream < 0) {
      close(client);
      continue;
    }
    pumps_.emplace_back([this, client, upstream] { pump(client, upstream, stop_); });
  }
}

Result<std::unique_ptr<GatewayFixture>> GatewayFixture::start() { return start(FixtureOptions{}); }

Result<std::unique_ptr<GatewayFixture>> GatewayFixture::start(const FixtureOptions& opts) {
  std::unique_ptr<GatewayFixture> f(new GatewayFixture());
  f->dir_ = testbed::makeTempDir("vigil-e2e");
  f->redis_port_ = testbed::freeTcpPort();
  auto redis = testbed::startRedis(f->redis_port_, f->dir_);
  if (!redis) return redis.status();
  f->redis_ = std::move(*redis);

  auto display = testbed::XDisplay::start(1280, 800, true);
  if (!display) return display.status();
  f->display_ = std::move(*display);
  auto xterm = f->display_->startXterm(kTerminalTitle, "100x30+60+60");
  if (!xterm) return xterm.status();
  f->xterm_ = std::move(*xterm);
  f->x11vnc_port_ = testbed::freeTcpPort();
  auto vnc = testbed::startX11vnc(*f->display_, f->x11vnc_port_, "tgt-pw12", f->dir_ + "/x11vnc.log");
  if (!vnc) return vnc.status();
  f->x11vnc_ = std::move(*vnc);
  f->proxy_ = std::make_unique<CountingProxy>(f->x11vnc_port_);
  if (opts.rdp_target) {
    // NLA against a SAM file holding the vaulted credentials below: the
    // gateway's target leg accepts a TLS-only target only once it confirms
    // the logon, which freerdp-shadow never does; under NLA, CredSSP does.
    std::string sam;
    auto hashed = testbed::run({"winpr-hash", "-u", "Administrator", "-p", kRdpTargetPassword,
                                "-f", "sam"}, {}, &sam);
    if (!hashed || *hashed != 0 || sam.empty())
      return Status::Error("winpr-hash (winpr-utils) could not make the SAM file for freerdp-shadow");
    std::ofstream(f->dir_ + "/shadow.sam") << sam;
    f->shadow_port_ = testbed::freeTcpPort();
    auto shadow = f->display_->spawn({"freerdp-shadow-cli", "/port:" + std::to_string(f->shadow_port_),
                                      "/bind-address:127.0.0.1", "/sec:nla",
                                      "/sam-file:" + f->dir_ + "/shadow.sam"},
                                     f->dir_ + "/shadow.log");
    if (!shadow) return shadow.status();
    f->shadow_ = std::move(*shadow);
    if (!testbed::waitForPort(f->shadow_port_, 20s))
      return Status::Error("freerdp-shadow-cli did not listen:\n" + testbed::readFile(f->dir_ + "/shadow.log"));
    f->rdp_proxy_ = std::make_unique<CountingProxy>(f->shadow_port_);
  }

  auto hash = gateway::auth::hashPassword(kVendorPassword);
  if (!hash) return hash.status();
  f->vnc_port_ = testbed::freeTcpPort();
  f->web_port_ = testbed::freeTcpPort();
  f->rdp_port_ = testbed::freeTcpPort();
  f->recordings_dir_ = opts.recordings_dir.value_or("");
  f->config_path_ = f->dir_ + "/vigil.toml";
  std::ofstream cfg(f->config_path_);
  cfg << "[redis]\nurl = \"redis://127.0.0.1:" << f->redis_port_ << "/0\"\n"
      << "[recordings]\ndir = \"" << f->recordingsDir() << "\"\n"
      << (opts.recording_qp ? "qp = " + std::to_string(*opts.recording_qp) + "\n" : std::string())
      << (opts.recordings_min_free ? "min_free = " + *opts.recordings_min_free + "\n" : std::string())
      << "[gateway]\nstate_dir = \"" << f->dir_ << "/var\"\nnode_id = \"e2e-node\"\nlog_level = \"debug\"\n"
      << opts.extra_gateway_toml
      << (opts.extra_gateway_toml.empty() || opts.extra_gateway_toml.back() == '\n' ? "" : "\n")
      << "[web]\nlisten = \"127.0.0.1:" << f->web_port_ << "\"\n"
      << "[rdp]\nlisten = \"127.0.0.1:" << f->rdp_port_ << "\"\n"
      << "[[users]]\nname = \"vendor1\"\npassword_hash = \"" << *hash << "\"\nroles = [\"vendor\"]\n"
      << "[[users]]\nname = \"vendor2\"\npassword_hash = \"" << *hash << "\"\nroles = [\"vendor\"]\n"
      << "[[targets]]\nname = \"desk-vnc\"\nprotocol = \"vnc\"\nhost = \"127.0.0.1\"\nport = "
      << f->proxy_->port() << "\npassword = \"tgt-pw12\"\nvnc_listen = \"127.0.0.1:" << f->vnc_port_ << "\"\n"
      << "[[grants]]\nuser = \"vendor1\"\ntarget = \"desk-vnc\"\n"
      << "[[grants]]\nuser = \"vendor2\"\ntarget = \"desk-vnc\"\nnot_after = \"2020-01-01T00:00:00Z\"\n";
  if (opts.web_users) {
    auto aud_hash = gateway::auth::hashPassword(kAuditorPassword);
    if (!aud_hash) return aud_hash.status();
    auto sec_hash = gateway::auth::hashPassword(kSecurityPassword);
    if (!sec_hash) return sec_hash.status();
    cfg << "[[users]]\nname = \"" << kAuditorUser << "\"\npassword_hash = \"" << *aud_hash
        << "\"\nroles = [\"auditor\"]\n"
        << "[[users]]\nname = \"" << kSecurityUser << "\"\npassword_hash = \"" << *sec_hash
        << "\"\nroles = [\"security\"]\n";
  }
  if (f->rdp_proxy_) {
    cfg << "[[targets]]\nname = \"" << kRdpTarget << "\"\nprotocol = \"rdp\"\nhost = \"127.0.0.1\"\nport = "
        << f->rdp_proxy_->port() << "\nusername = \"Administrator\"\npassword = \"" << kRdpTargetPassword
        << "\"\n"
        << "[[grants]]\nuser = \"vendor1\"\ntarget = \"" << kRdpTarget << "\"\n";
  }
  cfg << opts.extra_toml << "\n";
  cfg.close();
  if (f->rdp_proxy_ && opts.trust_rdp_target) {
    VigilRun trust = f->vigil({"trust-target", kRdpTarget, "--yes"});
    if (trust.exit_code != 0)
      return Status::Error("vigil trust-target " + std::string(kRdpTarget) + " failed (exit " +
                           std::to_string(trust.exit_code) + "):\n" + trust.out);
    f->rdp_proxy_->resetCount();
  }
  if (Status st = f->startGateway(); !st.ok()) return st;
  return f;
}

GatewayFixture::~GatewayFixture() {
  gateway_.stop(5000ms);
  rdp_proxy_.reset();
  shadow_.stop();
  proxy_.reset();
  std::string keep = getenv("VIGIL_KEEP_TEST_DIRS") ? "1" : "";
  if (keep.empty()) (void)testbed::run({"rm", "-rf", dir_});
}

Status GatewayFixture::startGateway() {
  gateway_.stop();
  auto p = testbed::Process::start({VIGIL_BINARY, "serve", "--config", config_path_},
                                   {.env = {}, .log_path = dir_ + "/vigil.log"});
  if (!p) return p.status();
  gateway_ = std::move(*p);
  const bool ready = testbed::waitFor(
      [&] { return gatewayLog().find("ready") != std::string::npos || !gateway_.running(); }, 20s);
  if (!ready || !gateway_.running())
    return Status::Error("vigil serve did not start:\n" + gatewayLog());
  if (!testbed::waitForPort(vnc_port_, 5s)) return Status::Error("VNC listener not up:\n" + gatewayLog());
  if (rdp_proxy_ && !testbed::waitForPort(rdp_port_, 5s))
    return Status::Error("RDP listener not up:\n" + gatewayLog());
  return Status::Ok();
}

void GatewayFixture::killGateway() {
  kill(gateway_.pid(), SIGKILL);
  gateway_.wait(5000ms);
}

int GatewayFixture::terminateGateway(std::chrono::milliseconds timeout) {
  if (gateway_.pid() <= 0) return -1;
  kill(gateway_.pid(), SIGTERM);
  return gateway_.wait(timeout);
}

VigilRun GatewayFixture::vigil(std::vector<std::string> args) const {
  args.insert(args.begin(), VIGIL_BINARY);
  args.push_back("--config");
  args.push_back(config_path_);
  VigilRun r;
  auto rc = testbed::run(args, {}, &r.out, 60s);
  r.exit_code = rc ? *rc : -1;
  return r;
}

nlohmann::json GatewayFixture::vigilJson(std::vector<std::string> args) const {
  args.push_back("--json");
  VigilRun r = vigil(std::move(args));
  if (r.exit_code != 0) return nlohmann::json();
  return nlohmann::json::parse(r.out, nullptr, false);
}

int GatewayFixture::liveSessionCount() const {
  nlohmann::json j = vigilJson({"sessions", "--live", "--limit", "10000"});
  return j.is_object() ? static_cast<int>(j["sessions"].size()) : -1;
}

double GatewayFixture::gatewayRssMiB() const {
  std::ifstream in("/proc/" + std::to_string(gatewayPid()) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  return -1;
}

std::string GatewayFixture::grantCode(const std::string& target) const {
  nlohmann::json j = vigilJson({"grant", "--user", "vendor1", "--target", target, "--ttl", "10m"});
  return j.is_object() ? j.value("code", "") : "";
}

void GatewayFixture::focusTerminal() const {
  std::string out;
  (void)display_->run({"xdotool", "search", "--name", kTerminalTitle}, &out);
  const std::string win = out.substr(0, out.find('\n'));
  if (win.empty()) return;
  (void)display_->run({"xdotool", "windowactivate", "--sync", win});
  (void)display_->run({"xdotool", "mousemove", "--window", win, "200", "200"});
}

}  // namespace vigil::integration
