// A client connection to a receiver: TCP, or TLS (OpenSSL) verified against
// a CA file and the receiver's host name. One thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

struct ssl_ctx_st;
struct ssl_st;

namespace vigil::siem {

// The trust of TLS connections: peers must present a certificate chaining to
// ca_file and naming the host we dialled. Thread-safe once created.
class TlsContext {
 public:
  static Result<std::shared_ptr<TlsContext>> create(const std::string& ca_file);
  ~TlsContext();
  ssl_ctx_st* get() const { return ctx_; }

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

class Stream {
 public:
  // Connects (and handshakes) within `timeout`; reads and writes then wait at
  // most `timeout` each. `tls` null: plain TCP.
  static Result<std::unique_ptr<Stream>> connect(const std::string& host, std::uint16_t port,
                                                 const std::shared_ptr<TlsContext>& tls,
                                                 std::chrono::milliseconds timeout);
  ~Stream();
  Status write(std::string_view bytes);
  // Up to `max` bytes; empty at end of stream.
  Result<std::string> read(std::size_t max);
  // Without waiting: has the receiver closed (or reset) the connection? A
  // syslog receiver never sends, so anything readable but data means gone.
  bool peerClosed();

 private:
  Stream(int fd, ssl_st* ssl, std::shared_ptr<TlsContext> tls) : fd_(fd), ssl_(ssl), tls_(std::move(tls)) {}
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  int fd_;       // owned
  ssl_st* ssl_;  // owned; null for TCP
  std::shared_ptr<TlsContext> tls_;
};

}  // namespace vigil::siem
