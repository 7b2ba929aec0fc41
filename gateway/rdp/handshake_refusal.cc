#include "gateway/rdp/handshake_refusal.h"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace vigil::gateway::rdp {
namespace {
constexpr std::uint32_t kTls = 0x1, kHybrid = 0x2, kHybridEx = 0x8;
}  // namespace

std::string printableClientName(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '\0' || out.size() >= 32) break;
    out += (c >= 0x20 && c < 0x7F && c != '"' && c != '\'' && c != '\\') ? c : '?';
  }
  return out;
}

std::string explainHandshakeEnd(const HandshakeFacts& f) {
  const bool nla = (f.requested_protocols & (kHybrid | kHybridEx)) != 0;
  if (nla && !(f.requested_protocols & kTls)) {
    // FreeRDP already answered SSL_REQUIRED_BY_SERVER; the client shows it.
    return "client offered only NLA (CredSSP), which the gateway does not offer towards clients "
           "(it would need every user's password kept in clear); the gateway needs TLS security: "
           "turn NLA off in the client (xfreerdp /sec:tls, mstsc enablecredsspsupport:i:0)";
  }
  if (nla && f.negotiated && f.selected_protocol == kTls && f.client_data_segments == 1) {
    // xfreerdp /sec:nla offers TLS and NLA alike (as every client that can
    // fall back does), then hangs up when TLS is chosen, before any TLS.
    return "client offered NLA (CredSSP) and TLS but left when the gateway chose TLS, before "
           "the TLS handshake: it requires NLA, which the gateway does not offer towards clients "
           "(it would need every user's password kept in clear); connect with TLS security "
           "(xfreerdp /sec:tls, mstsc enablecredsspsupport:i:0)";
  }
  if (f.mcs_connected) {
    // rdesktop <= 1.9 writes subHeight/subInterval as two raw 16-bit
    // numbers, not PER integers: FreeRDP's server finds one byte too many.
    return "the client's MCS Erect Domain Request was malformed and FreeRDP's server refused it "
           "(rdesktop 1.9 sends one; client name '" + printableClientName(f.client_name) +
           "' build " + std::to_string(f.client_build) +
           "); use xfreerdp, Remmina or mstsc (docs/compatibility.md)";
  }
  return "";
}

bool ExplainBudget::take(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  if (now - window_start_ >= std::chrono::minutes(1)) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= per_minute_) return false;
  ++used_;
  return true;
}

std::uint32_t dataSegmentsReceived(int fd) {
  struct tcp_info info {};
  socklen_t len = sizeof info;
  if (fd < 0 || ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  if (len < offsetof(struct tcp_info, tcpi_data_segs_in) + sizeof info.tcpi_data_segs_in) return 0;
  return info.tcpi_data_segs_in;
}

}  // namespace vigil::gateway::rdp
