// SIEM output, measured against peers in one run, over loopback TCP to an
// in-process receiver that parses octet-counted frames (RFC 6587):
//   - throughput (messages/s) of vigil's path (SiemOutput: CEF formatting,
//     RFC 5424 header, bounded queue, sender thread) vs a raw socket write
//     loop of the same pre-formatted messages (one send() per message) and
//     util-linux `logger --tcp --octet-count` sending the same bodies;
//   - alert latency: event -> frame parsed by the receiver, idle;
//   - an outage of --outage-s seconds (real time) with --rate events/s: 0
//     lost, every message in order, and the time the spool takes to catch
//     up once the receiver is back.
// Usage: siem_bench --out DIR [--messages 100000] [--rounds 3] [--outage-s 60] [--rate 1000]
// Writes DIR/siem_bench.json (every raw sample) and prints the figures.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "core/config.h"
#include "gateway/siem/formatter.h"
#include "gateway/siem/siem_output.h"

namespace vigil::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

double secondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Accepts connections one after another on 127.0.0.1:port and parses
// "LEN SP MSG" frames; records the arrival time of "seq=N" markers.
class Receiver {
 public:
  explicit Receiver(std::uint16_t port = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::perror("bind");
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    listen(fd_, 16);
    thread_ = std::thread([this] { run(); });
  }
  ~Receiver() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    {
      std::lock_guard lock(mu_);
      if (conn_ >= 0) shutdown(conn_, SHUT_RDWR);
    }
    thread_.join();
    close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::uint64_t frames() const { return frames_.load(); }
  // seq -> arrival, and the seq numbers in arrival order.
  std::vector<std::pair<long, Clock::time_point>> marks() {
    std::lock_guard lock(mu_);
    return marks_;
  }
  void clearMarks() {
    std::lock_guard lock(mu_);
    marks_.clear();
  }

 private:
  void run() {
    while (!stop_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      {
        std::lock_guard lock(mu_);
        conn_ = c;
      }
      std::string buf;
      char chunk[1 << 16];
      for (;;) {
        const ssize_t n = recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
        std::size_t pos = 0;
        for (;;) {
          const auto sp = buf.find(' ', pos);
          if (sp == std::string::npos || sp - pos > 10) break;
          const std::size_t len = std::stoul(buf.substr(pos, sp - pos));
          if (buf.size() < sp + 1 + len) break;
          const std::string_view msg(buf.data() + sp + 1, len);
          // "seq=N", as CEF writes it in msg: "seq\=N".
          const auto seq = msg.find("seq\\=");
          if (seq != std::string_view::npos) {
            std::lock_guard lock(mu_);
            marks_.emplace_back(std::atol(std::string(msg.substr(seq + 5, 12)).c_str()), Clock::now());
          }
          ++frames_;
          pos = sp + 1 + len;
        }
        buf.erase(0, pos);
      }
      std::lock_guard lock(mu_);
      close(c);
      conn_ = -1;
    }
  }
  int fd_ = -1, conn_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> frames_{0};
  std::mutex mu_;
  std::vector<std::pair<long, Clock::time_point>> marks_;
  std::thread thread_;
};

bool waitFrames(Receiver& rx, std::uint64_t n, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  while (rx.frames() < n) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(200us);
  }
  return true;
}

Config benchConfig(const std::string& dir, std::uint16_t port) {
  Config c = Config::parse("[[rules]]\nname = \"bench rule\"\nmatch = 'x'\naction = \"alert\"\nseverity = \"high\"\n"
                           "[siem]\nsyslog = \"tcp://127.0.0.1:" + std::to_string(port) +
                               "\"\nkinds = [\"lifecycle\", \"alert\", \"key\"]\n",  // spool_max: the default 64 MiB
                           "bench.toml");
  c.state_dir = dir;
  c.node_id = "bench";
  return c;
}

const gateway::SessionInfo kWho{"20261207T160000-abc123", "vendor1", "dc01", "rdp", "10.0.0.9:50000", 0};

Event alertEvent(long seq) {
  return {seq, EventKind::Alert, "bench rule: net user eve [masked] /add seq=" + std::to_string(seq), {}};
}

// Submits `n` events at full speed, but never more than `window` ahead of
// the sender (the queue holds 10 000): the sustainable rate.
double vigilThroughput(const std::string& dir, int n) {
  std::filesystem::remove_all(dir);
  Receiver rx;
  auto out = siem::SiemOutput::start(benchConfig(dir, rx.port()), "bench");
  if (!out) {
    std::fprintf(stderr, "%s\n", out.message().c_str());
    std::exit(1);
  }
  gateway::SessionInfo who = kWho;
  who.started_at = epochNowMs();
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    while (i - static_cast<long>((*out)->syslog()->stats().sent) > 8000) std::this_thread::sleep_for(50us);
    (*out)->onSessionEvent(who, alertEvent(i));
  }
  if (!waitFrames(rx, n, 120s)) std::fprintf(stderr, "vigil: only %lu of %d\n", (unsigned long)rx.frames(), n);
  const double s = secondsSince(t0);
  if ((*out)->syslog()->stats().lost != 0) std::fprintf(stderr, "vigil lost messages\n");
  return n / s;
}

std::vector<std::string> formattedMessages(int n) {
  siem::CefFormatter cef("bench");
  siem::SyslogHeader header(13, "bench", getpid());
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    siem::SiemEvent e;
    e.at = epochNowMs();
    e.t_ms = i;
    e.kind = EventKind::Alert;
    e.text = alertEvent(i).text;
    e.session_id = kWho.id, e.user = kWho.user, e.target = kWho.target, e.protocol = kWho.protocol;
    e.client_addr = kWho.client_addr, e.rule = "bench rule", e.severity = Severity::High, e.action = "alert";
    out.push_back(header.message(e, cef.format(e)));
  }
  return out;
}

// The floor: the same bytes, one send() per framed message, no formatting.
double rawThroughput(const std::vector<std::string>& msgs) {
  Receiver rx;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(rx.port());
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::perror("connect");
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const auto t0 = Clock::now();
  for (const auto& m : msgs) {
    const std::string framed = std::to_string(m.size()) + " " + m;
    if (send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(framed.size())) break;
  }
  waitFrames(rx, msgs.size(), 120s);
  const double s = secondsSince(t0);
  close(fd);
  return msgs.size() / s;
}

// util-linux logger, reading one message body per line from a file.
double loggerThroughput(const std::vector<std::string>& msgs, const std::string& dir) {
  Receiver rx;
  const std::string file = dir + "/logger-input.txt";
  {
    std::ofstream f(file);
    for (const auto& m : msgs) f << m.substr(m.find("CEF:")) << "\n";
  }
  const std::string cmd = "logger --tcp --octet-count --rfc5424 -n 127.0.0.1 -P " + std::to_string(rx.port()) +
                          " -t vigil -f " + file;
  const auto t0 = Clock::now();
  if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "logger failed\n");
  waitFrames(rx, msgs.size(), 120s);
  return msgs.size() / secondsSince(t0);
}

struct Stats {
  double p50, p95, p99, max;
};
Stats percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * v.size()))]; };
  return {at(0.50), at(0.95), at(0.99), v.back()};
}

}  // namespace
}  // namespace vigil::bench

int main(int argc, char** argv) {
  using namespace vigil;
  using namespace vigil::bench;
  using SteadyClock = std::chrono::steady_clock;
  std::string out_dir = "bench/results";
  int messages = 100'000, rounds = 3, outage_s = 60, rate = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--out") out_dir = argv[i + 1];
    else if (a == "--messages") messages = std::atoi(argv[i + 1]);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else if (a == "--outage-s") outage_s = std::atoi(argv[i + 1]);
    else if (a == "--rate") rate = std::atoi(argv[i + 1]);
  }
  spdlog::set_level(spdlog::level::err);
  const std::string work = std::filesystem::temp_directory_path() / ("siem-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(work);
  nlohmann::json j;
  j["messages"] = messages;
  j["rounds"] = rounds;

  // 1. Throughput, alternating.
  const auto msgs = formattedMessages(messages);
  std::vector<double> vig, raw, lg;
  for (int r = 0; r < rounds; ++r) {
    vig.push_back(vigilThroughput(work + "/tp", messages));
    raw.push_back(rawThroughput(msgs));
    lg.push_back(loggerThroughput(msgs, work));
    std::printf("round %d: vigil %.0f msg/s, raw send loop %.0f msg/s, logger %.0f msg/s\n", r, vig.back(),
                raw.back(), lg.back());
  }
  j["throughput_msgs_per_s"] = {{"vigil", vig}, {"raw_send_loop", raw}, {"logger", lg}};
  j["message_bytes"] = msgs[0].size();

  // 2. Alert latency, idle receiver: 200 alerts 10 ms apart.
  std::vector<double> lat_ms;
  {
    std::filesystem::remove_all(work + "/lat");
    Receiver rx;
    auto out = siem::SiemOutput::start(benchConfig(work + "/lat", rx.port()), "bench");
    gateway::SessionInfo who = kWho;
    who.started_at = epochNowMs();
    for (int i = 0; i < 200; ++i) {
      const auto t0 = SteadyClock::now();
      (*out)->onSessionEvent(who, alertEvent(i));
      if (!waitFrames(rx, i + 1, 5s) || rx.marks().empty()) {
        std::fprintf(stderr, "alert %d did not arrive\n", i);
        return 1;
      }
      lat_ms.push_back(std::chrono::duration<double, std::milli>(rx.marks().back().second - t0).count());
      std::this_thread::sleep_for(10ms);
    }
  }
  const Stats ls = percentiles(lat_ms);
  std::printf("alert latency (event -> receiver), idle: p50 %.3f ms, p95 %.3f ms, p99 %.3f ms, max %.3f ms\n",
              ls.p50, ls.p95, ls.p99, ls.max);
  j["alert_latency_ms"] = lat_ms;

  // 3. Outage: the receiver is away for outage_s seconds while `rate`
  // events/s happen; then it is back. All must arrive, in order.
  {
    std::filesystem::remove_all(work + "/outage");
    std::uint16_t port;
    { Receiver probe; port = probe.port(); }  // a port, free again once probe is gone
    auto out = siem::SiemOutput::start(benchConfig(work + "/outage", port), "bench");
    gateway::SessionInfo who = kWho;
    who.started_at = epochNowMs();
    const long total = static_cast<long>(outage_s) * rate;
    const auto t0 = SteadyClock::now();
    for (long i = 0; i < total; ++i) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(i * 1'000'000 / rate));
      (*out)->onSessionEvent(who, alertEvent(i));
    }
    const double outage = secondsSince(t0);
    while ((*out)->syslog()->stats().spool_count < static_cast<std::uint64_t>(total)) std::this_thread::sleep_for(1ms);
    const auto spooled = (*out)->syslog()->stats();
    const auto back = SteadyClock::now();
    Receiver rx(port);
    const bool all = waitFrames(rx, total, 600s);
    const double catchup = secondsSince(back);
    const auto marks = rx.marks();
    const double first = marks.empty() ? -1 : std::chrono::duration<double>(marks.front().second - back).count();
    long in_order = 0;
    for (std::size_t k = 0; k < marks.size(); ++k) in_order += marks[k].first == static_cast<long>(k);
    const auto st = (*out)->syslog()->stats();
    std::printf("outage %.1f s at %d events/s: %ld events, spool %lu messages / %.1f MB; receiver back: "
                "%lu arrived (%ld in order), lost %lu, first after %.3f s (reconnect), caught up in %.3f s (%.0f msg/s)\n",
                outage, rate, total, (unsigned long)spooled.spool_count, spooled.spool_bytes / 1e6,
                (unsigned long)rx.frames(), in_order, (unsigned long)st.lost, first, catchup, total / catchup);
    j["outage"] = {{"seconds", outage},       {"rate_per_s", rate},          {"events", total},
                   {"spool_bytes", spooled.spool_bytes}, {"arrived", rx.frames()}, {"in_order", in_order},
                   {"lost", st.lost},         {"all_arrived", all},          {"catchup_s", catchup},
                   {"first_after_s", first}};
  }
  std::filesystem::remove_all(work);
  std::filesystem::create_directories(out_dir);
  std::ofstream(out_dir + "/siem_bench.json") << j.dump(1) << "\n";
  return 0;
}
