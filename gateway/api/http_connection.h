// One HTTP connection (plain or TLS): reads requests under deadlines, hands
// each to a worker, writes the reply step by step, and turns into a
// LiveSocket when the live route accepts a WebSocket upgrade.
// Deadlines: the TLS handshake and a request's headers must arrive within
// header_timeout; an idle keep-alive connection is closed after
// keepalive_idle; a body and each write step get request_timeout. So a slow
// client holds only its own slot, never a worker. Internal.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "gateway/api/connection_host.h"
#include "gateway/api/live_socket.h"
#include "gateway/api/replies.h"

namespace vigil::gateway::api {

inline constexpr std::size_t kHeaderLimit = 16 * 1024;
inline constexpr std::size_t kBodyLimit = 64 * 1024;

template <class Stream>
class HttpConnection : public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  HttpConnection(ConnectionHost& host, Stream&& stream, std::string remote)
      : host_(host), stream_(std::move(stream)), remote_(std::move(remote)) {}
  ~HttpConnection() {
    if (!handed_off_) host_.connectionClosed(remote_);
  }

  void start() {
    namespace beast = boost::beast;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      boost::asio::dispatch(stream_.get_executor(),
                            beast::bind_front_handler(&HttpConnection::doRead, this->shared_from_this()));
    } else {
      beast::get_lowest_layer(stream_).expires_after(host_.options().header_timeout);
      stream_.async_handshake(boost::asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->doRead();
                              });
    }
  }

 private:
  void doRead() {
    namespace beast = boost::beast;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    const auto& opt = host_.options();
    beast::get_lowest_layer(stream_).expires_after(served_ == 0 ? opt.header_timeout
                                                                : opt.keepalive_idle);
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&HttpConnection::onHeader,
                                                      this->shared_from_this()));
  }

  void onHeader(boost::beast::error_code ec, std::size_t) {
    namespace beast = boost::beast;
    if (ec) return onRead(ec, 0);
    beast::get_lowest_layer(stream_).expires_after(host_.options().request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpConnection::onRead, this->shared_from_this()));
  }

  void onRead(boost::beast::error_code ec, std::size_t) {
    namespace beast = boost::beast;
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == boost::asio::error::eof)
      return doClose();
    if (ec) {
      if (ec.category() != http::make_error_code(http::error::header_limit).category())
        return doClose();  // the peer went away: nobody to answer
      http::status st = http::status::bad_request;
      std::string msg = "malformed HTTP request";
      if (ec == http::error::header_limit) {
        st = http::status::request_header_fields_too_large;
        msg = "request headers exceed 16 KiB";
      } else if (ec == http::error::body_limit) {
        st = http::status::payload_too_large;
        msg = "request body exceeds 64 KiB";
      }
      return send(Reply(plainError(st, msg, host_.tls())));
    }
    ++served_;
    auto req = std::make_shared<Request>(parser_->release());
    const bool upgrade = boost::beast::websocket::is_upgrade(*req);
    auto self = this->shared_from_this();
    boost::asio::post(host_.workers(), [self, req, upgrade] {
      auto handled = self->host_.handle(*req, self->remote_, upgrade);
      boost::asio::post(self->stream_.get_executor(),
                        [self, req, h = std::move(handled)]() mutable { self->onHandled(req, std::move(h)); });
    });
  }

  void onHandled(std::shared_ptr<Request> req, ConnectionHost::Handled h) {
    if (!h.live) {
      if (boost::beast::websocket::is_upgrade(*req)) std::visit([](auto& m) { m.keep_alive(false); }, h.reply);
      return send(std::move(h.reply));
    }
    handed_off_ = true;
    auto ws = std::make_shared<LiveSocket<Stream>>(host_, std::move(stream_), remote_);
    ws->run(std::move(*req), std::move(h.live), std::move(h.who));
  }

  void send(Reply reply) {
    std::visit(
        [this](auto& msg) {
          using Msg = std::decay_t<decltype(msg)>;
          auto m = std::make_shared<Msg>(std::move(msg));
          auto sr = std::make_shared<http::response_serializer<typename Msg::body_type>>(*m);
          writeSome(m, sr);
        },
        reply);
  }

  // Writes step by step so the timeout bounds each step, not a whole (long) video.
  template <class Msg, class Ser>
  void writeSome(std::shared_ptr<Msg> m, std::shared_ptr<Ser> sr) {
    boost::beast::get_lowest_layer(stream_).expires_after(host_.options().request_timeout);
    http::async_write_some(stream_, *sr,
                           [self = this->shared_from_this(), m, sr](boost::beast::error_code ec, std::size_t) {
                             if (ec) return self->doClose();
                             if (!sr->is_done()) return self->writeSome(m, sr);
                             if (!m->keep_alive() || self->host_.stopping()) return self->doClose();
                             self->doRead();
                           });
  }

  void doClose() {
    namespace beast = boost::beast;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ec;
      stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    }
  }

  ConnectionHost& host_;
  Stream stream_;
  std::string remote_;
  boost::beast::flat_buffer buffer_{kHeaderLimit + kBodyLimit + 4096};
  std::optional<http::request_parser<http::string_body>> parser_;
  long long served_ = 0;     // requests answered on this connection
  bool handed_off_ = false;  // the LiveSocket counts the connection from then on
};

}  // namespace vigil::gateway::api
