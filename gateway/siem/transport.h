// Where messages go: a syslog receiver (UDP, TCP, TLS) or a webhook (HTTP
// POST). Used by one Forwarder thread at a time; not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/config.h"
#include "core/status.h"

namespace vigil::siem {

class Stream;
class TlsContext;

class Transport {
 public:
  virtual ~Transport() = default;
  // Connects if not connected. An error: try again later (the caller backs off).
  virtual Status open() = 0;
  // Sends every message, in order; on an error the connection is closed and
  // none is known to have arrived (the caller sends them again: at least once).
  virtual Status send(std::span<const std::string> messages) = 0;
  // False if the receiver has gone since the last send (checked without
  // waiting), so the next messages are kept rather than written into a dead
  // connection.
  virtual bool healthy() = 0;
  virtual void close() = 0;
  virtual std::string describe() const = 0;
  // Messages the receiver refused for good since the last call (it would
  // refuse them again): send() counted them done and they are not resent.
  // `why` gets the last refusal ("answered 400").
  virtual std::uint64_t takeRefused(std::string& why) {
    (void)why;
    return 0;
  }
};

// RFC 5424 messages, octet-counted, over TCP or (tls non-null) TLS.
class SyslogStreamTransport final : public Transport {
 public:
  SyslogStreamTransport(HostPort addr, std::shared_ptr<TlsContext> tls,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~SyslogStreamTransport() override;
  Status open() override;
  Status send(std::span<const std::string> messages) override;
  bool healthy() override;
  void close() override;
  std::string describe() const override;

 private:
  HostPort addr_;
  std::shared_ptr<TlsContext> tls_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Stream> stream_;
  std::string buf_;  // the framed batch, reused
};

// One datagram per message; delivery is not confirmed (UDP).
class SyslogUdpTransport final : public Transport {
 public:
  explicit SyslogUdpTransport(HostPort addr) : addr_(std::move(addr)) {}
  ~SyslogUdpTransport() override;
  Status open() override;
  Status send(std::span<const std::string> messages) override;
  bool healthy() override { return fd_ >= 0; }
  void close() override;
  std::string describe() const override;

 private:
  HostPort addr_;
  int fd_ = -1;  // owned
};

// Each message is a JSON body POSTed to the URL; any 2xx answer is delivery.
// 400, 413, 415 and 422 refuse that message for good: it is dropped and
// counted (takeRefused), so it does not hold back every message after it.
// Any other answer (401, 404, 429, 5xx...) is retried: a fixed receiver or
// configuration then gets what waited in the spool.
class WebhookTransport final : public Transport {
 public:
  // `url`: http://HOST[:PORT]/PATH or https://... (tls non-null).
  static Result<std::unique_ptr<WebhookTransport>> create(const std::string& url,
                                                          std::shared_ptr<TlsContext> tls,
                                                          std::chrono::milliseconds timeout =
                                                              std::chrono::seconds(5));
  Status open() override { return Status::Ok(); }  // a connection per POST
  Status send(std::span<const std::string> messages) override;
  bool healthy() override { return true; }
  void close() override {}
  // scheme://host:port only: a hook's path often holds its token.
  std::string describe() const override { return origin_; }
  std::uint64_t takeRefused(std::string& why) override;

 private:
  WebhookTransport() = default;
  Status post(const std::string& body);
  std::uint64_t refused_ = 0;
  std::string last_refusal_;
  std::string origin_, host_, path_;  // path_ is secret (never logged)
  std::uint16_t port_ = 0;
  std::shared_ptr<TlsContext> tls_;
  std::chrono::milliseconds timeout_{5000};
};

}  // namespace vigil::siem
