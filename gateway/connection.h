// What every connection does between the client's credentials and the
// relay, once for both protocols (CONTRACT.md "Connecting through the
// gateway"): check the recordings disk, admit through the Gatekeeper, open
// the Session (recording file and live record) before the target is
// contacted, bring the target leg up within the desktop bound, attach, and
// end. The adapters (rdp/, vnc/) call these from their connection thread and
// supply only the protocol work; every lifecycle text and refusal log line
// is written here, so both protocols say the same thing for the same event.
// Not thread-safe: one connection thread uses it, except where noted.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "gateway/gatekeeper.h"
#include "gateway/listener.h"
#include "gateway/session.h"
#include "gateway/session_manager.h"

namespace vigil::gateway {

struct ConnectionDeps {
  const Config* config;
  Gatekeeper* gk;
  SessionManager* sm;
};

// Why a target leg did not come up.
enum class TargetFailure {
  Unreachable,  // network, TLS, protocol: "target NAME unreachable: ..."
  Rejected,     // the target refused the vaulted credentials
  Untrusted,    // its certificate is not the pinned or operator-trusted one
  TooLarge,     // its desktop exceeds [gateway] max_desktop
};

class ConnectionCore {
 public:
  ConnectionCore(ConnectionDeps deps, Protocol protocol, std::string client_addr, DoorPass pass);

  // RDP: "USER#TARGET" already split, `secret` the password or a code.
  // VNC: the RFB challenge and the client's answer for `target`.
  // Checks the recordings disk first (nothing is consumed when it is full),
  // then the grant, then opens the Session. Refusals are logged at info and
  // come back as the reason; nothing has contacted the target yet.
  Result<std::shared_ptr<Session>> admit(const std::string& user, const std::string& target,
                                         const std::string& secret);
  Result<std::shared_ptr<Session>> admitVnc(const TargetConfig& target,
                                            const std::array<std::uint8_t, 16>& challenge,
                                            const std::array<std::uint8_t, 16>& response);

  // The target leg is up with a `width`x`height` desktop: refuses a desktop
  // past max_desktop, else records "connected to target HOST:PORT" and
  // attaches `relay` to the session.
  Status targetConnected(Relay* relay, int width, int height);
  // The target leg failed: records it and returns the end reason.
  std::string targetFailed(TargetFailure kind, const std::string& detail);
  // The target resized: an error (the end reason) when past max_desktop.
  // Any thread (the target leg's).
  Status resized(int width, int height);
  // Both legs are down: ends the session (if one was opened) with `reason`.
  // Idempotent.
  void finish(const std::string& reason);

  const std::shared_ptr<Session>& session() const { return session_; }
  const TargetConfig* target() const { return target_; }
  const std::string& clientAddr() const { return client_addr_; }
  // The bound every desktop (the target's, and the client's request) keeps.
  bool desktopAllowed(int width, int height) const;
  std::string maxDesktop() const;

 private:
  Status checkRecordingRoom() const;
  Result<std::shared_ptr<Session>> open(Result<AccessGrant> grant, const std::string& user,
                                        const std::string& target);

  ConnectionDeps deps_;
  const Protocol protocol_;
  const std::string client_addr_;
  DoorPass pass_;
  std::shared_ptr<Session> session_;
  const TargetConfig* target_ = nullptr;
  bool finished_ = false;
};

// A name or reason that came from the network, fit for one log field:
// printable ASCII only (others become '?'), at most 64 characters.
std::string forLog(std::string_view untrusted);

}  // namespace vigil::gateway
