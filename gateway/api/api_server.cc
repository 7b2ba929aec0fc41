#include "gateway/api/api_server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "gateway/api/http_util.h"
#include "gateway/api/live_view.h"
#include "gateway/api/login_state.h"

namespace vigil::gateway::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kBodyLimit = 64 * 1024;
constexpr std::size_t kMaxLimit = 1000;
constexpr std::size_t kMaxParam = 512;
constexpr char kCookie[] = "vigil_session";

std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// A byte range of an open file as an HTTP body, read with pread in 64 KiB
// steps so a large recording never sits in memory.
struct FileRangeBody {
  struct value_type {
    std::shared_ptr<UniqueFd> fd;
    std::uint64_t offset = 0, length = 0;
  };
  static std::uint64_t size(const value_type& v) { return v.length; }

  class writer {
   public:
    using const_buffers_type = net::const_buffer;
    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>&, const value_type& v)
        : v_(v), pos_(v.offset), remain_(v.length), buf_(64 * 1024) {}
    void init(beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(beast::error_code& ec) {
      if (remain_ == 0) {
        ec = {};
        return boost::none;
      }
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), remain_));
      const ssize_t r = ::pread(v_.fd->get(), buf_.data(), n, static_cast<off_t>(pos_));
      if (r <= 0) {  // the file shrank or failed under us: end the connection
        ec = make_error_code(beast::errc::io_error);
        return boost::none;
      }
      pos_ += static_cast<std::uint64_t>(r);
      remain_ -= static_cast<std::uint64_t>(r);
      ec = {};
      return std::make_pair(net::const_buffer(buf_.data(), static_cast<std::size_t>(r)),
                            remain_ > 0);
    }

   private:
    const value_type& v_;
    std::uint64_t pos_, remain_;
    std::vector<char> buf_;
  };
};

using Request = http::request<http::string_body>;
using StrResponse = http::response<http::string_body>;
using FileResponse = http::response<FileRangeBody>;
using HeadResponse = http::response<http::empty_body>;
using Reply = std::variant<StrResponse, FileResponse, HeadResponse>;

struct StaticFile {
  std::string content;
  std::string mime;
};

std::string mimeFor(const fs::path& p) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".png", "image/png"},                 {".ico", "image/x-icon"},
      {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"}};
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

bool isPublicAsset(const std::string& path) {
  return path == "/login.html" || path == "/js/login.js" || path == "/favicon.svg" ||
         path.rfind("/css/", 0) == 0;
}

json sessionJson(const storage::SessionRecord& s, long long live_bytes) {
  const EpochMillis end = s.ended_at > 0 ? s.ended_at : epochNowMs();
  json j = {{"id", s.id},
            {"user", s.user},
            {"target", s.target},
            {"protocol", s.protocol},
            {"state", s.state},
            {"started_at", formatRfc3339(s.started_at)},
            {"ended_at", s.ended_at > 0 ? json(formatRfc3339(s.ended_at)) : json(nullptr)},
            {"duration_ms", std::max<long long>(0, end - s.started_at)},
            {"width", s.width},
            {"height", s.height},
            {"video_bytes", std::max(s.video_bytes, live_bytes)},
            {"end_reason", s.end_reason},
            {"client_addr", s.client_addr}};
  if (s.state == "refused") {
    j["refusals"] = s.refusals;
    j["claimed_users"] = s.claimed_users;
    j["claimed_targets"] = s.claimed_targets;
  }
  return j;
}

bool hasAnyRole(const UserConfig& u, std::initializer_list<Role> roles) {
  for (Role r : roles)
    if (u.hasRole(r)) return true;
  return false;
}

struct Principal {
  const UserConfig* user = nullptr;
  bool via_cookie = false;
};

// What a request handler sees.
struct Ctx {
  const Request& req;
  std::string remote;  // client address, for throttling and the log
  std::string path;
  std::map<std::string, std::string> query;
  std::vector<std::string_view> parts;
  Principal who;
};

}  // namespace

// ---------------------------------------------------------------------------

class ApiServer::Impl {
 public:
  Impl(const Config& config, ApiDeps deps, ApiOptions options)
      : config_(config),
        deps_(std::move(deps)),
        opt_(options),
        sessions_(opt_.login_ttl, opt_.login_idle),
        throttle_(opt_.max_failures_per_user, opt_.max_failures_per_address,
                  opt_.throttle_window),
        pool_(static_cast<std::size_t>(std::max(1, options.worker_threads))),
        acceptor_(ioc_) {}

  ~Impl() { stop(); }

  Status init();
  void stop();
  std::uint16_t port() const { return port_; }
  bool tls() const { return ssl_ctx_ != nullptr; }

  // Runs on a worker thread.
  Reply handle(const Request& req, const std::string& remote);
  // WebSocket upgrade for /api/sessions/{id}/live: the session to watch, or
  // the error reply. Worker thread.
  std::variant<std::shared_ptr<Session>, Reply> authorizeLive(const Request& req,
                                                             const std::string& remote,
                                                             std::string& user);
  // Replies to parse failures (no request object): 400, 413, 431.
  StrResponse plainError(http::status st, const std::string& msg);

  void addSecurityHeaders(http::fields& f) const;
  bool acceptConnection() {
    if (active_.fetch_add(1) >= opt_.max_connections) {
      active_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void connectionClosed() { active_.fetch_sub(1); }
  void registerFeed(LiveFeed* f) {
    std::lock_guard lock(feeds_mu_);
    feeds_.insert(f);
  }
  void unregisterFeed(LiveFeed* f) {
    std::lock_guard lock(feeds_mu_);
    feeds_.erase(f);
  }
  bool stopping() const { return stopping_.load(); }

  const ApiOptions& options() const { return opt_; }
  net::thread_pool& pool() { return pool_; }
  ssl::context* sslContext() { return ssl_ctx_.get(); }
  ApiDeps& deps() { return deps_; }
  void audit(const std::string& actor, const std::string& action, const std::string& object,
             const std::string& detail);

 private:
  void doAccept();
  Status loadStatic();

  // Routing and handlers.
  StrResponse reply(const Request& req, http::status st, const json& body);
  StrResponse error(const Request& req, http::status st, const std::string& msg);
  std::optional<std::string> checkPost(const Ctx& c);
  std::optional<Principal> authenticate(Ctx& c, StrResponse& err);
  Reply route(Ctx& c);
  Reply serveStatic(Ctx& c);
  Reply login(Ctx& c);
  Reply logout(Ctx& c);
  Reply listSessions(Ctx& c);
  Reply getSession(Ctx& c, const std::string& id);
  Reply sessionEvents(Ctx& c, const std::string& id);
  Reply video(Ctx& c, const std::string& id);
  Reply thumbnail(Ctx& c, const std::string& id);
  Reply terminate(Ctx& c, const std::string& id);
  Reply search(Ctx& c);
  Reply grants(Ctx& c);
  Reply auditLog(Ctx& c);
  std::optional<StrResponse> parseFilter(Ctx& c, storage::SessionFilter& f);
  std::optional<std::size_t> parseLimit(Ctx& c, std::size_t def, StrResponse& err);
  void auditView(const std::string& user, const std::string& id);
  long long fileSize(const storage::SessionRecord& s);
  std::optional<fs::path> videoFile(const storage::SessionRecord& s);

  const Config& config_;
  ApiDeps deps_;
  ApiOptions opt_;
  LoginSessions sessions_;
  LoginThrottle throttle_;
  std::map<std::string, StaticFile> static_;
  fs::path recordings_root_;

  std::mutex basic_mu_;  // successful Basic credentials, so argon2 runs once a minute, not per request
  std::map<std::string, std::pair<std::string, SteadyTime>> basic_cache_;
  std::mutex view_mu_;  // last replay audit per user+session
  std::map<std::string, SteadyTime> last_view_;
  std::mutex thumbs_mu_;
  struct Thumb {
    std::shared_ptr<Session> session;
    std::unique_ptr<ThumbnailWatcher> watcher;
    SteadyTime last_used;
  };
  std::map<std::string, Thumb> thumbs_;

  std::atomic<std::size_t> active_{0};
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
  std::vector<std::thread> threads_;
};

namespace {

// --- one WebSocket live viewer ---------------------------------------------
template <class Stream>
class LiveSocket : public std::enable_shared_from_this<LiveSocket<Stream>> {
 public:
  LiveSocket(ApiServer::Impl& impl, Stream&& stream) : impl_(impl), ws_(std::move(stream)) {}
  ~LiveSocket() {
    if (feed_) {
      impl_.unregisterFeed(feed_.get());
      feed_->stop();
    }
    impl_.connectionClosed();
  }

  void run(Request req, std::shared_ptr<Session> session, std::string user) {
    session_ = std::move(session);
    user_ = std::move(user);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
        [this](websocket::response_type& res) { impl_.addSecurityHeaders(res); }));
    ws_.read_message_max(4096);
    req_ = std::move(req);
    ws_.async_accept(req_, beast::bind_front_handler(&LiveSocket::onAccept, this->shared_from_this()));
  }

 private:
  void onAccept(beast::error_code ec) {
    if (ec) return;
    std::weak_ptr<LiveSocket> weak = this->shared_from_this();
    auto exec = ws_.get_executor();
    LiveFeed::Out out;
    out.send = [weak, exec](LiveMessage m) {
      if (auto self = weak.lock()) {
        self->backlog_.fetch_add(1);
        net::post(exec, [self, m = std::move(m)]() mutable { self->enqueue(std::move(m)); });
      }
    };
    out.backlog = [weak]() -> std::size_t {
      auto self = weak.lock();
      return self ? self->backlog_.load() : 0;
    };
    out.close = [weak, exec] {
      if (auto self = weak.lock()) net::post(exec, [self] { self->requestClose(); });
    };
    feed_ = std::make_unique<LiveFeed>(session_, impl_.deps().sessions, impl_.deps().store,
                                       std::move(out), impl_.options().live_fps,
                                       impl_.options().jpeg_quality);
    if (impl_.stopping()) return;
    impl_.registerFeed(feed_.get());
    feed_->start();
    spdlog::info("live view started session={} user={}", session_->id(), user_);
    doRead();
  }

  void doRead() {
    ws_.async_read(rbuf_, [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
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
    ws_.async_write(net::buffer(queue_.front().data),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
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
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) { self->shutdown(); });
  }

  void shutdown() {
    if (feed_) {
      impl_.unregisterFeed(feed_.get());
      feed_->stop();
      spdlog::info("live view ended session={} user={}", session_->id(), user_);
      feed_.reset();
    }
  }

  ApiServer::Impl& impl_;
  websocket::stream<Stream> ws_;
  Request req_;
  std::shared_ptr<Session> session_;
  std::string user_;
  beast::flat_buffer rbuf_;
  std::deque<LiveMessage> queue_;
  std::atomic<std::size_t> backlog_{0};
  bool writing_ = false, closing_ = false, close_requested_ = false;
  std::unique_ptr<LiveFeed> feed_;
};

// --- one HTTP connection ----------------------------------------------------
template <class Stream>
class HttpConnection : public std::enable_shared_from_this<HttpConnection<Stream>> {
 public:
  HttpConnection(ApiServer::Impl& impl, Stream&& stream, std::string remote)
      : impl_(impl), stream_(std::move(stream)), remote_(std::move(remote)) {}
  ~HttpConnection() {
    if (!handed_off_) impl_.connectionClosed();
  }

  void start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      net::dispatch(stream_.get_executor(),
                    beast::bind_front_handler(&HttpConnection::doRead, this->shared_from_this()));
    } else {
      beast::get_lowest_layer(stream_).expires_after(impl_.options().request_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->doRead();
                              });
    }
  }

 private:
  void doRead() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    beast::get_lowest_layer(stream_).expires_after(impl_.options().request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&HttpConnection::onRead, this->shared_from_this()));
  }

  void onRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof)
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
      auto res = impl_.plainError(st, msg);
      res.keep_alive(false);
      return send(Reply(std::move(res)));
    }
    auto req = std::make_shared<Request>(parser_->release());
    if (websocket::is_upgrade(*req)) return upgrade(req);
    auto self = this->shared_from_this();
    net::post(impl_.pool(), [self, req] {
      Reply r = self->impl_.handle(*req, self->remote_);
      net::post(self->stream_.get_executor(),
                [self, r = std::move(r)]() mutable { self->send(std::move(r)); });
    });
  }

  void upgrade(std::shared_ptr<Request> req) {
    auto self = this->shared_from_this();
    net::post(impl_.pool(), [self, req] {
      std::string user;
      auto decision = self->impl_.authorizeLive(*req, self->remote_, user);
      net::post(self->stream_.get_executor(),
                [self, req, user, decision = std::move(decision)]() mutable {
                  if (auto* reply = std::get_if<Reply>(&decision)) {
                    std::visit([](auto& m) { m.keep_alive(false); }, *reply);
                    return self->send(std::move(*reply));
                  }
                  self->handed_off_ = true;
                  auto ws = std::make_shared<LiveSocket<Stream>>(self->impl_, std::move(self->stream_));
                  ws->run(std::move(*req), std::get<std::shared_ptr<Session>>(decision), user);
                });
    });
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
    beast::get_lowest_layer(stream_).expires_after(impl_.options().request_timeout);
    http::async_write_some(
        stream_, *sr, [self = this->shared_from_this(), m, sr](beast::error_code ec, std::size_t) {
          if (ec) return self->doClose();
          if (!sr->is_done()) return self->writeSome(m, sr);
          if (!m->keep_alive() || self->impl_.stopping()) return self->doClose();
          self->doRead();
        });
  }

  void doClose() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    }
  }

  ApiServer::Impl& impl_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_{kHeaderLimit + kBodyLimit + 4096};
  std::optional<http::request_parser<http::string_body>> parser_;
  bool handed_off_ = false;  // the LiveSocket counts the connection from then on
};

}  // namespace

// --- server lifecycle -------------------------------------------------------

Status ApiServer::Impl::loadStatic() {
  std::error_code ec;
  fs::path root = fs::weakly_canonical(deps_.web_root, ec);
  if (ec || !fs::is_regular_file(root / "index.html"))
    return Status::Error("web player not found: " + deps_.web_root +
                         " has no index.html (set the web-player directory)");
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file()) continue;  // nothing outside the tree
    if (it->file_size() > 8 * 1024 * 1024) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string rel = "/" + fs::relative(it->path(), root).generic_string();
    static_[rel] = StaticFile{ss.str(), mimeFor(it->path())};
  }
  if (!static_.count("/login.html"))
    return Status::Error("web player incomplete: " + deps_.web_root + " has no login.html");
  return Status::Ok();
}

Status ApiServer::Impl::init() {
  if (!deps_.verify_password || !deps_.issue_code)
    return Status::Error("ApiDeps needs verify_password and issue_code");
  if (Status s = loadStatic(); !s.ok()) return s;
  std::error_code fec;
  recordings_root_ = fs::weakly_canonical(deps_.recordings_dir, fec);
  if (fec) recordings_root_ = fs::absolute(deps_.recordings_dir);

  if (!config_.web_tls_cert.empty() || !config_.web_tls_key.empty()) {
    ssl_ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
    ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                          ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    beast::error_code ec;
    ssl_ctx_->use_certificate_chain_file(config_.web_tls_cert, ec);
    if (ec)
      return Status::Error("[web] tls_cert " + config_.web_tls_cert + ": " + ec.message());
    ssl_ctx_->use_private_key_file(config_.web_tls_key, ssl::context::pem, ec);
    if (ec) return Status::Error("[web] tls_key " + config_.web_tls_key + ": " + ec.message());
  }

  beast::error_code ec;
  auto addr = net::ip::make_address(config_.web_listen.host == "localhost" ? "127.0.0.1"
                                                                            : config_.web_listen.host,
                                    ec);
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
      if (!acceptConnection()) {
        spdlog::warn("web api: too many connections, refusing addr={}", remote);
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

void ApiServer::Impl::stop() {
  std::lock_guard lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  net::post(ioc_, [this] {
    beast::error_code ec;
    acceptor_.close(ec);
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
  {
    std::lock_guard tl(thumbs_mu_);
    for (auto& [id, th] : thumbs_) th.session->unsubscribe(th.watcher.get(), nullptr);
    thumbs_.clear();
  }
}

// --- helpers ----------------------------------------------------------------

void ApiServer::Impl::addSecurityHeaders(http::fields& f) const {
  f.set("Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  f.set("X-Content-Type-Options", "nosniff");
  f.set("X-Frame-Options", "DENY");
  f.set("Referrer-Policy", "no-referrer");
  f.set("Cross-Origin-Opener-Policy", "same-origin");
  f.set("Cross-Origin-Resource-Policy", "same-origin");
  if (ssl_ctx_) f.set("Strict-Transport-Security", "max-age=31536000");
  f.set(http::field::server, "vigil");
}

StrResponse ApiServer::Impl::plainError(http::status st, const std::string& msg) {
  StrResponse res{st, 11};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res);
  res.body() = dumpJson({{"error", msg}});
  res.prepare_payload();
  return res;
}

StrResponse ApiServer::Impl::reply(const Request& req, http::status st, const json& body) {
  StrResponse res{st, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res);
  res.keep_alive(req.keep_alive());
  res.body() = dumpJson(body);
  res.prepare_payload();
  return res;
}

StrResponse ApiServer::Impl::error(const Request& req, http::status st, const std::string& msg) {
  return reply(req, st, {{"error", msg}});
}

void ApiServer::Impl::audit(const std::string& actor, const std::string& action,
                            const std::string& object, const std::string& detail) {
  storage::AuditEntry a{epochNowMs(), actor, action, object, detail};
  if (Status s = deps_.store.appendAudit(a); !s.ok())
    spdlog::error("audit write failed action={} actor={}: {}", action, actor, s.message());
}

void ApiServer::Impl::auditView(const std::string& user, const std::string& id) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(view_mu_);
    const std::string key = user + "\n" + id;
    auto it = last_view_.find(key);
    if (it != last_view_.end() && now - it->second < opt_.view_audit_interval) return;
    if (last_view_.size() > 10000) {
      for (auto i = last_view_.begin(); i != last_view_.end();)
        i = now - i->second >= opt_.view_audit_interval ? last_view_.erase(i) : std::next(i);
    }
    last_view_[key] = now;
  }
  audit(user, "view", id, "replay");
}

std::optional<fs::path> ApiServer::Impl::videoFile(const storage::SessionRecord& s) {
  if (s.video_path.empty()) return std::nullopt;
  fs::path rel(s.video_path);
  if (rel.is_absolute()) return std::nullopt;
  for (const auto& part : rel)
    if (part == "..") return std::nullopt;
  std::error_code ec;
  fs::path full = fs::weakly_canonical(recordings_root_ / rel, ec);
  if (ec) return std::nullopt;
  // Symlinks may not lead outside the recordings directory either.
  auto [root_end, _] = std::mismatch(recordings_root_.begin(), recordings_root_.end(), full.begin(),
                                     full.end());
  if (root_end != recordings_root_.end()) return std::nullopt;
  return full;
}

long long ApiServer::Impl::fileSize(const storage::SessionRecord& s) {
  if (s.state != "live") return 0;
  auto p = videoFile(s);
  if (!p) return 0;
  struct stat st{};
  return ::stat(p->c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : 0;
}

// POSTs must be JSON from our own origin: with the SameSite=Strict cookie
// this closes cross-site request forgery.
std::optional<std::string> ApiServer::Impl::checkPost(const Ctx& c) {
  auto ct = c.req[http::field::content_type];
  std::string_view ctv(ct.data(), ct.size());
  std::string lower(ctv.substr(0, ctv.find(';')));
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  while (!lower.empty() && lower.back() == ' ') lower.pop_back();
  if (lower != "application/json") return "POST requests must have Content-Type: application/json";
  return std::nullopt;
}

namespace {
bool originAllowed(const Request& req, bool tls) {
  auto origin = req[http::field::origin];
  if (origin.empty()) return true;
  auto host = req[http::field::host];
  if (host.empty()) return false;
  const std::string o(origin.data(), origin.size()), h(host.data(), host.size());
  return o == (tls ? "https://" : "http://") + h;
}
}  // namespace

std::optional<Principal> ApiServer::Impl::authenticate(Ctx& c, StrResponse& err) {
  const auto now = std::chrono::steady_clock::now();
  auto cookie = c.req[http::field::cookie];
  if (!cookie.empty()) {
    if (auto token = cookieValue(std::string_view(cookie.data(), cookie.size()), kCookie)) {
      if (auto name = sessions_.lookup(*token, now)) {
        if (const UserConfig* u = config_.findUser(*name)) return Principal{u, true};
      }
    }
  }
  auto authz = c.req[http::field::authorization];
  if (!authz.empty()) {
    auto creds = parseBasicAuth(std::string_view(authz.data(), authz.size()));
    if (!creds) {
      err = error(c.req, http::status::unauthorized, "malformed Authorization header");
      return std::nullopt;
    }
    const auto& [name, password] = *creds;
    const std::string key = sha256Hex(name + '\0' + password);
    {
      std::lock_guard lock(basic_mu_);
      auto it = basic_cache_.find(key);
      if (it != basic_cache_.end() && now - it->second.second < std::chrono::seconds(60)) {
        if (const UserConfig* u = config_.findUser(it->second.first)) return Principal{u, false};
      }
    }
    if (auto wait = throttle_.blocked(c.remote, name, now)) {
      err = error(c.req, http::status::too_many_requests,
                  "too many failed sign-ins; try again in " + std::to_string(*wait) + " s");
      err.set(http::field::retry_after, std::to_string(*wait));
      return std::nullopt;
    }
    const UserConfig* u = config_.findUser(name);
    if (u && deps_.verify_password(u->password_hash, password)) {
      throttle_.success(c.remote, name);
      std::lock_guard lock(basic_mu_);
      if (basic_cache_.size() > 1000) basic_cache_.clear();
      basic_cache_[key] = {name, now};
      return Principal{u, false};
    }
    throttle_.failure(c.remote, name, now);
    spdlog::warn("web sign-in failed (basic) user={} addr={}", name, c.remote);
    err = error(c.req, http::status::unauthorized, "wrong user name or password");
    err.set(http::field::www_authenticate, "Basic realm=\"vigil\", charset=\"UTF-8\"");
    return std::nullopt;
  }
  err = error(c.req, http::status::unauthorized, "sign in first");
  // Browsers' fetch() would pop a password dialog on a Basic challenge.
  auto mode = c.req["Sec-Fetch-Mode"];
  if (mode.empty() || mode == "navigate")
    err.set(http::field::www_authenticate, "Basic realm=\"vigil\", charset=\"UTF-8\"");
  return std::nullopt;
}

std::optional<std::size_t> ApiServer::Impl::parseLimit(Ctx& c, std::size_t def, StrResponse& err) {
  auto it = c.query.find("limit");
  if (it == c.query.end() || it->second.empty()) return def;
  const std::string& v = it->second;
  std::size_t n = 0;
  bool ok = v.size() <= 6 && std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (ok) n = std::stoul(v);
  if (!ok || n < 1 || n > kMaxLimit) {
    err = error(c.req, http::status::bad_request, "limit must be a whole number from 1 to 1000");
    return std::nullopt;
  }
  return n;
}

std::optional<StrResponse> ApiServer::Impl::parseFilter(Ctx& c, storage::SessionFilter& f) {
  for (const char* key : {"user", "target"}) {
    auto it = c.query.find(key);
    if (it == c.query.end() || it->second.empty()) continue;
    if (it->second.size() > 128)
      return error(c.req, http::status::bad_request, std::string(key) + " is too long");
    (std::string_view(key) == "user" ? f.user : f.target) = it->second;
  }
  for (const char* key : {"from", "to"}) {
    auto it = c.query.find(key);
    if (it == c.query.end() || it->second.empty()) continue;
    auto t = parseRfc3339(it->second);
    if (!t)
      return error(c.req, http::status::bad_request,
                   std::string(key) + " must be an RFC 3339 time such as 2026-11-22T14:03:05Z");
    (std::string_view(key) == "from" ? f.from : f.to) = *t;
  }
  if (f.from && f.to && *f.from > *f.to)
    return error(c.req, http::status::bad_request, "from is after to");
  StrResponse err;
  auto limit = parseLimit(c, 100, err);
  if (!limit) return err;
  f.limit = *limit;
  return std::nullopt;
}

// --- request entry ------------------------------------------------------------

Reply ApiServer::Impl::handle(const Request& req, const std::string& remote) {
  std::string_view target(req.target().data(), req.target().size());
  const std::size_t qpos = target.find('?');
  auto path = percentDecode(target.substr(0, qpos), false);
  auto query = parseQuery(qpos == std::string_view::npos ? "" : target.substr(qpos + 1));
  if (!path || path->empty() || path->front() != '/' || !query)
    return error(req, http::status::bad_request, "malformed request target");
  for (const auto& [k, v] : *query)
    if (v.size() > kMaxParam)
      return error(req, http::status::bad_request, "parameter " + k + " is too long");
  Ctx c{req, remote, *path, std::move(*query), splitPath(*path), {}};
  const auto method = req.method();
  if (method != http::verb::get && method != http::verb::head && method != http::verb::post) {
    auto res = error(req, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, "GET, HEAD, POST");
    return res;
  }
  if (method == http::verb::post) {
    if (!originAllowed(req, tls()))
      return error(req, http::status::forbidden, "cross-origin request refused");
    if (auto bad = checkPost(c)) return error(req, http::status::unsupported_media_type, *bad);
  }
  Reply r = route(c);
  if (method == http::verb::head) {
    return std::visit(
        [](auto& m) -> Reply {
          HeadResponse h{m.result(), m.version()};
          for (const auto& f : m.base()) h.set(f.name_string(), f.value());
          h.keep_alive(m.keep_alive());
          return h;
        },
        r);
  }
  return r;
}

Reply ApiServer::Impl::route(Ctx& c) {
  const auto& p = c.parts;
  const bool get = c.req.method() != http::verb::post;
  if (p[0] != "api") return get ? serveStatic(c) : Reply(error(c.req, http::status::method_not_allowed, "method not allowed"));
  if (p.size() == 2 && p[1] == "login") {
    if (get) return error(c.req, http::status::method_not_allowed, "use POST");
    return login(c);
  }
  StrResponse err;
  auto who = authenticate(c, err);
  if (!who) return err;
  c.who = *who;
  const UserConfig& u = *c.who.user;
  const bool staff = hasAnyRole(u, {Role::Auditor, Role::Security, Role::Admin});
  const bool security = hasAnyRole(u, {Role::Security, Role::Admin});
  auto forbidden = [&] {
    return error(c.req, http::status::forbidden, "your role may not do this");
  };
  auto wrongMethod = [&](const char* allowed) {
    auto res = error(c.req, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, allowed);
    return res;
  };

  if (p.size() == 2 && p[1] == "me") {
    if (!get) return wrongMethod("GET");
    json roles = json::array();
    for (Role r : u.roles) roles.push_back(std::string(toString(r)));
    return reply(c.req, http::status::ok, {{"user", u.name}, {"roles", roles}});
  }
  if (p.size() == 2 && p[1] == "logout") {
    if (get) return wrongMethod("POST");
    return logout(c);
  }
  if (p.size() == 2 && p[1] == "sessions") {
    if (!get) return wrongMethod("GET");
    if (!staff) return forbidden();
    return listSessions(c);
  }
  if (p.size() >= 3 && p.size() <= 4 && p[1] == "sessions") {
    const std::string id(p[2]);
    const std::string_view sub = p.size() == 4 ? p[3] : "";
    const bool is_post_route = sub == "terminate";
    if (p.size() == 4 && sub != "events" && sub != "video" && sub != "thumbnail" && sub != "live" &&
        sub != "terminate")
      return error(c.req, http::status::not_found, "no such route");
    if (is_post_route == get) return wrongMethod(is_post_route ? "POST" : "GET");
    const bool needs_security = sub == "thumbnail" || sub == "live" || sub == "terminate";
    if (needs_security ? !security : !staff) return forbidden();
    if (!isValidId(id)) return error(c.req, http::status::not_found, "no such session");
    if (sub.empty()) return getSession(c, id);
    if (sub == "events") return sessionEvents(c, id);
    if (sub == "video") return video(c, id);
    if (sub == "thumbnail") return thumbnail(c, id);
    if (sub == "terminate") return terminate(c, id);
    auto res = error(c.req, http::status::upgrade_required, "this is a WebSocket endpoint");
    res.set(http::field::upgrade, "websocket");
    return res;
  }
  if (p.size() == 2 && p[1] == "search") {
    if (!get) return wrongMethod("GET");
    if (!staff) return forbidden();
    return search(c);
  }
  if (p.size() == 2 && p[1] == "grants") {
    if (get) return wrongMethod("POST");
    if (!security) return forbidden();
    return grants(c);
  }
  if (p.size() == 2 && p[1] == "audit") {
    if (!get) return wrongMethod("GET");
    if (!u.hasRole(Role::Admin)) return forbidden();
    return auditLog(c);
  }
  return error(c.req, http::status::not_found, "no such route");
}

// --- handlers -------------------------------------------------------------------

Reply ApiServer::Impl::serveStatic(Ctx& c) {
  std::string path = c.path;
  StrResponse dummy;
  const auto now = std::chrono::steady_clock::now();
  bool signed_in = false;
  if (auto cookie = c.req[http::field::cookie]; !cookie.empty()) {
    if (auto token = cookieValue(std::string_view(cookie.data(), cookie.size()), kCookie))
      signed_in = sessions_.lookup(*token, now).has_value();
  }
  if (path == "/" || path == "/index.html") path = signed_in ? "/index.html" : "/login.html";
  auto it = static_.find(path);
  if (it == static_.end()) return error(c.req, http::status::not_found, "not found");
  if (!signed_in && !isPublicAsset(path)) {
    // API clients may fetch assets with Basic too.
    StrResponse err;
    if (!authenticate(c, err)) return err;
  }
  StrResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, it->second.mime);
  res.set(http::field::cache_control, "no-cache");
  addSecurityHeaders(res);
  res.keep_alive(c.req.keep_alive());
  res.body() = it->second.content;
  res.prepare_payload();
  return res;
}

Reply ApiServer::Impl::login(Ctx& c) {
  json body = json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return error(c.req, http::status::bad_request, "body must be a JSON object {\"user\",\"password\"}");
  auto user_it = body.find("user");
  auto pw_it = body.find("password");
  if (user_it == body.end() || pw_it == body.end() || !user_it->is_string() || !pw_it->is_string())
    return error(c.req, http::status::bad_request, "user and password must be strings");
  const std::string name = user_it->get<std::string>();
  const std::string password = pw_it->get<std::string>();
  if (name.empty() || name.size() > 128 || password.size() > 1024)
    return error(c.req, http::status::bad_request, "user or password has a bad length");
  const auto now = std::chrono::steady_clock::now();
  if (auto wait = throttle_.blocked(c.remote, name, now)) {
    spdlog::warn("web sign-in throttled user={} addr={}", name, c.remote);
    auto res = error(c.req, http::status::too_many_requests,
                     "too many failed sign-ins; try again in " + std::to_string(*wait) + " s");
    res.set(http::field::retry_after, std::to_string(*wait));
    return res;
  }
  const UserConfig* u = config_.findUser(name);
  if (!u || !deps_.verify_password(u->password_hash, password)) {
    throttle_.failure(c.remote, name, now);
    spdlog::warn("web sign-in failed user={} addr={}", name, c.remote);
    return error(c.req, http::status::unauthorized, "wrong user name or password");
  }
  throttle_.success(c.remote, name);
  const std::string token = sessions_.create(name, now);
  spdlog::info("web sign-in user={} addr={}", name, c.remote);
  audit(name, "login", "", "from " + c.remote);
  json roles = json::array();
  for (Role r : u->roles) roles.push_back(std::string(toString(r)));
  auto res = reply(c.req, http::status::ok, {{"user", name}, {"roles", roles}});
  std::string cookie = std::string(kCookie) + "=" + token +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(opt_.login_ttl.count());
  if (tls()) cookie += "; Secure";
  res.set(http::field::set_cookie, cookie);
  return res;
}

Reply ApiServer::Impl::logout(Ctx& c) {
  if (auto cookie = c.req[http::field::cookie]; !cookie.empty()) {
    if (auto token = cookieValue(std::string_view(cookie.data(), cookie.size()), kCookie))
      sessions_.remove(*token);
  }
  auto res = reply(c.req, http::status::ok, {{"status", "signed out"}});
  res.set(http::field::set_cookie, std::string(kCookie) +
                                       "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
                                       (tls() ? "; Secure" : ""));
  return res;
}

Reply ApiServer::Impl::listSessions(Ctx& c) {
  storage::SessionFilter f;
  if (auto err = parseFilter(c, f)) return std::move(*err);
  if (auto it = c.query.find("state"); it != c.query.end() && !it->second.empty()) {
    if (it->second != "live" && it->second != "ended" && it->second != "refused")
      return error(c.req, http::status::bad_request, "state must be live, ended or refused");
    f.state = it->second;
  }
  auto list = deps_.store.listSessions(f);
  if (!list.ok()) {
    spdlog::error("list sessions failed: {}", list.message());
    return error(c.req, http::status::service_unavailable, "session store unavailable");
  }
  json arr = json::array();
  for (const auto& s : list.value()) arr.push_back(sessionJson(s, fileSize(s)));
  return reply(c.req, http::status::ok, {{"sessions", arr}});
}

Reply ApiServer::Impl::getSession(Ctx& c, const std::string& id) {
  auto rec = deps_.store.getSession(id);
  if (!rec.ok()) return error(c.req, http::status::service_unavailable, "session store unavailable");
  if (!rec.value()) return error(c.req, http::status::not_found, "no such session");
  return reply(c.req, http::status::ok, sessionJson(*rec.value(), fileSize(*rec.value())));
}

Reply ApiServer::Impl::sessionEvents(Ctx& c, const std::string& id) {
  std::vector<EventKind> kinds;
  if (auto it = c.query.find("kind"); it != c.query.end() && !it->second.empty()) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      auto k = parseEventKind(rest.substr(0, comma));
      if (!k)
        return error(c.req, http::status::bad_request,
                     "kind must be a comma list of key, title, clipboard, alert, lifecycle");
      kinds.push_back(*k);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }
  }
  auto rec = deps_.store.getSession(id);
  if (!rec.ok()) return error(c.req, http::status::service_unavailable, "session store unavailable");
  if (!rec.value()) return error(c.req, http::status::not_found, "no such session");
  auto events = deps_.store.events(id, kinds);
  if (!events.ok()) return error(c.req, http::status::service_unavailable, "event store unavailable");
  json arr = json::array();
  for (const Event& e : events.value()) {
    json j = {{"t_ms", e.t_ms}, {"kind", std::string(toString(e.kind))}, {"text", e.text}};
    if (!e.window.empty()) j["window"] = e.window;
    arr.push_back(std::move(j));
  }
  auditView(c.who.user->name, id);
  return reply(c.req, http::status::ok, {{"events", arr}});
}

Reply ApiServer::Impl::video(Ctx& c, const std::string& id) {
  auto rec = deps_.store.getSession(id);
  if (!rec.ok()) return error(c.req, http::status::service_unavailable, "session store unavailable");
  if (!rec.value()) return error(c.req, http::status::not_found, "no such session");
  auto path = videoFile(*rec.value());
  if (!path) return error(c.req, http::status::not_found, "this session has no recording");
  UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st{};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return error(c.req, http::status::not_found, "the recording file is missing");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  ByteRange range{0, size == 0 ? 0 : size - 1};
  RangeResult rr = RangeResult::None;
  if (auto h = c.req[http::field::range]; !h.empty())
    rr = parseRange(std::string_view(h.data(), h.size()), size, range);
  if (rr == RangeResult::Unsatisfiable) {
    auto res = error(c.req, http::status::range_not_satisfiable, "range outside the recording");
    res.set(http::field::content_range, "bytes */" + std::to_string(size));
    res.set(http::field::accept_ranges, "bytes");
    return res;
  }
  const bool download = c.query.count("download") && c.query["download"] == "1";
  if (download && (rr == RangeResult::None || range.first == 0))
    audit(c.who.user->name, "export", id, "download");
  else
    auditView(c.who.user->name, id);

  FileResponse res{rr == RangeResult::Ok ? http::status::partial_content : http::status::ok,
                   c.req.version()};
  res.set(http::field::content_type, "video/mp4");
  res.set(http::field::accept_ranges, "bytes");
  res.set(http::field::cache_control, "private, no-cache");
  if (download)
    res.set(http::field::content_disposition, "attachment; filename=\"vigil-" + id + ".mp4\"");
  addSecurityHeaders(res);
  if (rr == RangeResult::Ok)
    res.set(http::field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                            std::to_string(range.last) + "/" + std::to_string(size));
  res.body().fd = std::make_shared<UniqueFd>(std::move(fd));
  res.body().offset = rr == RangeResult::Ok ? range.first : 0;
  res.body().length = rr == RangeResult::Ok ? range.length() : size;
  res.keep_alive(c.req.keep_alive());
  res.prepare_payload();
  return res;
}

Reply ApiServer::Impl::thumbnail(Ctx& c, const std::string& id) {
  const auto now = std::chrono::steady_clock::now();
  ThumbnailWatcher* watcher = nullptr;
  {
    std::lock_guard lock(thumbs_mu_);
    // Let go of sessions nobody has looked at for a minute, or that ended.
    for (auto it = thumbs_.begin(); it != thumbs_.end();) {
      if (now - it->second.last_used > std::chrono::seconds(60) ||
          deps_.sessions.find(it->first) == nullptr) {
        it->second.session->unsubscribe(it->second.watcher.get(), nullptr);
        it = thumbs_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = thumbs_.find(id);
    if (it == thumbs_.end()) {
      auto session = deps_.sessions.find(id);
      if (!session) return error(c.req, http::status::not_found, "no live session with this id here");
      Thumb t{session, std::make_unique<ThumbnailWatcher>(), now};
      session->subscribe(t.watcher.get(), nullptr);
      it = thumbs_.emplace(id, std::move(t)).first;
    }
    it->second.last_used = now;
    watcher = it->second.watcher.get();
  }
  // The first frame after subscribing carries the whole screen; wait briefly for it.
  Frame frame;
  bool have = false;
  for (int i = 0; i < 30 && !(have = watcher->latest(frame)); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!have) return error(c.req, http::status::service_unavailable, "no picture from this session yet");
  std::string jpeg = encodeThumbnail(frame, 480, 70);
  StrResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "image/jpeg");
  res.set(http::field::cache_control, "no-store");
  addSecurityHeaders(res);
  res.keep_alive(c.req.keep_alive());
  res.body() = std::move(jpeg);
  res.prepare_payload();
  return res;
}

Reply ApiServer::Impl::terminate(Ctx& c, const std::string& id) {
  auto rec = deps_.store.getSession(id);
  if (!rec.ok()) return error(c.req, http::status::service_unavailable, "session store unavailable");
  if (!rec.value()) return error(c.req, http::status::not_found, "no such session");
  if (rec.value()->state != "live")
    return error(c.req, http::status::conflict, "the session has already ended");
  const std::string& by = c.who.user->name;
  if (Status s = deps_.sessions.terminate(id, by); !s.ok()) {
    spdlog::error("terminate failed session={} by={}: {}", id, by, s.message());
    return error(c.req, http::status::bad_gateway, "could not terminate: " + s.message());
  }
  spdlog::info("session terminated via web session={} by={}", id, by);
  audit(by, "terminate", id, "from " + c.remote);
  return reply(c.req, http::status::accepted, {{"status", "terminating"}, {"id", id}});
}

Reply ApiServer::Impl::search(Ctx& c) {
  auto qi = c.query.find("q");
  if (qi == c.query.end() || qi->second.find_first_not_of(" \t") == std::string::npos)
    return error(c.req, http::status::bad_request, "q (the search words) is required");
  storage::SessionFilter f;
  if (auto err = parseFilter(c, f)) return std::move(*err);
  auto hits = deps_.store.search(qi->second, f);
  if (!hits.ok()) {
    spdlog::error("search failed: {}", hits.message());
    return error(c.req, http::status::service_unavailable, "search unavailable");
  }
  std::string detail;
  if (f.user) detail += "user=" + *f.user + " ";
  if (f.target) detail += "target=" + *f.target + " ";
  detail += "hits=" + std::to_string(hits.value().size());
  audit(c.who.user->name, "search", qi->second, detail);
  json arr = json::array();
  for (const auto& h : hits.value())
    arr.push_back({{"session_id", h.session_id},
                   {"t_ms", h.event.t_ms},
                   {"kind", std::string(toString(h.event.kind))},
                   {"text", h.event.text},
                   {"user", h.user},
                   {"target", h.target},
                   {"started_at", formatRfc3339(h.started_at)}});
  return reply(c.req, http::status::ok, {{"hits", arr}});
}

Reply ApiServer::Impl::grants(Ctx& c) {
  json body = json::parse(c.req.body(), nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return error(c.req, http::status::bad_request,
                 "body must be a JSON object {\"user\",\"target\",\"ttl_s\"}");
  auto user_it = body.find("user"), target_it = body.find("target"), ttl_it = body.find("ttl_s");
  if (user_it == body.end() || !user_it->is_string() || target_it == body.end() ||
      !target_it->is_string())
    return error(c.req, http::status::bad_request, "user and target must be strings");
  long long ttl_s = 1800;
  if (ttl_it != body.end()) {
    if (!ttl_it->is_number_integer())
      return error(c.req, http::status::bad_request, "ttl_s must be a whole number of seconds");
    ttl_s = ttl_it->get<long long>();
    if (ttl_s < 60 || ttl_s > 7 * 24 * 3600)
      return error(c.req, http::status::bad_request, "ttl_s must be from 60 to 604800");
  }
  const std::string user = user_it->get<std::string>(), target = target_it->get<std::string>();
  if (!config_.findUser(user)) return error(c.req, http::status::not_found, "no such user: " + user);
  if (!config_.findTarget(target))
    return error(c.req, http::status::not_found, "no such target: " + target);
  const EpochMillis now = epochNowMs();
  bool granted = false, in_window = false;
  for (const GrantConfig& g : config_.grants) {
    if (g.user != user || g.target != target) continue;
    granted = true;
    if ((!g.not_before || now <= *g.not_before + ttl_s * 1000) && (!g.not_after || now < *g.not_after))
      in_window = true;
  }
  if (!granted)
    return error(c.req, http::status::conflict,
                 "the config has no grant for " + user + " on " + target + "; add a [[grants]] entry");
  if (!in_window)
    return error(c.req, http::status::conflict, "the grant for " + user + " on " + target +
                                                    " is outside its not_before/not_after window");
  auto issued = deps_.issue_code(user, target, ttl_s * 1000);
  if (!issued.ok()) {
    spdlog::error("access code issue failed user={} target={}: {}", user, target, issued.message());
    return error(c.req, http::status::service_unavailable, "could not issue a code: " + issued.message());
  }
  audit(c.who.user->name, "grant", user + "#" + target, "ttl_s=" + std::to_string(ttl_s));
  spdlog::info("access code issued via web for user={} target={} by={}", user, target,
               c.who.user->name);
  return reply(c.req, http::status::ok,
               {{"code", issued.value().code}, {"expires_at", formatRfc3339(issued.value().expires_at)}});
}

Reply ApiServer::Impl::auditLog(Ctx& c) {
  StrResponse err;
  auto limit = parseLimit(c, 200, err);
  if (!limit) return err;
  auto entries = deps_.store.audit(*limit);
  if (!entries.ok()) return error(c.req, http::status::service_unavailable, "audit log unavailable");
  json arr = json::array();
  for (const auto& a : entries.value())
    arr.push_back({{"at", formatRfc3339(a.at)},
                   {"actor", a.actor},
                   {"action", a.action},
                   {"object", a.object},
                   {"detail", a.detail}});
  return reply(c.req, http::status::ok, {{"entries", arr}});
}

std::variant<std::shared_ptr<Session>, Reply> ApiServer::Impl::authorizeLive(
    const Request& req, const std::string& remote, std::string& user) {
  std::string_view target(req.target().data(), req.target().size());
  auto path = percentDecode(target.substr(0, target.find('?')), false);
  if (!path) return Reply(error(req, http::status::bad_request, "malformed request target"));
  Ctx c{req, remote, *path, {}, splitPath(*path), {}};
  const auto& p = c.parts;
  if (!(p.size() == 4 && p[0] == "api" && p[1] == "sessions" && p[3] == "live"))
    return Reply(error(req, http::status::not_found, "no WebSocket here"));
  if (!originAllowed(req, tls()))
    return Reply(error(req, http::status::forbidden, "cross-origin WebSocket refused"));
  StrResponse err;
  auto who = authenticate(c, err);
  if (!who) return Reply(std::move(err));
  if (!hasAnyRole(*who->user, {Role::Security, Role::Admin}))
    return Reply(error(req, http::status::forbidden, "your role may not do this"));
  const std::string id(p[2]);
  if (!isValidId(id)) return Reply(error(req, http::status::not_found, "no such session"));
  auto session = deps_.sessions.find(id);
  if (!session) return Reply(error(req, http::status::not_found, "no live session with this id here"));
  user = who->user->name;
  audit(user, "live", id, "from " + remote);
  return session;
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
