#include "gateway/rdp/rdp_listener.h"

#include <freerdp/channels/channels.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/peer.h>
#include <unistd.h>
#include <winpr/wtsapi.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "gateway/listener.h"
#include "gateway/rdp/freerdp_process.h"
#include "gateway/rdp/handshake_refusal.h"
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
}  // namespace

struct RdpListener::Impl {
  const Config* cfg;
  Gatekeeper* gk;
  SessionManager* sm;
  RdpOptions opts;
  std::string cert_pem, key_pem;
  std::unique_ptr<TargetPins> pins;
  ExplainBudget explain_budget;  // info lines for refused handshakes, shared by connections
  std::unique_ptr<Listener> door;  // last: its connections use the fields above

  // The front door's factory (accept thread): a FreeRDP peer on the socket.
  std::unique_ptr<ClientConnection> makeConnection(int fd, const std::string& addr, DoorPass pass) {
    freerdp_peer* peer = freerdp_peer_new(fd);
    if (!peer) {
      ::close(fd);
      spdlog::warn("rdp: out of memory for the connection from {}", addr);
      return nullptr;
    }
    // FreeRDP's own listener fills these; ours is the front door's.
    std::snprintf(peer->hostname, sizeof peer->hostname, "%s", addressHost(addr).c_str());
    peer->local = FALSE;
    RdpConnectionDeps deps{cfg, gk, sm, opts, cert_pem, key_pem, pins.get(), &explain_budget};
    return std::make_unique<RdpConnection>(peer, addr, std::move(deps), std::move(pass));
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
  if (Status st = prepareFreerdpProcess(); !st.ok()) return st;

  Impl* raw = impl.get();
  auto door = Listener::start(listen, "rdp", DoorLimits::from(cfg.front_door),
                              [raw](int fd, const std::string& addr, DoorPass pass) {
                                return raw->makeConnection(fd, addr, std::move(pass));
                              },
                              opts.door_group);
  if (!door.ok()) return Status::Error("[rdp] listen " + door.message());
  impl->door = std::move(door.value());
  spdlog::info("rdp: listening on {}:{}", listen.host, impl->door->port());
  return std::unique_ptr<RdpListener>(new RdpListener(std::move(impl)));
}

std::uint16_t RdpListener::port() const { return impl_->door->port(); }

int RdpListener::activeConnections() const { return impl_->door->activeConnections(); }

void RdpListener::stop() { impl_->door->stop(); }

}  // namespace vigil::gateway::rdp
