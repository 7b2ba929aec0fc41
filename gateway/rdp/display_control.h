// Display Control (MS-RDPEDISP) towards the gateway's RDP client: the
// channel is opened only once the target has offered Display Control, with
// the target's limits (bounded by max_desktop); each monitor layout the
// client sends is checked (checkMonitorLayout) and handed to `forward`, which
// passes it to the target. The target's resize then reaches the client as a
// Desktop Resize, like any other. Internal to the RDP adapter.
//
// Threads: poll() and close() on the peer thread; targetOffers() on the
// target leg's thread; `forward` runs on FreeRDP's channel thread, which
// close() joins.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/rdp/monitor_layout.h"

struct _disp_server_context;
struct rdp_context;

namespace vigil::gateway::rdp {

class ClientDisplayControl {
 public:
  using Forward = std::function<Status(const std::vector<MonitorLayout>&)>;
  ClientDisplayControl(int max_width, int max_height, Forward forward);
  ~ClientDisplayControl();
  ClientDisplayControl(const ClientDisplayControl&) = delete;
  ClientDisplayControl& operator=(const ClientDisplayControl&) = delete;

  // The target sent its Display Control capabilities.
  void targetOffers(const DisplayCaps& caps);
  // Handles (HANDLE) the peer loop waits on besides its own, so that poll()
  // runs when the target offers and when the offer is overdue: writes at
  // most kMaxWaitHandles into `out` and returns how many.
  static constexpr int kMaxWaitHandles = 2;
  int waitHandles(void** out) const;
  // Each turn of the peer loop: opens the channel once the client's dynamic
  // channels are ready and the target offered; says once (info) when the
  // target has not offered within a few seconds of that. `vcm` is the
  // peer's virtual channel manager; `session_id` names the session in logs.
  void poll(void* vcm, rdp_context* context, const std::string& session_id);
  // Stops the channel and joins its thread (idempotent).
  void close();

  // The client's layout (FreeRDP's channel thread).
  unsigned onLayout(const std::vector<MonitorLayout>& layout);

 private:
  const int max_width_, max_height_;
  const Forward forward_;
  std::mutex mutex_;  // guards target_caps_
  std::optional<DisplayCaps> target_caps_;
  // Peer thread only.
  _disp_server_context* server_ = nullptr;
  DisplayCaps caps_;  // what the client was told; read by onLayout after open
  std::string session_id_;
  void* offered_ = nullptr;  // HANDLE, manual reset: targetOffers() was called
  // HANDLE, a one-shot timer that wakes the peer loop when the offer is
  // overdue; closed once it has served.
  void* overdue_ = nullptr;
  std::optional<std::chrono::steady_clock::time_point> offer_due_;
  void stopTimer();
  bool said_missing_ = false;
};

}  // namespace vigil::gateway::rdp
