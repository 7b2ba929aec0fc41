// One WebSocket live viewer: the LiveFeed's messages written in order, the
// viewer's own messages ignored, and the socket closed when the session
// ends, the server stops, or the viewer's sign-in ends (checked every
// second, so a logout closes the view within the contract's 5 s).
// Runs on its connection's strand. Internal.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <spdlog/spdlog.h>

#include "gateway/api/connection_host.h"
#include "gateway/api/replies.h"

namespace vigil::gateway::api {

template <class Stream>
class LiveSocket : public std::enable_shared_from_this<LiveSocket<Stream>> {
 public:
  LiveSocket(ConnectionHost& host, Stream&& stream, std::string remote)
      : host_(host),
        ws_(std::move(stream)),
        remote_(std::move(remote)),
        check_timer_(ws_.get_executor()) {}
  ~LiveSocket() {
    if (feed_) host_.endFeed(feed_.get());
    host_.connectionClosed(remote_);
  }

  void run(Request req, std::shared_ptr<Session> session, Principal who) {
    namespace websocket = boost::beast::websocket;
    session_ = std::move(session);
    who_ = std::move(who);
    boost::beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(boost::beast::role_type::server));
    const bool tls = host_.tls();
    ws_.set_option(websocket::stream_base::decorator(
        [tls](websocket::response_type& res) { addSecurityHeaders(res, tls); }));
    ws_.read_message_max(4096);
    req_ = std::move(req);
    ws_.async_accept(req_, boost::beast::bind_front_handler(&LiveSocket::onAccept,
                                                            this->shared_from_this()));
  }

 private:
  void onAccept(boost::beast::error_code ec) {
    if (ec) return;
    std::weak_ptr<LiveSocket> weak = this->shared_from_this();
    auto exec = ws_.get_executor();
    LiveFeed::Out out;
    out.send = [weak, exec](LiveMessage m) {
      if (auto self = weak.lock()) {
        self->backlog_.fetch_add(1);
        boost::asio::post(exec, [self, m = std::move(m)]() mutable { self->enqueue(std::move(m)); });
      }
    };
    out.backlog = [weak]() -> std::size_t {
      auto self = weak.lock();
      return self ? self->backlog_.load() : 0;
    };
    out.close = [weak, exec] {
      if (auto self = weak.lock()) boost::asio::post(exec, [self] { self->requestClose(); });
    };
    if (host_.stopping()) return;
    feed_ = host_.startFeed(session_, std::move(out));
    spdlog::info("live view started session={} user={}", session_->id(), who_.user->name);
    checkSignedIn();
    doRead();
  }

  void checkSignedIn() {
    check_timer_.expires_after(std::chrono::seconds(1));
    check_timer_.async_wait([self = this->shared_from_this()](boost::beast::error_code ec) {
      if (ec || !self->feed_) return;
      if (!self->host_.stillSignedIn(self->who_)) {
        spdlog::info("live view closed: sign-in ended session={} user={}", self->session_->id(),
                     self->who_.user->name);
        return self->requestClose();
      }
      self->checkSignedIn();
    });
  }

  void doRead() {
    ws_.async_read(rbuf_, [self = this->shared_from_this()](boost::beast::error_code ec,
                                                           std::size_t n) {
      if (ec) return self->shutdown();
      self->rbuf_.consume(n);  // viewers have nothing to say; pings are handled by Beast
      self->doRead();
    });
  }

  void enqueue(LiveMessage m) {
    if (closing_) {
      backlog_.fetch_sub(1);
      return;
    }
    queue_.push_back(std::move(m));
    if (!writing_) doWrite();
  }

  void doWrite() {
    writing_ = true;
    ws_.binary(queue_.front().binary);
    ws_.async_write(boost::asio::buffer(queue_.front().data),
                    [self = this->shared_from_this()](boost::beast::error_code ec, std::size_t) {
                      self->queue_.pop_front();
                      self->backlog_.fetch_sub(1);
                      if (ec) return self->shutdown();
                      if (!self->queue_.empty()) return self->doWrite();
                      self->writing_ = false;
                      if (self->close_requested_) self->requestClose();
                    });
  }

  void requestClose() {
    close_requested_ = true;
    if (writing_ || closing_) return;
    closing_ = true;
    shutdown();  // the feed is done: let go of the session now, not when the viewer answers
    ws_.async_close(boost::beast::websocket::close_code::normal,
                    [self = this->shared_from_this()](boost::beast::error_code) { self->shutdown(); });
  }

  void shutdown() {
    check_timer_.cancel();
    if (feed_) {
      host_.endFeed(feed_.get());
      spdlog::info("live view ended session={} user={}", session_->id(), who_.user->name);
      feed_.reset();
    }
  }

  ConnectionHost& host_;
  boost::beast::websocket::stream<Stream> ws_;
  std::string remote_;
  boost::asio::steady_timer check_timer_;
  Request req_;
  std::shared_ptr<Session> session_;
  Principal who_;
  boost::beast::flat_buffer rbuf_;
  std::deque<LiveMessage> queue_;
  std::atomic<std::size_t> backlog_{0};
  bool writing_ = false, closing_ = false, close_requested_ = false;
  std::unique_ptr<LiveFeed> feed_;
};

}  // namespace vigil::gateway::api
