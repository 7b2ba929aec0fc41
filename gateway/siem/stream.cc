#include "gateway/siem/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil::siem {
namespace {

std::string sslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "TLS error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

void setTimeouts(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A connected, blocking TCP socket within `timeout`, or why not.
Result<int> dial(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return Status::Error("cannot resolve " + host + ": " + gai_strerror(rc));
  std::string last = "no address";
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (s < 0) continue;
    int rc = ::connect(s, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(timeout.count()));
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) rc = 0;
      else {
        errno = rc == 0 ? ETIMEDOUT : err;
        rc = -1;
      }
    }
    if (rc == 0) {
      fd = s;
    } else {
      last = std::strerror(errno);
      ::close(s);
    }
  }
  freeaddrinfo(res);
  if (fd < 0) return Status::Error("cannot connect to " + host + ":" + service + ": " + last);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // an alert goes out now
  setTimeouts(fd, timeout);
  return fd;
}

bool isIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::create(const std::string& ca_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return Status::Error("cannot create a TLS context: " + sslError());
  std::shared_ptr<TlsContext> out(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
    return Status::Error("cannot load the CA file " + ca_file + ": " + sslError());
  return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<Stream>> Stream::connect(const std::string& host, std::uint16_t port,
                                                const std::shared_ptr<TlsContext>& tls,
                                                std::chrono::milliseconds timeout) {
  auto fd = dial(host, port, timeout);
  if (!fd) return fd.status();
  std::unique_ptr<Stream> s(new Stream(*fd, nullptr, tls));
  if (!tls) return s;
  s->ssl_ = SSL_new(tls->get());
  if (!s->ssl_) return Status::Error("cannot start TLS: " + sslError());
  SSL_set_fd(s->ssl_, s->fd_);
  // The receiver must prove it is the host we dialled, not just any holder
  // of a certificate from this CA.
  X509_VERIFY_PARAM* param = SSL_get0_param(s->ssl_);
  if (isIpLiteral(host)) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(s->ssl_, host.c_str());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  ERR_clear_error();
  if (SSL_connect(s->ssl_) != 1) {
    const long verify = SSL_get_verify_result(s->ssl_);
    if (verify != X509_V_OK)
      return Status::Error("TLS: " + host + ":" + std::to_string(port) +
                           " is not trusted: " + X509_verify_cert_error_string(verify));
    return Status::Error("TLS handshake with " + host + ":" + std::to_string(port) + " failed: " + sslError());
  }
  return s;
}

Stream::~Stream() {
  if (ssl_) {
    SSL_shutdown(ssl_);  // best effort close_notify; the socket closes anyway
    SSL_free(ssl_);
  }
  if (fd_ >= 0) ::close(fd_);
}

Status Stream::write(std::string_view bytes) {
  while (!bytes.empty()) {
    if (ssl_) {
      ERR_clear_error();
      size_t n = 0;
      if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) != 1)
        return Status::Error("TLS write failed: " + sslError());
      bytes.remove_prefix(n);
    } else {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::Error(std::string("write failed: ") + std::strerror(errno));
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  return Status::Ok();
}

Result<std::string> Stream::read(std::size_t max) {
  std::string buf(max, '\0');
  if (ssl_) {
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_, buf.data(), max, &n) != 1) {
      if (SSL_get_error(ssl_, 0) == SSL_ERROR_ZERO_RETURN) return std::string();
      return Status::Error("TLS read failed: " + sslError());
    }
    buf.resize(n);
    return buf;
  }
  ssize_t n;
  do n = ::recv(fd_, buf.data(), max, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return Status::Error(std::string("read failed: ") + std::strerror(errno));
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

bool Stream::peerClosed() {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLERR | POLLNVAL)) return true;
  char buf[4096];
  if (!ssl_) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  // TLS: the receiver may send records that are not data (TLS 1.3 session
  // tickets); read them without blocking and see what is left.
  const int flags = fcntl(fd_, F_GETFL);
  fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  ERR_clear_error();
  size_t n = 0;
  const int rc = SSL_read_ex(ssl_, buf, sizeof buf, &n);
  const int err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_, rc);
  fcntl(fd_, F_SETFL, flags);
  ERR_clear_error();
  return !(err == SSL_ERROR_NONE || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE);
}

}  // namespace vigil::siem
