#include "gateway/vnc/vnc_listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gateway/vnc/vnc_log.h"
#include "gateway/vnc/vnc_relay.h"

namespace vigil::gateway::vnc {
namespace {

std::string peerAddress(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    port = ntohs(a->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    port = ntohs(a->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
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
  if (int rc = ::getaddrinfo(host, port.c_str(), &hints, &res); rc != 0) {
    return Status::Error("vnc_listen " + where.str() + ": cannot resolve: " + gai_strerror(rc));
  }
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
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
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
  return Status::Error("vnc_listen " + where.str() + ": cannot listen: " + last_error +
                       " (is the port in use?)");
}

}  // namespace

Result<std::unique_ptr<VncListener>> VncListener::start(const TargetConfig& target, Gatekeeper& gk,
                                                        SessionManager& sm, VncOptions opts) {
  if (!target.vnc_listen) {
    return Status::Error("target " + target.name + " has no vnc_listen: set it to serve it over VNC");
  }
  routeVncLogsToSpdlog();
  std::unique_ptr<VncListener> l(new VncListener(target, gk, sm, opts));
  Result<int> fd = bindListener(*target.vnc_listen, l->port_);
  if (!fd.ok()) return fd.status();
  l->listen_fd_ = *fd;
  l->stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (l->stop_fd_ < 0) return Status::Error(std::string("eventfd: ") + std::strerror(errno));
  l->accept_thread_ = std::thread(&VncListener::acceptLoop, l.get());
  spdlog::info("vnc listening target={} listen={}:{}", target.name, target.vnc_listen->host,
               l->port_);
  return l;
}

VncListener::VncListener(TargetConfig target, Gatekeeper& gk, SessionManager& sm, VncOptions opts)
    : target_(std::move(target)), gk_(gk), sm_(sm), opts_(opts) {}

VncListener::~VncListener() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void VncListener::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  if (stop_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::unique_ptr<VncRelay>> relays;
  {
    std::lock_guard lock(relays_mutex_);
    relays.swap(relays_);
  }
  for (auto& r : relays) r->close("gateway shutting down");
  for (auto& r : relays) r->join();
  relays.clear();
}

std::size_t VncListener::activeConnections() const {
  std::lock_guard lock(relays_mutex_);
  std::size_t n = 0;
  for (const auto& r : relays_) n += r->finished() ? 0 : 1;
  return n;
}

void VncListener::reapFinished() {
  std::vector<std::unique_ptr<VncRelay>> done;
  {
    std::lock_guard lock(relays_mutex_);
    for (auto it = relays_.begin(); it != relays_.end();) {
      if ((*it)->finished()) {
        done.push_back(std::move(*it));
        it = relays_.erase(it);
      } else {
        (*it)->checkHandshakeDeadline();
        ++it;
      }
    }
  }
  // Joined and destroyed outside the lock: activeConnections() stays quick.
  for (auto& r : done) r->join();
}

void VncListener::acceptLoop() {
  while (true) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, 250);
    if (fds[1].revents & POLLIN) break;
    reapFinished();
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;

    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        spdlog::warn("vnc accept target={}: {}", target_.name, std::strerror(errno));
      }
      continue;
    }
    const std::string addr = peerAddress(ss);
    bool full = false;
    {
      std::lock_guard lock(relays_mutex_);
      full = relays_.size() >= opts_.max_connections;
      if (!full) {
        auto relay = std::make_unique<VncRelay>(fd, addr, target_, gk_, sm_, opts_);
        relay->start();
        relays_.push_back(std::move(relay));
      }
    }
    if (full) {
      spdlog::warn("vnc connection limit reached target={} limit={} client={}: refused",
                   target_.name, opts_.max_connections, addr);
      ::close(fd);
    } else {
      spdlog::debug("vnc accepted client={} target={}", addr, target_.name);
    }
  }
}

}  // namespace vigil::gateway::vnc
