// What one HTTP or WebSocket connection needs from the server that accepted
// it. The server implements it; connections hold a reference, and the server
// outlives them (stop() joins every thread that runs them). Internal.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/thread_pool.hpp>

#include "gateway/api/api_server.h"
#include "gateway/api/authenticator.h"
#include "gateway/api/http_types.h"
#include "gateway/api/live_view.h"

namespace vigil::gateway::api {

class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  struct Handled {
    Reply reply;
    std::shared_ptr<Session> live;  // set: accept the WebSocket and stream this session
    Principal who;
  };
  // Runs the router; on a worker thread (may block on Redis).
  virtual Handled handle(const Request& req, const std::string& remote, bool upgrade) = 0;
  virtual bool tls() const = 0;
  virtual const ApiOptions& options() const = 0;
  virtual boost::asio::thread_pool& workers() = 0;
  virtual bool stopping() const = 0;
  // A connection from `remote` ended (counted against its per-address cap).
  virtual void connectionClosed(const std::string& remote) = 0;
  // A live view's feed: started and registered so stop() can end it.
  virtual std::unique_ptr<LiveFeed> startFeed(std::shared_ptr<Session> session, LiveFeed::Out out) = 0;
  virtual void endFeed(LiveFeed* feed) = 0;
  // False once the viewer's cookie session has ended (logout, expiry).
  virtual bool stillSignedIn(const Principal& who) = 0;
};

}  // namespace vigil::gateway::api
