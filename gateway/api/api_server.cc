#include "gateway/api/api_server.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include "gateway/api/audit_trail.h"
#include "gateway/api/authenticator.h"
#include "gateway/api/connection_host.h"
#include "gateway/api/connection_limits.h"
#include "gateway/api/context.h"
#include "gateway/api/http_connection.h"
#include "gateway/api/http_util.h"
#include "gateway/api/router.h"

namespace vigil::gateway::api {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// The server's lifecycle: the listener and its per-address caps, TLS, the
// I/O and worker threads, the audit flush timer, and stop(). Requests go to
// the router; the handlers live in handlers/.
class ApiServer::Impl final : public ConnectionHost {
 public:
  Impl(const Config& config, ApiDeps deps, ApiOptions options)
      : config_(config),
        deps_(std::move(deps)),
        opt_(options),
        audit_(deps_.store, opt_.view_audit_interval),
        auth_(config_,
              AuthOptions{opt_.login_ttl, opt_.login_idle, opt_.max_failures_per_user,
                          opt_.max_failures_per_address, opt_.max_failures_global,
                          opt_.throttle_window},
              deps_.verify_password, audit_),
        thumbnails_(deps_.sessions),
        recordings_(deps_.recordings_dir),
        limits_(opt_.max_connections, opt_.max_connections_per_address),
        pool_(static_cast<std::size_t>(std::max(1, options.worker_threads))),
        acceptor_(ioc_),
        flush_timer_(ioc_) {}

  ~Impl() override { stop(); }

  Status init();
  void stop();
  std::uint16_t port() const { return port_; }

  // ConnectionHost
  Handled handle(const Request& req, const std::string& remote, bool upgrade) override;
  bool tls() const override { return ssl_ctx_ != nullptr; }
  const ApiOptions& options() const override { return opt_; }
  net::thread_pool& workers() override { return pool_; }
  bool stopping() const override { return stopping_.load(); }
  void connectionClosed(const std::string& remote) override { limits_.release(remote); }
  std::unique_ptr<LiveFeed> startFeed(std::shared_ptr<Session> session, LiveFeed::Out out) override;
  void endFeed(LiveFeed* feed) override;
  bool stillSignedIn(const Principal& who) override { return auth_.stillValid(who); }

 private:
  void doAccept();
  void scheduleFlush();
  Status setUpTls();

  const Config& config_;
  ApiDeps deps_;
  ApiOptions opt_;
  AuditTrail audit_;
  Authenticator auth_;
  Thumbnails thumbnails_;
  RecordingFiles recordings_;
  StaticFiles files_;
  ConnectionLimits limits_;

  std::atomic<bool> stopping_{false};
  std::mutex feeds_mu_;
  std::set<LiveFeed*> feeds_;
  std::mutex stop_mu_;
  bool stopped_ = false;
  std::unique_ptr<ssl::context> ssl_ctx_;
  std::uint16_t port_ = 0;
  net::thread_pool pool_;
  // Destroyed before the members above: its pending handlers own connections
  // and live views, whose destructors use them.
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer flush_timer_;
  std::vector<std::thread> threads_;
};

Status ApiServer::Impl::setUpTls() {
  if (config_.web_tls_cert.empty() && config_.web_tls_key.empty()) return Status::Ok();
  ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
  ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  beast::error_code ec;
  ssl_ctx_->use_certificate_chain_file(config_.web_tls_cert, ec);
  if (ec) return Status::Error("[web] tls_cert " + config_.web_tls_cert + ": " + ec.message());
  ssl_ctx_->use_private_key_file(config_.web_tls_key, ssl::context::pem, ec);
  if (ec) return Status::Error("[web] tls_key " + config_.web_tls_key + ": " + ec.message());
  return Status::Ok();
}

Status ApiServer::Impl::init() {
  if (!deps_.verify_password || !deps_.issue_code)
    return Status::Error("ApiDeps needs verify_password and issue_code");
  if (Status s = files_.load(deps_.web_root); !s.ok()) return s;
  if (Status s = setUpTls(); !s.ok()) return s;

  beast::error_code ec;
  auto addr = net::ip::make_address(
      config_.web_listen.host == "localhost" ? "127.0.0.1" : config_.web_listen.host, ec);
  if (ec) return Status::Error("[web] listen: bad address " + config_.web_listen.host);
  tcp::endpoint ep(addr, config_.web_listen.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return Status::Error("[web] listen " + config_.web_listen.str() + ": " + ec.message() +
                         " (is another process using the port?)");
  port_ = acceptor_.local_endpoint().port();
  doAccept();
  scheduleFlush();
  for (int i = 0; i < std::max(1, opt_.io_threads); ++i)
    threads_.emplace_back([this] { ioc_.run(); });
  spdlog::info("web api listening addr={}:{} tls={}", config_.web_listen.host, port_,
               ssl_ctx_ ? "on" : "off");
  return Status::Ok();
}

void ApiServer::Impl::doAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket sock) {
    if (ec == net::error::operation_aborted || stopping_) return;
    if (!ec) {
      beast::error_code rec;
      auto ep = sock.remote_endpoint(rec);
      std::string remote = rec ? "unknown" : ep.address().to_string();
      if (!limits_.acquire(remote)) {
        spdlog::debug("web api: connection cap reached, refusing addr={}", remote);
        sock.close(rec);
      } else if (ssl_ctx_) {
        beast::ssl_stream<beast::tcp_stream> s(beast::tcp_stream(std::move(sock)), *ssl_ctx_);
        std::make_shared<HttpConnection<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(s),
                                                                              remote)
            ->start();
      } else {
        std::make_shared<HttpConnection<beast::tcp_stream>>(
            *this, beast::tcp_stream(std::move(sock)), remote)
            ->start();
      }
    }
    doAccept();
  });
}

// Coalesced audit counts are written when their interval ends; the store
// write runs on a worker, never on an I/O thread.
void ApiServer::Impl::scheduleFlush() {
  flush_timer_.expires_after(
      std::min<std::chrono::seconds>(std::chrono::seconds(5), opt_.view_audit_interval));
  flush_timer_.async_wait([this](beast::error_code ec) {
    if (ec || stopping_) return;
    net::post(pool_, [this] { audit_.flushDue(); });
    scheduleFlush();
  });
}

ConnectionHost::Handled ApiServer::Impl::handle(const Request& req, const std::string& remote,
                                                bool upgrade) {
  Services svc{config_, deps_, opt_, auth_, audit_, thumbnails_, recordings_, files_, tls()};
  std::string_view target(req.target().data(), req.target().size());
  const std::size_t qpos = target.find('?');
  auto path = percentDecode(target.substr(0, qpos), false);
  auto query = parseQuery(qpos == std::string_view::npos ? "" : target.substr(qpos + 1));
  Ctx c{svc, req, remote, {}, {}, {}, upgrade, {}, {}, {}};
  if (!path || path->empty() || path->front() != '/' || !query)
    return {c.error(http::status::bad_request, "malformed request target"), nullptr, {}};
  for (const auto& [k, v] : *query)
    if (v.size() > 512)
      return {c.error(http::status::bad_request, "parameter " + k + " is too long"), nullptr, {}};
  c.path = std::move(*path);
  c.query = std::move(*query);
  c.parts = splitPath(c.path);
  Reply r = dispatch(c, apiRoutes());
  return {std::move(r), std::move(c.live), std::move(c.who)};
}

std::unique_ptr<LiveFeed> ApiServer::Impl::startFeed(std::shared_ptr<Session> session,
                                                     LiveFeed::Out out) {
  auto feed = std::make_unique<LiveFeed>(std::move(session), deps_.sessions, deps_.store,
                                         std::move(out), opt_.live_fps, opt_.jpeg_quality);
  {
    std::lock_guard lock(feeds_mu_);
    feeds_.insert(feed.get());
  }
  feed->start();
  return feed;
}

void ApiServer::Impl::endFeed(LiveFeed* feed) {
  {
    std::lock_guard lock(feeds_mu_);
    feeds_.erase(feed);
  }
  feed->stop();
}

void ApiServer::Impl::stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  net::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
    flush_timer_.cancel();
  });
  // Live views let go of their sessions before anything else goes away.
  std::set<LiveFeed*> feeds;
  {
    std::lock_guard fl(feeds_mu_);
    feeds.swap(feeds_);
  }
  for (LiveFeed* f : feeds) f->stop();
  pool_.join();
  ioc_.stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  thumbnails_.clear();
  audit_.flushAll();
}

// --- ApiServer ------------------------------------------------------------------

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiServer::~ApiServer() { stop(); }

Result<std::unique_ptr<ApiServer>> ApiServer::start(const Config& config, ApiDeps deps,
                                                    ApiOptions options) {
  auto impl = std::make_unique<Impl>(config, std::move(deps), options);
  if (Status s = impl->init(); !s.ok()) return s;
  return std::unique_ptr<ApiServer>(new ApiServer(std::move(impl)));
}

std::uint16_t ApiServer::port() const { return impl_->port(); }
bool ApiServer::tls() const { return impl_->tls(); }
void ApiServer::stop() {
  if (impl_) impl_->stop();
}

}  // namespace vigil::gateway::api
