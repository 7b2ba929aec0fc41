#include "gateway/rdp/display_control.h"

#include <freerdp/server/disp.h>
#include <freerdp/channels/wtsvc.h>
#include <spdlog/spdlog.h>
#include <winpr/synch.h>

#include "gateway/callback_guard.h"

namespace vigil::gateway::rdp {
namespace {

// How long after the client's dynamic channels are up a target that has
// not offered Display Control is reported as not having it.
constexpr std::chrono::seconds kOfferWait{5};

UINT layoutHook(DispServerContext* ctx, const DISPLAY_CONTROL_MONITOR_LAYOUT_PDU* pdu) {
  return guarded("rdp: display control layout", static_cast<UINT>(CHANNEL_RC_OK), [&]() -> UINT {
    std::vector<MonitorLayout> layout;
    // FreeRDP already refused more monitors than announced; keep the bound here too.
    const UINT32 n = std::min<UINT32>(pdu->NumMonitors, kMaxLayoutMonitors + 1);
    for (UINT32 i = 0; i < n; ++i) {
      const DISPLAY_CONTROL_MONITOR_LAYOUT& m = pdu->Monitors[i];
      layout.push_back(MonitorLayout{(m.Flags & DISPLAY_CONTROL_MONITOR_PRIMARY) != 0, m.Left, m.Top, m.Width,
                                     m.Height, m.PhysicalWidth, m.PhysicalHeight, m.Orientation,
                                     m.DesktopScaleFactor, m.DeviceScaleFactor});
    }
    return static_cast<ClientDisplayControl*>(ctx->custom)->onLayout(layout);
  });
}

}  // namespace

ClientDisplayControl::ClientDisplayControl(int max_width, int max_height, Forward forward)
    : max_width_(max_width), max_height_(max_height), forward_(std::move(forward)) {
  offered_ = CreateEventA(nullptr, TRUE, FALSE, nullptr);
}

ClientDisplayControl::~ClientDisplayControl() {
  close();
  stopTimer();
  if (offered_) CloseHandle(offered_);
}

void ClientDisplayControl::stopTimer() {
  if (overdue_) CloseHandle(overdue_);
  overdue_ = nullptr;
}

void ClientDisplayControl::targetOffers(const DisplayCaps& caps) {
  {
    std::lock_guard lock(mutex_);
    target_caps_ = caps;
  }
  if (offered_) SetEvent(offered_);
}

int ClientDisplayControl::waitHandles(void** out) const {
  int n = 0;
  if (offered_) out[n++] = offered_;
  if (overdue_) out[n++] = overdue_;
  return n;
}

void ClientDisplayControl::poll(void* vcm, rdp_context* context, const std::string& session_id) {
  // Reset before reading the offer: an offer after this sets it again.
  if (offered_) ResetEvent(offered_);
  if (server_ || vcm == nullptr) return;
  if (!WTSVirtualChannelManagerIsChannelJoined(vcm, "drdynvc") ||
      WTSVirtualChannelManagerGetDrdynvcState(vcm) != DRDYNVC_STATE_READY)
    return;
  std::optional<DisplayCaps> target;
  {
    std::lock_guard lock(mutex_);
    target = target_caps_;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!target) {
    if (said_missing_) return;
    if (!offer_due_) {
      offer_due_ = now + kOfferWait;
      overdue_ = CreateWaitableTimerA(nullptr, FALSE, nullptr);
      LARGE_INTEGER due{};
      due.QuadPart = -std::chrono::duration_cast<std::chrono::microseconds>(kOfferWait).count() * 10 - 10000;
      if (overdue_ && !SetWaitableTimer(overdue_, &due, 0, nullptr, nullptr, FALSE)) stopTimer();
    }
    if (now >= *offer_due_) {
      said_missing_ = true;
      stopTimer();
      spdlog::info("rdp: session={} the target does not offer Display Control: the client's window size "
                   "is not passed on", session_id);
    }
    return;
  }
  stopTimer();
  session_id_ = session_id;
  caps_ = boundedCaps(*target, max_width_, max_height_);
  DispServerContext* s = disp_server_context_new(vcm);
  if (!s) return;
  s->custom = this;
  s->rdpcontext = context;
  s->MaxNumMonitors = caps_.max_monitors;
  s->MaxMonitorAreaFactorA = caps_.max_area_a;
  s->MaxMonitorAreaFactorB = caps_.max_area_b;
  s->DispMonitorLayout = layoutHook;
  server_ = s;
  if (s->Open(s) != CHANNEL_RC_OK || s->DisplayControlCaps(s) != CHANNEL_RC_OK) {
    spdlog::info("rdp: session={} cannot open Display Control towards the client", session_id_);
    close();
    // Not retried: one attempt per connection.
    std::lock_guard lock(mutex_);
    target_caps_.reset();
    said_missing_ = true;
    return;
  }
  spdlog::debug("rdp: session={} display control open monitors={} area={}x{}", session_id_, caps_.max_monitors,
                caps_.max_area_a, caps_.max_area_b);
}

void ClientDisplayControl::close() {
  if (!server_) return;
  server_->Close(server_);
  disp_server_context_free(server_);
  server_ = nullptr;
}

unsigned ClientDisplayControl::onLayout(const std::vector<MonitorLayout>& layout) {
  if (Status st = checkMonitorLayout(layout, caps_, max_width_, max_height_); !st.ok()) {
    spdlog::info("rdp: session={} event=layout_refused: {}", session_id_, st.message());
    return CHANNEL_RC_OK;  // dropped; the client keeps its size
  }
  const MonitorLayout& first = layout.front();
  if (Status st = forward_(layout); !st.ok()) {
    spdlog::info("rdp: session={} event=layout_not_forwarded: {}", session_id_, st.message());
    return CHANNEL_RC_OK;
  }
  spdlog::info("rdp: session={} event=layout_forwarded monitors={} size={}x{}", session_id_, layout.size(),
               first.width, first.height);
  return CHANNEL_RC_OK;
}

}  // namespace vigil::gateway::rdp
