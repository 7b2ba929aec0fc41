// One VNC connection through the gateway: the client leg (a dedicated
// libvncserver screen with the accepted socket attached) and the target leg
// (a libvncclient connection to the target). Internal to the VNC adapter:
// VncListener's front door creates these and runs each on its own thread;
// admission, session and lifecycle go through the shared ConnectionCore.
//
// Threads (docs/vnc.md):
//  - the client-leg thread (run(), the front door's) runs the RFB handshake, the auth hook
//    (Gatekeeper, SessionManager::open, target connect) and then every
//    libvncserver call: reading client messages, sending updates, clipboard.
//  - the target-leg thread (started once authenticated) makes every
//    libvncclient call: reading server messages into the framebuffer and
//    writing the queued client input to the target.
// They exchange work through two queues guarded by mutexes, each with an
// eventfd that wakes the other thread's poll(). Each leg has its own copy of
// the pixels: libvncclient decodes into the target leg's, finished updates
// are copied into a staging frame under a lock, and the client leg copies
// them into the frame libvncserver serves, so neither library ever reads
// pixels the other thread is writing.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "core/config.h"
#include "core/frame.h"
#include "core/input.h"
#include "gateway/connection.h"
#include "gateway/listener.h"
#include "gateway/session.h"
#include "gateway/vnc/ext_clipboard.h"
#include "gateway/vnc/vnc_listener.h"

struct _rfbScreenInfo;
struct _rfbClientRec;
struct _rfbClient;
struct rfbExtDesktopScreen;

namespace vigil::gateway::vnc {

class VncRelay final : public Relay, public ClientConnection {
 public:
  // Takes ownership of the accepted socket `fd`. `target`, what `deps`
  // points to and `opts` must outlive the relay.
  VncRelay(int fd, std::string client_addr, const TargetConfig& target, ConnectionDeps deps,
           const VncOptions& opts, DoorPass pass);
  // After run() has returned (the front door joins it first).
  ~VncRelay() override;
  VncRelay(const VncRelay&) = delete;
  VncRelay& operator=(const VncRelay&) = delete;

  // ClientConnection: the client leg, on the front door's thread.
  void run() override;
  // Closes both legs (idempotent, any thread, does not wait). The first
  // reason given (or the first leg to drop) becomes the session's end reason.
  void close(const std::string& reason) override;
  void refreshScreen() override;

  // --- libvncserver / libvncclient hooks (static trampolines call these) ---
  bool onPasswordCheck(const std::uint8_t* response, int len);
  void onClientKey(bool down, std::uint32_t keysym);
  void onClientPointer(int buttons, int x, int y);
  void onClientCutText(const char* text, int len, bool utf8);
  // SetDesktopSize from the viewer: an ExtendedDesktopSize status (0 while
  // the request goes on to the target; its answer comes back later).
  int onClientDesktopSize(int width, int height, int screens, const rfbExtDesktopScreen* layout);
  bool onTargetMallocFrameBuffer(_rfbClient* c);
  void onTargetRect(int x, int y, int w, int h);
  void onTargetUpdateFinished();
  void onTargetCutText(const char* text, int len);
  void onTargetBell();
  char* onTargetGetPassword();

 private:
  struct ScreenDeleter { void operator()(_rfbScreenInfo* s) const; };
  struct ClientDeleter { void operator()(_rfbClient* c) const; };
  using ScreenPtr = std::unique_ptr<_rfbScreenInfo, ScreenDeleter>;
  using ClientPtr = std::unique_ptr<_rfbClient, ClientDeleter>;

  // Client input waiting for the target-leg thread.
  using QueuedInput = std::variant<KeyInput, PointerInput, std::string /*UTF-8 cut text*/>;

  void runTargetLeg();
  bool setUpScreen();
  void serveClient();
  // Client-leg thread: applies what the target leg produced (resize, damage,
  // clipboard, bell) to the libvncserver screen and sends pending updates.
  void applyTargetOutput();
  Status connectTarget();
  Result<int> connectTcp();
  // rfbInitClient's steps on our socket, with the Extended Clipboard offered
  // before the first update request (thread of connectTarget).
  bool startTargetProtocol(_rfbClient* c);
  void queueInput(QueuedInput in);
  bool sendQueuedInput();
  // The Extended Clipboard (UTF-8) towards the target, offered during the
  // handshake; Latin-1 with targets that never answer. Target-leg thread for
  // the rest.
  bool offerExtendedClipboard(_rfbClient* c);
  bool nextIsServerCutText();
  bool readTargetCutText();
  bool onTargetExtended(const extclip::Message& m);
  bool sendTargetClipboard(const std::string& utf8);
  void onTargetClipboard(std::string utf8);
  // Target-leg thread: the viewer's size request towards a target that
  // speaks ExtendedDesktopSize, and what its answer means for the viewer.
  bool sendTargetResize();
  void checkTargetResize();
  void answerClientResize(int status);
  void wakeClientLeg();
  void wakeTargetLeg();
  void setEndReason(const std::string& reason);
  std::string endReason();

  const std::string client_addr_;
  const TargetConfig& target_;
  const VncOptions& opts_;
  ConnectionCore core_;

  int client_fd_ = -1;      // handed to libvncserver, which closes it
  int client_ctl_fd_ = -1;  // dup: shutdown() from close() wakes the leg
  int target_ctl_fd_ = -1;  // dup of the target socket, same purpose
  int client_wake_fd_ = -1;  // eventfd: target leg -> client leg
  int target_wake_fd_ = -1;  // eventfd: client leg -> target leg

  std::thread target_thread_;
  std::atomic<bool> closing_{false};

  std::mutex state_mutex_;  // guards end_reason_, closed_by_, target_ctl_fd_ setup
  std::string end_reason_;

  // Client-leg thread only.
  ScreenPtr screen_;
  _rfbClientRec* client_ = nullptr;  // owned by screen_
  std::unique_ptr<Frame> served_;    // the pixels screen_ serves
  std::string desktop_name_;
  bool refused_ = false;

  // Set in the auth hook (client-leg thread) before the target thread
  // starts; read-only afterwards.
  std::shared_ptr<Session> session_;
  ClientPtr target_client_;
  TargetFailure target_failure_ = TargetFailure::Unreachable;

  // Target-leg thread only (and the auth hook before that thread starts).
  DirtyRegion accum_;
  bool target_running_ = false;
  std::atomic<bool> refresh_wanted_{false};  // refreshScreen(), served by the target leg
  std::string target_why_;  // why the target leg failed, when we decided it
  bool ext_offered_ = false;     // our SetEncodings named the Extended Clipboard
  bool target_ext_ = false;      // the target answered with its capabilities
  std::uint32_t target_ext_flags_ = 0;
  std::uint32_t target_screen_id_ = 0;  // network order, from the target's layout
  bool resize_inflight_ = false;        // our SetDesktopSize awaits the target's answer
  std::int64_t resize_sent_ms_ = 0;
  int resize_w_ = 0, resize_h_ = 0;            // asked for
  int resize_from_w_ = 0, resize_from_h_ = 0;  // the target's size when asked
  // The target announced ExtendedDesktopSize (set by the target leg).
  std::atomic<bool> target_sizes_{false};
  std::string client_clip_;      // the client's latest text, for a target's Request
  bool have_client_clip_ = false;

  // The frame libvncclient decodes into: its pixels are the target leg's
  // alone; the pointer is replaced only by that leg (or the auth hook
  // before it starts).
  std::unique_ptr<Frame> target_frame_;

  // Target leg -> client leg.
  std::mutex share_mutex_;  // guards the fields below
  Frame staging_;           // finished updates, copied out of target_frame_
  bool resize_pending_ = false;
  DirtyRegion damage_;      // staged, not yet copied into served_
  std::deque<std::string> server_cut_;  // UTF-8; Latin-1 only for a viewer without the extension
  int bells_ = 0;
  std::optional<int> resize_answer_;  // ExtendedDesktopSize status for the viewer

  // Client leg -> target leg.
  std::mutex input_mutex_;  // guards input_, input_bytes_
  std::deque<QueuedInput> input_;
  std::size_t input_bytes_ = 0;
  std::optional<std::pair<int, int>> resize_request_;  // latest size the viewer asked for
};

}  // namespace vigil::gateway::vnc
