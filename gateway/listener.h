// The front door, once for both protocols: one accept loop per listening
// address that owns every client connection's thread, the caps on
// connections still handshaking (per client address and in all), the
// handshake deadline and shutdown. A protocol adapter supplies only a
// factory that turns an accepted socket into a ClientConnection.
//
// Deadlines are enforced from outside the protocol library: the listener
// keeps a duplicate of each client socket and shuts it down, which makes a
// read blocked anywhere (FreeRDP's TLS accept, libvncserver's handshake)
// return at once. See docs/security.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace vigil::gateway {

struct DoorLimits {
  std::chrono::milliseconds handshake_timeout{10'000};
  int max_unauthenticated_per_address = 8;
  int max_unauthenticated = 64;
  int max_connections = 256;
  static DoorLimits from(const FrontDoorConfig& c);
};

// Given to each connection: it reports when the client has authenticated,
// which ends its handshake deadline and frees its unauthenticated slot.
// Thread-safe; cheap to copy.
class DoorPass {
 public:
  DoorPass() = default;
  explicit DoorPass(std::shared_ptr<std::atomic<bool>> flag) : flag_(std::move(flag)) {}
  void authenticated() const {
    if (flag_) flag_->store(true);
  }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

// One client connection, as a protocol adapter implements it.
class ClientConnection {
 public:
  virtual ~ClientConnection() = default;
  // The whole life of the connection (handshake, admission, relay,
  // teardown); returns once both legs are down and the session, if any, is
  // finished. Runs on the connection's own thread, called once.
  virtual void run() = 0;
  // Ends the connection (any thread, returns at once, idempotent). The
  // listener also shuts the socket down, so a library blocked in a read
  // returns even if it never checks for this.
  virtual void close(const std::string& reason) = 0;
};

class Listener;

// The listeners of one node (the RDP one and one per VNC target): the caps on
// connections still handshaking hold across all of them, so a client address
// gets `max_unauthenticated_per_address` in all, not per port. Thread-safe.
class DoorGroup {
 public:
  // Connections still handshaking in the group: in all, and from `host`.
  struct Counts {
    int unauthenticated = 0, from_host = 0;
  };
  Counts count(const std::string& host) const;

 private:
  friend class Listener;
  void join(const Listener* l);
  void leave(const Listener* l);

  mutable std::mutex mu_;  // guards members_; taken before a member's own lock
  std::vector<const Listener*> members_;
};

class Listener {
 public:
  // Makes the connection for an accepted socket (ownership of `fd` passes
  // to it). `addr` is "host:port" of the client. Runs on the accept thread:
  // it must not block. nullptr refuses (the socket is closed).
  using Factory = std::function<std::unique_ptr<ClientConnection>(int fd, const std::string& addr,
                                                                  DoorPass pass)>;

  // Binds `where` (port 0 picks a free port), starts the accept thread.
  // `name` labels log lines ("rdp", "vnc demo-vnc"). With a `group`, the caps
  // on connections still handshaking count every listener in it.
  static Result<std::unique_ptr<Listener>> start(const HostPort& where, std::string name,
                                                 DoorLimits limits, Factory factory,
                                                 std::shared_ptr<DoorGroup> group = nullptr);
  ~Listener();  // stop()
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  std::uint16_t port() const { return port_; }
  // Connections open now (handshaking or relaying). Thread-safe.
  int activeConnections() const;
  // Stops accepting, closes every connection with "gateway shutting down",
  // shuts their sockets down and joins their threads. Idempotent; any thread
  // except a connection's own.
  void stop();

 private:
  struct Entry {
    std::unique_ptr<ClientConnection> conn;
    std::string host;  // the client's address without the port
    int ctl_fd = -1;   // our duplicate of the client socket, for shutdown()
    std::chrono::steady_clock::time_point deadline;
    std::shared_ptr<std::atomic<bool>> authenticated;
    std::shared_ptr<std::atomic<bool>> finished;
    bool cut = false;  // the deadline passed and the socket was shut down
    std::thread thread;
  };

  friend class DoorGroup;
  Listener(std::string name, DoorLimits limits, Factory factory, std::shared_ptr<DoorGroup> group);
  // This listener's share of DoorGroup::Counts (takes mu_).
  DoorGroup::Counts count(const std::string& host) const;
  void acceptLoop();
  void acceptOne();
  // Joins finished connections and cuts those past their deadline.
  void sweep();
  // Why a new connection from `host` must be turned away ("" if it may
  // come in). Takes the group's and mu_ in turn, never together.
  std::string refusal(const std::string& host) const;
  void logRefusal(const std::string& host, const std::string& why);

  const std::string name_;
  const DoorLimits limits_;
  const Factory factory_;
  const std::shared_ptr<DoorGroup> group_;  // null: counts alone
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the accept loop for stop()
  std::uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex stop_mu_;  // serializes stop()
  bool stopped_ = false;

  mutable std::mutex mu_;  // guards entries_
  std::list<Entry> entries_;

  // Memory freed by handshakes that never became sessions is handed back
  // to the OS from sweep(), coalesced (listener.cc). Accept thread only.
  bool freed_since_trim_ = false;
  std::chrono::steady_clock::time_point last_trim_{};

  // Refusals at the door are logged at most once a second (with a count),
  // so a flood cannot flood the log. Accept thread only.
  std::chrono::steady_clock::time_point last_refusal_log_{};
  int refusals_unlogged_ = 0;
};

}  // namespace vigil::gateway
