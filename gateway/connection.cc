#include "gateway/connection.h"

#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

namespace vigil::gateway {

std::string forLog(std::string_view untrusted) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (char ch : untrusted.substr(0, kMax)) {
    const auto c = static_cast<unsigned char>(ch);
    out.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? ch : '?');
  }
  if (untrusted.size() > kMax) out += "...";
  return out;
}

ConnectionCore::ConnectionCore(ConnectionDeps deps, Protocol protocol, std::string client_addr,
                               DoorPass pass)
    : deps_(deps), protocol_(protocol), client_addr_(std::move(client_addr)), pass_(std::move(pass)) {}

Status ConnectionCore::checkRecordingRoom() const {
  const std::string& dir = deps_.config->recordings_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0 || ::access(dir.c_str(), W_OK) != 0)
    return Status::Error("recordings dir " + dir + " is not writable");
  const std::uint64_t room = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (room < deps_.config->recordings_min_free)
    return Status::Error("recordings disk is full (" + std::to_string(room >> 20) + " MiB free, " +
                         "[recordings] min_free is " +
                         std::to_string(deps_.config->recordings_min_free >> 20) + " MiB)");
  return Status::Ok();
}

Result<std::shared_ptr<Session>> ConnectionCore::admit(const std::string& user,
                                                       const std::string& target,
                                                       const std::string& secret) {
  // Before the Gatekeeper: a refusal for want of room must not use up a code.
  if (Status room = checkRecordingRoom(); !room.ok()) {
    spdlog::warn("{}: refused user={} target={} client={} reason=\"cannot record: {}\"",
                 toString(protocol_), forLog(user), forLog(target), client_addr_, room.message());
    return Status::Error("cannot record: " + room.message());
  }
  return open(deps_.gk->admit(user, target, secret, client_addr_), user, target);
}

Result<std::shared_ptr<Session>> ConnectionCore::admitVnc(
    const TargetConfig& target, const std::array<std::uint8_t, 16>& challenge,
    const std::array<std::uint8_t, 16>& response) {
  if (Status room = checkRecordingRoom(); !room.ok()) {
    spdlog::warn("vnc: refused target={} client={} reason=\"cannot record: {}\"", target.name,
                 client_addr_, room.message());
    return Status::Error("cannot record: " + room.message());
  }
  return open(deps_.gk->admitVnc(target, challenge, response, client_addr_), "", target.name);
}

Result<std::shared_ptr<Session>> ConnectionCore::open(Result<AccessGrant> grant,
                                                      const std::string& user,
                                                      const std::string& target) {
  if (!grant.ok()) {
    spdlog::info("{}: refused user={} target={} client={} reason=\"{}\"", toString(protocol_),
                 forLog(user), forLog(target), client_addr_, forLog(grant.message()));
    return grant.status();
  }
  if (!grant->target || grant->target->protocol != protocol_) {
    spdlog::info("{}: refused user={} target={} client={} reason=\"not a {} target\"",
                 toString(protocol_), grant->user, forLog(target), client_addr_, toString(protocol_));
    return Status::Error("target " + forLog(target) + " is not served over " +
                         std::string(toString(protocol_)));
  }
  pass_.authenticated();
  target_ = grant->target;
  auto session = deps_.sm->open(*grant, protocol_, client_addr_);
  if (!session.ok() || !*session) {
    spdlog::warn("{}: refused user={} target={} client={} reason=\"session could not be opened: {}\"",
                 toString(protocol_), grant->user, target_->name, client_addr_, session.message());
    return Status::Error("session could not be opened: " + session.message());
  }
  session_ = std::move(*session);
  spdlog::info("{}: admitted session={} user={} target={} via={} client={}", toString(protocol_),
               session_->id(), grant->user, target_->name, grant->via, client_addr_);
  return session_;
}

bool ConnectionCore::desktopAllowed(int width, int height) const {
  const FrontDoorConfig& d = deps_.config->front_door;
  return width > 0 && height > 0 && width <= d.max_desktop_width && height <= d.max_desktop_height;
}

std::string ConnectionCore::maxDesktop() const {
  const FrontDoorConfig& d = deps_.config->front_door;
  return std::to_string(d.max_desktop_width) + "x" + std::to_string(d.max_desktop_height);
}

Status ConnectionCore::targetConnected(Relay* relay, int width, int height) {
  if (Status st = resized(width, height); !st.ok()) return st;
  const std::string where = target_->host + ":" + std::to_string(target_->port);
  session_->lifecycle("connected to target " + where);
  session_->attach(relay);
  spdlog::info("{}: connected session={} target={} at={} size={}x{}", toString(protocol_),
               session_->id(), target_->name, where, width, height);
  return Status::Ok();
}

Status ConnectionCore::resized(int width, int height) {
  if (!desktopAllowed(width, height)) {
    const std::string why = "target desktop " + std::to_string(width) + "x" +
                            std::to_string(height) + " exceeds max_desktop " + maxDesktop();
    spdlog::warn("{}: session={} {}", toString(protocol_), session_ ? session_->id() : "", why);
    return Status::Error(why);
  }
  return Status::Ok();
}

std::string ConnectionCore::targetFailed(TargetFailure kind, const std::string& detail) {
  const std::string name = target_ ? target_->name : "?";
  std::string why;
  switch (kind) {
    case TargetFailure::Rejected: why = "target " + name + " rejected the vaulted credentials"; break;
    case TargetFailure::Untrusted: why = "target " + name + " is not trusted: " + detail; break;
    case TargetFailure::TooLarge: why = detail; break;
    case TargetFailure::Unreachable: why = "target " + name + " unreachable: " + detail; break;
  }
  spdlog::warn("{}: session={} {}", toString(protocol_), session_ ? session_->id() : "", why);
  return why;
}

void ConnectionCore::finish(const std::string& reason) {
  if (finished_ || !session_) return;
  finished_ = true;
  spdlog::info("{}: session ended session={} client={} reason=\"{}\"", toString(protocol_),
               session_->id(), client_addr_, reason);
  session_->finish(reason);
}

}  // namespace vigil::gateway
