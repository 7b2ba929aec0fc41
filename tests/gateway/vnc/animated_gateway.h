// The VNC listener in front of an AnimatedTarget, with the fake gatekeeper
// (access code GOODCODE) and session manager: the set-up the VNC adapter's
// performance and start-up tests share.
#pragma once

#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "gateway/vnc/vnc_listener.h"
#include "tests/gateway/vnc/animated_target.h"
#include "tests/gateway/vnc/fakes.h"
#include "tests/testbed/testbed.h"

namespace vigil::gateway::vnc::testing {

struct AnimatedGateway {
  std::uint16_t target_port = testbed::freeTcpPort();
  AnimatedTarget target{target_port};
  FakeGatekeeper gk{"GOODCODE"};
  FakeSessionManager sm;
  Config cfg;
  std::unique_ptr<VncListener> listener;

  // Waits for the target, then starts the listener for target `name`.
  Status start(const std::string& name) {
    using namespace std::chrono_literals;
    if (!testbed::waitForPort(target_port, 5s)) return Status::Error("the animated target did not listen");
    TargetConfig t;
    t.name = name;
    t.protocol = Protocol::Vnc;
    t.host = "127.0.0.1";
    t.port = target_port;
    t.password = "tgtpw";
    t.vnc_listen = HostPort{"127.0.0.1", 0};
    cfg.recordings_dir = testbed::makeTempDir("vigil-vnc-" + name);
    cfg.recordings_min_free = 0;
    auto l = VncListener::start(cfg, t, gk, sm);
    if (!l.ok()) return Status::Error(l.message());
    listener = std::move(l.value());
    return Status::Ok();
  }
};

}  // namespace vigil::gateway::vnc::testing
