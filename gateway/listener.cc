#include "gateway/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/thread_name.h"

namespace vigil::gateway {
namespace {

constexpr int kSweepMs = 100;  // deadlines are met within this
// Handshakes that end without a session free what TLS and FreeRDP allocated
// for them, but glibc keeps freed pages inside its arenas: under a scan or a
// flood RSS would stay at the peak. Returned to the OS at most this often.
constexpr auto kTrimEvery = std::chrono::seconds(2);

std::string peerAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return host;
}

Result<int> bindListener(const HostPort& where, std::uint16_t& bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(where.port);
  const char* host = where.host.empty() ? nullptr : where.host.c_str();
  if (int rc = ::getaddrinfo(host, port.c_str(), &hints, &res); rc != 0)
    return Status::Error(where.str() + ": cannot resolve: " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(res, ::freeaddrinfo);
  std::string last_error = "no usable address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 128) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
  }
  return Status::Error(where.str() + ": cannot listen: " + last_error + " (is the port in use?)");
}

}  // namespace

DoorLimits DoorLimits::from(const FrontDoorConfig& c) {
  DoorLimits l;
  l.handshake_timeout = std::chrono::milliseconds(c.handshake_timeout_ms);
  l.max_unauthenticated_per_address = c.max_unauthenticated_per_address;
  l.max_unauthenticated = c.max_unauthenticated;
  l.max_connections = c.max_connections;
  return l;
}

DoorGroup::Counts DoorGroup::count(const std::string& host) const {
  std::lock_guard lock(mu_);
  Counts c;
  for (const Listener* l : members_) {
    const Counts m = l->count(host);
    c.unauthenticated += m.unauthenticated;
    c.from_host += m.from_host;
  }
  return c;
}

void DoorGroup::join(const Listener* l) {
  std::lock_guard lock(mu_);
  members_.push_back(l);
}

void DoorGroup::leave(const Listener* l) {
  std::lock_guard lock(mu_);
  std::erase(members_, l);
}

Result<std::unique_ptr<Listener>> Listener::start(const HostPort& where, std::string name,
                                                  DoorLimits limits, Factory factory,
                                                  std::shared_ptr<DoorGroup> group) {
  if (!group) group = std::make_shared<DoorGroup>();
  std::unique_ptr<Listener> l(
      new Listener(std::move(name), limits, std::move(factory), std::move(group)));
  Result<int> fd = bindListener(where, l->port_);
  if (!fd.ok()) return fd.status();
  l->listen_fd_ = *fd;
  l->stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->stop_fd_ < 0) return Status::Error(std::string("eventfd: ") + std::strerror(errno));
  l->group_->join(l.get());
  l->accept_thread_ = std::thread(&Listener::acceptLoop, l.get());
  return l;
}

Listener::Listener(std::string name, DoorLimits limits, Factory factory,
                   std::shared_ptr<DoorGroup> group)
    : name_(std::move(name)), limits_(limits), factory_(std::move(factory)), group_(std::move(group)) {}

Listener::~Listener() {
  stop();
  group_->leave(this);
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

int Listener::activeConnections() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const Entry& e : entries_) n += e.finished->load() ? 0 : 1;
  return n;
}

void Listener::stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  if (stop_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  std::list<Entry> all;
  {
    std::lock_guard lock(mu_);
    all.swap(entries_);
  }
  for (Entry& e : all) {
    e.conn->close("gateway shutting down");
    if (e.ctl_fd >= 0) ::shutdown(e.ctl_fd, SHUT_RDWR);
  }
  for (Entry& e : all) {
    if (e.thread.joinable()) e.thread.join();
    if (e.ctl_fd >= 0) ::close(e.ctl_fd);
  }
}

DoorGroup::Counts Listener::count(const std::string& host) const {
  std::lock_guard lock(mu_);
  DoorGroup::Counts c;
  for (const Entry& e : entries_) {
    if (e.finished->load() || e.authenticated->load()) continue;
    ++c.unauthenticated;
    if (e.host == host) ++c.from_host;
  }
  return c;
}

std::string Listener::refusal(const std::string& host) const {
  const auto [unauthenticated, from_host] = group_->count(host);
  int open = 0;
  {
    std::lock_guard lock(mu_);
    for (const Entry& e : entries_) open += e.finished->load() ? 0 : 1;
  }
  if (from_host >= limits_.max_unauthenticated_per_address)
    return "too many connections still handshaking from this address (max_unauthenticated_per_address " +
           std::to_string(limits_.max_unauthenticated_per_address) + ")";
  if (unauthenticated >= limits_.max_unauthenticated)
    return "too many connections still handshaking (max_unauthenticated " +
           std::to_string(limits_.max_unauthenticated) + ")";
  if (open >= limits_.max_connections)
    return "connection limit reached (max_connections " + std::to_string(limits_.max_connections) + ")";
  return {};
}

void Listener::logRefusal(const std::string& host, const std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  ++refusals_unlogged_;
  if (now - last_refusal_log_ < std::chrono::seconds(1)) return;
  spdlog::info("{}: refused at the door client={} reason=\"{}\" refused_since_last_line={}", name_,
               host, why, refusals_unlogged_);
  last_refusal_log_ = now;
  refusals_unlogged_ = 0;
}

void Listener::acceptLoop() {
  nameThisThread("accept");
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, kSweepMs);
    if (fds[1].revents & POLLIN) break;
    sweep();
    if (n > 0 && (fds[0].revents & POLLIN)) acceptOne();
  }
}

void Listener::acceptOne() {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) {
      spdlog::warn("{}: accept: {} (raise the open-files limit)", name_, std::strerror(errno));
      // Without a free descriptor the pending connection stays queued and
      // poll() reports it at once: do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(kSweepMs));
    }
    return;
  }
  const std::string addr = peerAddress(ss);
  const std::string host = addressHost(addr);
  const std::string why = refusal(host);
  if (!why.empty()) {
    ::close(fd);
    logRefusal(host, why);
    return;
  }
  const int ctl = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (ctl < 0) {
    ::close(fd);
    logRefusal(host, "out of file descriptors");
    return;
  }
  auto authenticated = std::make_shared<std::atomic<bool>>(false);
  std::unique_ptr<ClientConnection> conn = factory_(fd, addr, DoorPass(authenticated));
  if (!conn) {
    ::close(ctl);
    return;
  }
  spdlog::debug("{}: accepted client={}", name_, addr);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  ClientConnection* raw = conn.get();
  std::lock_guard lock(mu_);
  Entry& e = entries_.emplace_back();
  e.conn = std::move(conn);
  e.host = host;
  e.ctl_fd = ctl;
  e.deadline = std::chrono::steady_clock::now() + limits_.handshake_timeout;
  e.authenticated = std::move(authenticated);
  e.finished = finished;
  e.thread = std::thread([raw, finished] {
    raw->run();
    finished->store(true);
  });
}

void Listener::sweep() {
  const auto now = std::chrono::steady_clock::now();
  std::list<Entry> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& e = *it;
      if (e.finished->load()) {
        done.splice(done.end(), entries_, it++);
        continue;
      }
      if (!e.cut && !e.authenticated->load() && now > e.deadline) {
        // Shut the socket down under the library's feet: whatever read it
        // is blocked in returns, and the connection's thread winds down.
        e.cut = true;
        spdlog::info("{}: handshake timed out client={} timeout_ms={}", name_, e.host,
                     limits_.handshake_timeout.count());
        e.conn->close("handshake timed out");
        ::shutdown(e.ctl_fd, SHUT_RDWR);
      }
      ++it;
    }
  }
  // Joined outside the lock: activeConnections() stays quick.
  for (Entry& e : done) {
    if (e.thread.joinable()) e.thread.join();
    if (e.ctl_fd >= 0) ::close(e.ctl_fd);
    if (!e.authenticated->load()) freed_since_trim_ = true;
  }
  if (freed_since_trim_ && now - last_trim_ >= kTrimEvery) {
    freed_since_trim_ = false;
    last_trim_ = now;
    malloc_trim(0);
  }
}

}  // namespace vigil::gateway
