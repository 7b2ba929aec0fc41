// [siem] against a real rsyslog (Debian's rsyslogd with imtcp, imudp and the
// OpenSSL stream driver): sessions' events arrive as RFC 5424 CEF or JSON
// with user, target, session and rule, masked; over TLS only to a receiver
// the CA vouches for; across a receiver restart all of them, in order. And
// a webhook against a small HTTP listener.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/config.h"
#include "gateway/gateway_sessions.h"
#include "gateway/siem/siem_output.h"
#include "storage/memory_store.h"
#include "tests/testbed/testbed.h"

namespace vigil::siem {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> splitLines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string line; std::getline(ss, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// rsyslogd in the foreground, its own config; every message received is
// written as "APP-NAME MSGID MSG" to received.log.
class Rsyslog {
 public:
  struct Tls {
    std::string ca, cert, key;
  };
  Rsyslog(std::string dir, std::optional<Tls> tls) : dir_(std::move(dir)), tls_(std::move(tls)) {
    tcp_port_ = testbed::freeTcpPort();
    udp_port_ = testbed::freeTcpPort();  // free for UDP too, in practice, on loopback
    std::filesystem::create_directories(dir_ + "/work");
    std::ofstream conf(dir_ + "/rsyslog.conf");
    conf << "global(workDirectory=\"" << dir_ << "/work\"";
    if (tls_)
      conf << " DefaultNetstreamDriver=\"ossl\" DefaultNetstreamDriverCAFile=\"" << tls_->ca
           << "\" DefaultNetstreamDriverCertFile=\"" << tls_->cert << "\" DefaultNetstreamDriverKeyFile=\""
           << tls_->key << "\"";
    conf << ")\n";
    if (tls_)
      conf << "module(load=\"imtcp\" StreamDriver.Name=\"ossl\" StreamDriver.Mode=\"1\" "
              "StreamDriver.AuthMode=\"anon\")\n";
    else
      conf << "module(load=\"imtcp\")\n";
    conf << "module(load=\"imudp\")\n"
         << "template(name=\"fields\" type=\"string\" string=\"%app-name% %msgid% %msg%\\n\")\n"
         << "ruleset(name=\"in\") { action(type=\"omfile\" file=\"" << dir_
         << "/received.log\" template=\"fields\") }\n"
         << "input(type=\"imtcp\" port=\"" << tcp_port_ << "\" address=\"127.0.0.1\" ruleset=\"in\")\n"
         << "input(type=\"imudp\" port=\"" << udp_port_ << "\" address=\"127.0.0.1\" ruleset=\"in\")\n";
  }
  ~Rsyslog() { stop(); }

  Status start() {
    const std::string bin = testbed::findExecutable("rsyslogd");
    if (bin.empty()) return Status::Error("rsyslogd is not installed (Debian package rsyslog)");
    auto p = testbed::Process::start({bin, "-n", "-f", dir_ + "/rsyslog.conf", "-i", dir_ + "/rsyslogd.pid"},
                                     {{}, dir_ + "/rsyslogd.out", -1});
    if (!p) return p.status();
    proc_ = std::move(p.value());
    if (!testbed::waitForPort(tcp_port_, 10s))
      return Status::Error("rsyslogd did not listen: " + slurp(dir_ + "/rsyslogd.out"));
    return Status::Ok();
  }
  void stop() { proc_.stop(5s); }
  std::vector<std::string> lines() const { return splitLines(slurp(dir_ + "/received.log")); }
  // Waits until at least `n` lines arrived.
  std::vector<std::string> waitLines(std::size_t n, std::chrono::milliseconds timeout = 5s) const {
    testbed::waitFor([&] { return lines().size() >= n; }, timeout, 10ms);
    return lines();
  }
  std::uint16_t tcpPort() const { return tcp_port_; }
  std::uint16_t udpPort() const { return udp_port_; }

 private:
  std::string dir_;
  std::optional<Tls> tls_;
  std::uint16_t tcp_port_ = 0, udp_port_ = 0;
  testbed::Process proc_;
};

// A CA, a receiver certificate for localhost / 127.0.0.1 it signed, and a
// second CA that signed nothing here.
struct Pki {
  std::string ca, other_ca, cert, key;
};

Result<Pki> makePki(const std::string& dir) {
  const std::string ec = "ec";
  auto openssl = [&](std::vector<std::string> args) -> Status {
    args.insert(args.begin(), "openssl");
    auto rc = testbed::run(args);
    if (!rc) return rc.status();
    if (*rc != 0) return Status::Error("openssl " + args[1] + " failed");
    return Status::Ok();
  };
  std::ofstream(dir + "/ext.cnf") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  for (const char* ca : {"ca", "other-ca"})
    if (Status st = openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", dir + "/" + ca + ".key", "-out", dir + "/" + ca + ".pem", "-days", "2",
                             "-subj", std::string("/CN=vigil test ") + ca});
        !st.ok())
      return st;
  if (Status st = openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                           dir + "/server.key", "-out", dir + "/server.csr", "-subj", "/CN=localhost"});
      !st.ok())
    return st;
  if (Status st = openssl({"x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem", "-CAkey",
                           dir + "/ca.key", "-CAcreateserial", "-out", dir + "/server.pem", "-days", "2",
                           "-extfile", dir + "/ext.cnf"});
      !st.ok())
    return st;
  return Pki{dir + "/ca.pem", dir + "/other-ca.pem", dir + "/server.pem", dir + "/server.key"};
}

const char* kRules = R"(
[[rules]]
name = "mask -p password"
match = '(?:^|\s)-p(\S+)'
kinds = ["key"]
action = "mask"

[[rules]]
name = "mysql as root"
match = 'mysql -u root'
kinds = ["key"]
action = "alert"
severity = "high"
)";

class SiemRsyslogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testbed::makeTempDir("vigil-siem-test");
    target_.name = "dc01";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The config a user would write, with [siem] as given.
  Config config(const std::string& siem) {
    Config c = Config::parse(std::string(kRules) + "\n[siem]\n" + siem, "siem-test.toml");
    c.state_dir = dir_ + "/state";
    c.recordings_dir = dir_ + "/rec";
    c.node_id = "gw-test";
    return c;
  }
  std::unique_ptr<SiemOutput> startOutput(const Config& c) {
    auto out = SiemOutput::start(c, "0.1.0");
    EXPECT_TRUE(out.ok()) << out.message();
    return out.ok() ? std::move(out.value()) : nullptr;
  }
  // A whole session through the real GatewaySessions: connect, a typed line
  // holding a password (masked) that also raises an alert, disconnect.
  std::string runSession(const Config& c, gateway::SessionEventObserver* observer) {
    gateway::GatewaySessions sessions(c, store_, nullptr, nullptr);
    sessions.setObserver(observer);
    auto s = sessions.open(gateway::AccessGrant{"vendor1", &target_, "password", {}}, Protocol::Rdp,
                           "10.0.0.9:50000");
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) return "";
    typeLine(**s, "mysql -u root -pHunter2 prod");
    const std::string id = (*s)->id();
    (*s)->finish("client disconnected");
    return id;
  }
  static void typeLine(gateway::Session& s, const std::string& line) {
    for (char c : line) {
      (void)s.input(KeyInput{static_cast<unsigned char>(c), true});
      (void)s.input(KeyInput{static_cast<unsigned char>(c), false});
    }
    (void)s.input(KeyInput{0xff0d, true});
    (void)s.input(KeyInput{0xff0d, false});
  }
  static const std::string* find(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& l : lines)
      if (l.find(part) != std::string::npos) return &l;
    return nullptr;
  }

  std::string dir_;
  TargetConfig target_;
  storage::MemoryStore store_;
};

TEST_F(SiemRsyslogTest, TcpCefCarriesUserTargetSessionRuleMasked) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"tcp://127.0.0.1:" + std::to_string(rx.tcpPort()) +
                          "\"\nkinds = [\"lifecycle\", \"alert\", \"key\"]\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  const std::string id = runSession(c, out.get());
  ASSERT_FALSE(id.empty());
  // connect, authenticated, the line, the alert, disconnect.
  const auto lines = rx.waitLines(5);
  ASSERT_GE(lines.size(), 5u) << slurp(dir_ + "/rx/rsyslogd.out");
  for (const auto& l : lines) {
    // rsyslog parsed our RFC 5424 header: APP-NAME and MSGID are its fields.
    EXPECT_EQ(l.rfind("vigil ", 0), 0u) << l;
    EXPECT_NE(l.find("CEF:0|Vigil|Vigil|0.1.0|"), std::string::npos) << l;
    EXPECT_NE(l.find(" suser=vendor1 dhost=dc01 src=10.0.0.9 spt=50000 "), std::string::npos) << l;
    EXPECT_NE(l.find(" cs1=" + id + " cs1Label=session "), std::string::npos) << l;
    EXPECT_EQ(l.find("Hunter2"), std::string::npos) << "the SIEM saw the unmasked text: " << l;
  }
  const std::string* alert = find(lines, "vigil alert ");
  ASSERT_TRUE(alert);
  EXPECT_NE(alert->find("|vigil:alert:mysql as root|rule mysql as root matched|8|"), std::string::npos) << *alert;
  EXPECT_NE(alert->find(" cs2=mysql as root cs2Label=rule "), std::string::npos) << *alert;
  const std::string* key = find(lines, "vigil key ");
  ASSERT_TRUE(key);
  EXPECT_NE(key->find("msg=mysql -u root -p[masked] prod"), std::string::npos) << *key;
  EXPECT_TRUE(find(lines, "msg=connect from 10.0.0.9:50000"));
  EXPECT_TRUE(find(lines, "msg=disconnect: client disconnected"));
}

TEST_F(SiemRsyslogTest, TlsJsonToAVerifiedReceiver) {
  auto pki = makePki(dir_);
  ASSERT_TRUE(pki.ok()) << pki.message();
  Rsyslog rx(dir_ + "/rx", Rsyslog::Tls{pki->ca, pki->cert, pki->key});
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"tls://localhost:" + std::to_string(rx.tcpPort()) + "\"\nca_file = \"" +
                          pki->ca + "\"\nformat = \"json\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  const std::string id = runSession(c, out.get());
  const auto lines = rx.waitLines(4);  // connect, authenticated, alert, disconnect (no key: not asked)
  ASSERT_EQ(lines.size(), 4u) << slurp(dir_ + "/rx/rsyslogd.out");
  bool saw_alert = false;
  for (const auto& l : lines) {
    const auto sp = l.find(' ', l.find(' ') + 1);
    const auto j = nlohmann::json::parse(l.substr(sp + 1), nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << l;
    EXPECT_EQ(j["actor"]["user"]["name"], "vendor1");
    EXPECT_EQ(j["dst_endpoint"]["hostname"], "dc01");
    EXPECT_EQ(j["session"]["uid"], id);
    EXPECT_EQ(j["src_endpoint"]["ip"], "10.0.0.9");
    EXPECT_NE(j["type_name"], "key");
    EXPECT_EQ(l.find("Hunter2"), std::string::npos) << l;
    if (j["type_name"] == "alert") {
      saw_alert = true;
      EXPECT_EQ(j["finding_info"]["title"], "mysql as root");
      EXPECT_EQ(j["severity"], "High");
      EXPECT_EQ(j["message"], "mysql as root: mysql -u root");
    }
  }
  EXPECT_TRUE(saw_alert);
}

TEST_F(SiemRsyslogTest, TlsRefusesAReceiverItsCaDidNotSign) {
  auto pki = makePki(dir_);
  ASSERT_TRUE(pki.ok()) << pki.message();
  Rsyslog rx(dir_ + "/rx", Rsyslog::Tls{pki->ca, pki->cert, pki->key});
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"tls://localhost:" + std::to_string(rx.tcpPort()) + "\"\nca_file = \"" +
                          pki->other_ca + "\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  runSession(c, out.get());
  ASSERT_TRUE(testbed::waitFor([&] { return out->syslog()->stats().spool_count == 4; }, 5s))
      << out->syslog()->stats().spool_count;
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(rx.lines().empty()) << "sent to a receiver the CA does not vouch for";
  EXPECT_FALSE(out->syslog()->stats().connected);
  EXPECT_EQ(out->syslog()->stats().lost, 0u);  // kept, not dropped
}

TEST_F(SiemRsyslogTest, UdpOneDatagramPerEvent) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"udp://127.0.0.1:" + std::to_string(rx.udpPort()) + "\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  const std::string id = runSession(c, out.get());
  const auto lines = rx.waitLines(4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(find(lines, "vigil alert CEF:0|Vigil|Vigil|0.1.0|vigil:alert:mysql as root|"));
  EXPECT_TRUE(find(lines, " cs1=" + id + " "));
}

// Target (issue 18): an alert reaches a TCP receiver within 1 s of its event.
TEST_F(SiemRsyslogTest, AnAlertReachesTheReceiverWithinASecond) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"tcp://127.0.0.1:" + std::to_string(rx.tcpPort()) + "\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  gateway::SessionInfo who{"s-latency", "vendor1", "dc01", "rdp", "10.0.0.9:50000", epochNowMs()};
  std::chrono::steady_clock::duration worst{};
  for (int i = 0; i < 20; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    out->onSessionEvent(who, {i, EventKind::Alert, "mysql as root: #" + std::to_string(i), {}});
    ASSERT_TRUE(testbed::waitFor([&] { return rx.lines().size() == static_cast<std::size_t>(i + 1); }, 2s, 1ms));
    worst = std::max(worst, std::chrono::steady_clock::now() - t0);
  }
  // Into rsyslog's output file, through its queue and omfile: the whole path.
  EXPECT_LT(worst, 1s) << std::chrono::duration_cast<std::chrono::milliseconds>(worst).count() << " ms";
}

// The receiver goes away; N alerts happen; it comes back: every one of
// them arrives, in order, and the first within a second of its restart.
TEST_F(SiemRsyslogTest, SpoolAcrossAReceiverRestartLosesNothing) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  ASSERT_TRUE(rx.start().ok());
  const Config c = config("syslog = \"tcp://127.0.0.1:" + std::to_string(rx.tcpPort()) + "\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  gateway::SessionInfo who{"s-restart", "vendor1", "dc01", "rdp", "10.0.0.9:50000", epochNowMs()};
  out->onSessionEvent(who, {0, EventKind::Lifecycle, "connect from 10.0.0.9:50000", {}});
  ASSERT_EQ(rx.waitLines(1).size(), 1u);

  rx.stop();
  constexpr int kAlerts = 300;
  for (int i = 0; i < kAlerts; ++i)
    out->onSessionEvent(who, {i, EventKind::Alert, "mysql as root: alert #" + std::to_string(i), {}});
  ASSERT_TRUE(testbed::waitFor([&] { return out->syslog()->stats().spool_count == kAlerts; }, 5s))
      << out->syslog()->stats().spool_count;

  ASSERT_TRUE(rx.start().ok());
  const auto lines = rx.waitLines(1 + kAlerts, 10s);
  ASSERT_EQ(lines.size(), 1u + kAlerts);
  for (int i = 0; i < kAlerts; ++i)
    EXPECT_NE(lines[1 + i].find("msg=mysql as root: alert #" + std::to_string(i)), std::string::npos)
        << "out of order at " << i << ": " << lines[1 + i];
  EXPECT_EQ(out->syslog()->stats().lost, 0u);
  EXPECT_EQ(out->syslog()->stats().spool_count, 0u);
}

// A spool that fills up during an outage: what did not fit is counted, and
// the receiver gets, in order, an alert saying how many were dropped.
TEST_F(SiemRsyslogTest, SpoolOverflowArrivesAsAnAlert) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  const Config c = config("syslog = \"tcp://127.0.0.1:" + std::to_string(rx.tcpPort()) +
                          "\"\nspool_max = \"1MiB\"\n");
  std::atomic<int> stored{0};
  auto started = SiemOutput::start(c, "0.1.0", [&](const SiemEvent& e) {
    EXPECT_EQ(e.rule, "siem_spool_overflow");
    ++stored;
  });
  ASSERT_TRUE(started.ok()) << started.message();
  auto& out = *started;
  gateway::SessionInfo who{"s-overflow", "vendor1", "dc01", "rdp", "10.0.0.9:50000", epochNowMs()};
  const std::string pad(600, 'x');
  constexpr int kAlerts = 3000;  // ~2.4 MB of messages for a 1 MiB spool
  for (int i = 0; i < kAlerts; ++i) {
    out->onSessionEvent(who, {i, EventKind::Alert, "mysql as root: #" + std::to_string(i) + " " + pad, {}});
    if (i % 500 == 499) std::this_thread::sleep_for(20ms);  // the queue (10 000) is not the limit here
  }
  ASSERT_TRUE(testbed::waitFor(
      [&] {
        const auto st = out->syslog()->stats();
        return st.spool_count + st.lost == kAlerts;
      },
      10s));
  const auto held = out->syslog()->stats();
  EXPECT_GT(held.lost, 0u);
  EXPECT_LE(held.spool_bytes, 1u << 20);

  ASSERT_TRUE(rx.start().ok());
  const auto lines = rx.waitLines(held.spool_count + 1, 10s);
  ASSERT_EQ(lines.size(), held.spool_count + 1);
  // The oldest kept, in order, then the notice where the gap is.
  for (std::size_t i = 0; i < held.spool_count; ++i)
    ASSERT_NE(lines[i].find("msg=mysql as root: #" + std::to_string(i) + " "), std::string::npos) << i;
  const std::string& notice = lines.back();
  EXPECT_EQ(notice.rfind("vigil alert CEF:0|Vigil|Vigil|0.1.0|vigil:alert:siem_spool_overflow|", 0), 0u) << notice;
  EXPECT_NE(notice.find("msg=siem_spool_overflow: " + std::to_string(held.lost) + " syslog messages were dropped"),
            std::string::npos)
      << notice;
  EXPECT_EQ(stored.load(), 1);
  EXPECT_EQ(out->syslog()->stats().notices, 1u);
}

// vigil stopping while the receiver is away keeps the spool; the next vigil sends it.
TEST_F(SiemRsyslogTest, SpoolSurvivesARestartOfVigil) {
  Rsyslog rx(dir_ + "/rx", std::nullopt);
  const Config c = config("syslog = \"tcp://127.0.0.1:" + std::to_string(rx.tcpPort()) + "\"\n");
  gateway::SessionInfo who{"s-vigil-restart", "vendor1", "dc01", "rdp", "10.0.0.9:50000", epochNowMs()};
  {
    auto out = startOutput(c);
    ASSERT_TRUE(out);
    for (int i = 0; i < 20; ++i)
      out->onSessionEvent(who, {i, EventKind::Alert, "mysql as root: #" + std::to_string(i), {}});
    out->stop(100ms);
    EXPECT_EQ(out->syslog()->stats().spool_count, 20u);
  }
  ASSERT_TRUE(rx.start().ok());
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  const auto lines = rx.waitLines(20);
  ASSERT_EQ(lines.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_NE(lines[i].find("msg=mysql as root: #" + std::to_string(i)), std::string::npos);
}

// A small HTTP listener: answers 503 to the first POST, 204 to the others,
// and keeps every body.
class HookListener {
 public:
  // The status line answered to request `n` (0-based) carrying `body`.
  using Answer = std::function<std::string(int n, const std::string& body)>;
  explicit HookListener(Answer answer = [](int n, const std::string&) {
    return n == 0 ? std::string("503 Busy") : std::string("204 No Content");
  }) : answer_(std::move(answer)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { run(); });
  }
  ~HookListener() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> requestLines() {
    std::lock_guard lock(mu_);
    return request_lines_;
  }

 private:
  void run() {
    for (int n = 0; !stop_ && n < 100; ++n) {  // bounded
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      std::size_t need = std::string::npos;
      while (req.size() < 1'000'000) {
        const ssize_t k = recv(c, buf, sizeof buf, 0);
        if (k <= 0) break;
        req.append(buf, static_cast<std::size_t>(k));
        const auto end = req.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          const auto cl = req.find("Content-Length: ");
          need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(req.substr(cl + 16)));
        }
        if (need != std::string::npos && req.size() >= need) break;
      }
      const std::string body = req.substr(std::min(req.size(), req.find("\r\n\r\n") + 4));
      const std::string status = answer_(n, body);
      {
        std::lock_guard lock(mu_);
        request_lines_.push_back(req.substr(0, req.find("\r\n")));
        if (status[0] == '2') bodies_.push_back(body);
      }
      const std::string answer = "HTTP/1.1 " + status + "\r\nContent-Length: 0\r\n\r\n";
      (void)send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      close(c);
    }
  }
  Answer answer_;
  int fd_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> bodies_, request_lines_;
};

TEST_F(SiemRsyslogTest, WebhookPostsAlertsAsJsonAndRetries) {
  HookListener hook;
  const Config c = config("webhook = \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hooks/T0KEN\"\n");
  auto out = startOutput(c);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->syslog(), nullptr);
  const std::string id = runSession(c, out.get());
  // Alerts only by default; the first POST was refused (503) and is sent again.
  ASSERT_TRUE(testbed::waitFor([&] { return hook.bodies().size() >= 1; }, 5s));
  ASSERT_TRUE(out->webhook()->waitIdle(5s));
  const auto bodies = hook.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_EQ(hook.requestLines().size(), 2u);
  EXPECT_EQ(hook.requestLines()[1], "POST /hooks/T0KEN HTTP/1.1");
  const auto j = nlohmann::json::parse(bodies[0]);
  EXPECT_EQ(j["type_name"], "alert");
  EXPECT_EQ(j["finding_info"]["title"], "mysql as root");
  EXPECT_EQ(j["actor"]["user"]["name"], "vendor1");
  EXPECT_EQ(j["dst_endpoint"]["hostname"], "dc01");
  EXPECT_EQ(j["session"]["uid"], id);
}

// A message the receiver refuses for good (400) is dropped and reported once
// as an alert; it does not hold back the messages after it. A 5xx is retried
// (the test above).
TEST_F(SiemRsyslogTest, WebhookDropsWhatTheReceiverRefusesForGoodAndReportsIt) {
  HookListener hook([](int, const std::string& body) {
    return body.find("mysql") != std::string::npos ? std::string("400 Bad Request") : std::string("204 No Content");
  });
  const Config c = config("webhook = \"http://127.0.0.1:" + std::to_string(hook.port()) + "/hooks/T0KEN\"\n" +
                          "webhook_kinds = [\"lifecycle\", \"alert\"]\n");
  std::mutex mu;
  std::vector<SiemEvent> alerts;
  auto out = SiemOutput::start(c, "0.1.0", [&](const SiemEvent& e) {
    std::lock_guard lock(mu);
    alerts.push_back(e);
  });
  ASSERT_TRUE(out.ok()) << out.message();
  const std::string id = runSession(c, out->get());
  ASSERT_TRUE((*out)->webhook()->waitIdle(5s));
  // The alert (its title names mysql) was refused; the session's end came after it and arrived.
  const auto bodies = hook.bodies();
  ASSERT_FALSE(bodies.empty());
  EXPECT_NE(nlohmann::json::parse(bodies.back()).dump().find("end"), std::string::npos) << bodies.back();
  for (const auto& b : bodies) EXPECT_EQ(b.find("mysql"), std::string::npos) << b;
  const ForwarderStats st = (*out)->webhook()->stats();
  EXPECT_EQ(st.refused, 1u);
  EXPECT_EQ(st.spool_count, 0u);
  ASSERT_TRUE(testbed::waitFor([&] {
    std::lock_guard lock(mu);
    return !alerts.empty();
  }, 2s));
  std::lock_guard lock(mu);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].rule, "siem_refused");
  EXPECT_NE(alerts[0].text.find("refused 1 messages for good (last: answered 400)"), std::string::npos)
      << alerts[0].text;
}

}  // namespace
}  // namespace vigil::siem
