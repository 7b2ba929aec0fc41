#include "gateway/rdp/rdp_listener.h"

#include <freerdp/channels/channels.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <winpr/synch.h>
#include <winpr/wtsapi.h>

#include <fstream>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/thread_name.h"
#include "gateway/rdp/freerdp_process.h"
#include "gateway/rdp/rdp_connection.h"
#include "gateway/rdp/target_pins.h"

namespace vigil::gateway::rdp {

std::optional<RdpLogin> parseRdpUsername(const std::string& username) {
  std::string name = username;
  // "DOMAIN\USER#TARGET": some clients fold the domain into the name.
  if (auto bs = name.rfind('\\'); bs != std::string::npos) name = name.substr(bs + 1);
  const auto hash = name.find('#');
  if (hash == std::string::npos || hash == 0 || hash + 1 >= name.size()) return std::nullopt;
  RdpLogin login{name.substr(0, hash), name.substr(hash + 1)};
  if (login.user.size() > 256 || login.target.size() > 256) return std::nullopt;
  return login;
}

namespace {
Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ListenerDeleter {
  void operator()(freerdp_listener* l) const {
    l->Close(l);
    freerdp_listener_free(l);
  }
};
}  // namespace

struct RdpListener::Impl {
  const Config* cfg;
  Gatekeeper* gk;
  SessionManager* sm;
  RdpOptions opts;
  std::string cert_pem, key_pem;
  std::unique_ptr<TargetPins> pins;
  std::uint16_t port = 0;
  std::unique_ptr<freerdp_listener, ListenerDeleter> listener;
  HANDLE stop_event = CreateEventA(nullptr, TRUE, FALSE, nullptr);
  std::thread accept_thread;

  struct Entry {
    std::shared_ptr<RdpConnection> conn;
    std::thread thread;
  };
  mutable std::mutex mutex;
  std::list<Entry> conns;
  bool stopping = false;

  ~Impl() { CloseHandle(stop_event); }

  void reap() {
    std::list<Entry> finished;
    {
      std::lock_guard lock(mutex);
      for (auto it = conns.begin(); it != conns.end();) {
        if (it->conn->done()) {
          finished.splice(finished.end(), conns, it++);
        } else {
          ++it;
        }
      }
    }
    for (Entry& e : finished) e.thread.join();
  }

  static BOOL peerAccepted(freerdp_listener* l, freerdp_peer* peer) {
    auto* self = static_cast<Impl*>(l->info);
    self->reap();
    std::lock_guard lock(self->mutex);
    if (self->stopping) return FALSE;
    if (static_cast<int>(self->conns.size()) >= self->opts.max_peers) {
      spdlog::warn("rdp: too many connections ({}), dropping client={}", self->conns.size(),
                   peer->hostname);
      return FALSE;  // FreeRDP closes and frees the peer
    }
    ConnectionDeps deps{self->cfg,      self->gk,      self->sm,
                        self->opts,     self->cert_pem, self->key_pem,
                        self->pins.get()};
    auto conn = std::make_shared<RdpConnection>(peer, std::move(deps));
    spdlog::debug("rdp: connection from {}", peer->hostname);
    self->conns.push_back(Entry{conn, std::thread([conn] {
                               nameThisThread("rdp-user");
                               conn->run();
                             })});
    return TRUE;
  }

  void acceptLoop() {
    HANDLE handles[MAXIMUM_WAIT_OBJECTS];
    for (;;) {
      DWORD n = listener->GetEventHandles(listener.get(), handles, MAXIMUM_WAIT_OBJECTS - 1);
      handles[n++] = stop_event;
      // Wake now and then to join finished connection threads.
      const DWORD st = WaitForMultipleObjects(n, handles, FALSE, 1000);
      if (st == WAIT_FAILED) {
        spdlog::error("rdp: listener wait failed");
        break;
      }
      if (WaitForSingleObject(stop_event, 0) == WAIT_OBJECT_0) break;
      if (st != WAIT_TIMEOUT && !listener->CheckFileDescriptor(listener.get())) {
        spdlog::warn("rdp: accept failed");
      }
      reap();
    }
  }
};

RdpListener::RdpListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RdpListener::~RdpListener() { stop(); }

Result<std::unique_ptr<RdpListener>> RdpListener::start(const HostPort& listen, const TlsFiles& tls,
                                                        const Config& cfg, Gatekeeper& gk,
                                                        SessionManager& sm, RdpOptions opts) {
  auto impl = std::make_unique<Impl>();
  impl->cfg = &cfg;
  impl->gk = &gk;
  impl->sm = &sm;
  impl->opts = opts;
  impl->pins = std::make_unique<TargetPins>(cfg.state_dir + "/rdp/known_targets");
  auto cert = readFile(tls.cert_pem_path);
  if (!cert.ok()) return Status::Error("[rdp] TLS certificate: " + cert.message());
  auto key = readFile(tls.key_pem_path);
  if (!key.ok()) return Status::Error("[rdp] TLS key: " + key.message());
  impl->cert_pem = std::move(cert.value());
  impl->key_pem = std::move(key.value());
  if (auto fp = certificateFingerprint(impl->cert_pem); fp.ok()) {
    spdlog::info("rdp: TLS certificate fingerprint sha256={}", fp.value());
  } else {
    return Status::Error("[rdp] TLS certificate " + tls.cert_pem_path + " is not a PEM certificate");
  }

  // FreeRDP's server-side virtual channels go through winpr's WTS API, which
  // must be pointed at FreeRDP's implementation (process-wide, idempotent).
  if (!WTSRegisterWtsApiFunctionTable(FreeRDP_InitWtsApi())) {
    return Status::Error("cannot register FreeRDP's WTS API (virtual channels)");
  }

  // Our own socket, so port 0 works and we can report the bound port.
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_str = std::to_string(listen.port);
  if (getaddrinfo(listen.host.empty() ? nullptr : listen.host.c_str(), port_str.c_str(), &hints,
                  &res) != 0 ||
      !res) {
    return Status::Error("[rdp] listen: cannot resolve " + listen.str());
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> res_owner(res, freeaddrinfo);
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) return Status::Error("[rdp] listen: cannot create a socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 64) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Error("[rdp] listen: cannot bind " + listen.str() + ": " + std::strerror(err));
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  impl->port = ntohs(bound.ss_family == AF_INET6
                         ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                         : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  if (Status st = prepareFreerdpProcess(); !st.ok()) {
    ::close(fd);
    return st;
  }
  impl->listener.reset(freerdp_listener_new());
  if (!impl->listener) {
    ::close(fd);
    return Status::Error("out of memory creating the RDP listener");
  }
  impl->listener->info = impl.get();
  impl->listener->PeerAccepted = Impl::peerAccepted;
  if (!impl->listener->OpenFromSocket(impl->listener.get(), fd)) {
    ::close(fd);
    return Status::Error("[rdp] listen: FreeRDP could not use the socket for " + listen.str());
  }
  Impl* raw = impl.get();
  raw->accept_thread = std::thread([raw] { raw->acceptLoop(); });
  spdlog::info("rdp: listening on {}:{}", listen.host, impl->port);
  return std::unique_ptr<RdpListener>(new RdpListener(std::move(impl)));
}

std::uint16_t RdpListener::port() const { return impl_->port; }

int RdpListener::activeConnections() const {
  std::lock_guard lock(impl_->mutex);
  int n = 0;
  for (const auto& e : impl_->conns) n += e.conn->done() ? 0 : 1;
  return n;
}

void RdpListener::stop() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.mutex);
    if (d.stopping) return;
    d.stopping = true;
  }
  SetEvent(d.stop_event);
  if (d.accept_thread.joinable()) d.accept_thread.join();
  std::list<Impl::Entry> all;
  {
    std::lock_guard lock(d.mutex);
    all.swap(d.conns);
  }
  for (auto& e : all) e.conn->close("gateway shutting down");
  for (auto& e : all) e.thread.join();
  d.listener.reset();
}

}  // namespace vigil::gateway::rdp
