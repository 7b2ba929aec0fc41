#include "gateway/vnc/vnc_listener.h"

#include <spdlog/spdlog.h>

#include "gateway/vnc/vnc_log.h"
#include "gateway/vnc/vnc_relay.h"

namespace vigil::gateway::vnc {

Result<std::unique_ptr<VncListener>> VncListener::start(const Config& config,
                                                        const TargetConfig& target, Gatekeeper& gk,
                                                        SessionManager& sm, VncOptions opts) {
  if (!target.vnc_listen)
    return Status::Error("target " + target.name + " has no vnc_listen: set it to serve it over VNC");
  routeVncLogsToSpdlog();
  std::unique_ptr<VncListener> l(new VncListener(target, opts));
  const ConnectionDeps deps{&config, &gk, &sm};
  VncListener* self = l.get();
  auto door = Listener::start(
      *target.vnc_listen, "vnc " + target.name, DoorLimits::from(config.front_door),
      [self, deps](int fd, const std::string& addr, DoorPass pass) -> std::unique_ptr<ClientConnection> {
        return std::make_unique<VncRelay>(fd, addr, self->target_, deps, self->opts_, std::move(pass));
      },
      opts.door_group);
  if (!door.ok()) return Status::Error("vnc_listen " + door.message());
  l->door_ = std::move(door.value());
  spdlog::info("vnc listening target={} listen={}:{}", target.name, target.vnc_listen->host,
               l->door_->port());
  return l;
}

VncListener::~VncListener() {
  if (door_) door_->stop();
}

}  // namespace vigil::gateway::vnc
