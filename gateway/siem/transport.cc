#include "gateway/siem/transport.h"

#include <utility>

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gateway/siem/framing.h"
#include "gateway/siem/stream.h"

namespace vigil::siem {

SyslogStreamTransport::SyslogStreamTransport(HostPort addr, std::shared_ptr<TlsContext> tls,
                                             std::chrono::milliseconds timeout)
    : addr_(std::move(addr)), tls_(std::move(tls)), timeout_(timeout) {}

SyslogStreamTransport::~SyslogStreamTransport() = default;

Status SyslogStreamTransport::open() {
  if (stream_) return Status::Ok();
  auto s = Stream::connect(addr_.host, addr_.port, tls_, timeout_);
  if (!s) return s.status();
  stream_ = std::move(s.value());
  return Status::Ok();
}

Status SyslogStreamTransport::send(std::span<const std::string> messages) {
  if (Status st = open(); !st.ok()) return st;
  buf_.clear();
  for (const std::string& m : messages) {
    buf_ += std::to_string(m.size());
    buf_ += ' ';
    buf_ += m;
  }
  Status st = stream_->write(buf_);
  if (!st.ok()) stream_.reset();
  return st;
}

bool SyslogStreamTransport::healthy() {
  if (stream_ && stream_->peerClosed()) stream_.reset();
  return stream_ != nullptr;
}

void SyslogStreamTransport::close() { stream_.reset(); }

std::string SyslogStreamTransport::describe() const {
  return std::string(tls_ ? "tls://" : "tcp://") + addr_.str();
}

SyslogUdpTransport::~SyslogUdpTransport() { close(); }

Status SyslogUdpTransport::open() {
  if (fd_ >= 0) return Status::Ok();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(addr_.port);
  if (int rc = getaddrinfo(addr_.host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Status::Error("cannot resolve " + addr_.host + ": " + gai_strerror(rc));
  std::string err = "no address";
  for (addrinfo* a = res; a && fd_ < 0; a = a->ai_next) {
    const int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (s < 0) continue;
    if (::connect(s, a->ai_addr, a->ai_addrlen) == 0) fd_ = s;
    else {
      err = std::strerror(errno);
      ::close(s);
    }
  }
  freeaddrinfo(res);
  if (fd_ < 0) return Status::Error("cannot reach udp://" + addr_.str() + ": " + err);
  return Status::Ok();
}

Status SyslogUdpTransport::send(std::span<const std::string> messages) {
  if (Status st = open(); !st.ok()) return st;
  for (const std::string& m : messages) {
    const std::string_view d = datagram(m);
    if (::send(fd_, d.data(), d.size(), MSG_NOSIGNAL) < 0) {
      const std::string why = std::strerror(errno);
      close();
      return Status::Error("udp://" + addr_.str() + ": " + why);
    }
  }
  return Status::Ok();
}

void SyslogUdpTransport::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string SyslogUdpTransport::describe() const { return "udp://" + addr_.str(); }

Result<std::unique_ptr<WebhookTransport>> WebhookTransport::create(const std::string& url,
                                                                   std::shared_ptr<TlsContext> tls,
                                                                   std::chrono::milliseconds timeout) {
  std::unique_ptr<WebhookTransport> w(new WebhookTransport());
  w->tls_ = std::move(tls);
  w->timeout_ = timeout;
  const bool https = url.rfind("https://", 0) == 0;
  if (!https && url.rfind("http://", 0) != 0) return Status::Error("webhook: not an http:// or https:// URL");
  if (https && !w->tls_) return Status::Error("webhook: https needs a CA file");
  if (!https) w->tls_.reset();
  const std::string rest = url.substr(https ? 8 : 7);
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  w->path_ = slash == std::string::npos ? "/" : rest.substr(slash);
  try {
    HostPort hp = HostPort::parse(authority.find(':') == std::string::npos || authority.back() == ']'
                                      ? authority + (https ? ":443" : ":80")
                                      : authority,
                                  "webhook");
    w->host_ = hp.host;
    w->port_ = hp.port;
  } catch (const ConfigError&) {
    return Status::Error("webhook: the URL's host and port are not valid");
  }
  w->origin_ = (https ? "https://" : "http://") + authority;
  return w;
}

Status WebhookTransport::send(std::span<const std::string> messages) {
  for (const std::string& m : messages)
    if (Status st = post(m); !st.ok()) return st;
  return Status::Ok();
}

Status WebhookTransport::post(const std::string& body) {
  auto s = Stream::connect(host_, port_, tls_, timeout_);
  if (!s) return s.status();
  const std::string host = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  std::string req = "POST " + path_ + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port_) +
                    "\r\nUser-Agent: vigil\r\nContent-Type: application/json\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  if (Status st = (*s)->write(req); !st.ok()) return st;
  // The status line is all we need; bounded read.
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 1024) {
    auto chunk = (*s)->read(1024);
    if (!chunk) return chunk.status();
    if (chunk->empty()) break;
    head += *chunk;
  }
  // "HTTP/1.1 204 No Content"
  const auto sp = head.find(' ');
  if (head.rfind("HTTP/1.", 0) != 0 || sp == std::string::npos || head.size() < sp + 4)
    return Status::Error("webhook " + origin_ + ": no HTTP answer");
  const std::string code = head.substr(sp + 1, 3);
  if (code == "400" || code == "413" || code == "415" || code == "422") {
    ++refused_;
    last_refusal_ = "answered " + code;
    return Status::Ok();
  }
  if (code[0] != '2') return Status::Error("webhook " + origin_ + " answered " + code);
  return Status::Ok();
}

std::uint64_t WebhookTransport::takeRefused(std::string& why) {
  why = last_refusal_;
  return std::exchange(refused_, 0);
}

}  // namespace vigil::siem
