// SiemEvent -> message text: CEF or JSON bodies, and the RFC 5424 syslog
// line around them. Pure functions of their input; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/config.h"
#include "gateway/siem/siem_event.h"

namespace vigil::siem {

// Longest text carried in one message; longer text is cut (at a UTF-8
// boundary) and ends with "...". Clipboard events are 4 KiB at most.
inline constexpr std::size_t kMaxText = 8192;

class Formatter {
 public:
  virtual ~Formatter() = default;
  virtual std::string format(const SiemEvent& e) const = 0;
};

// CEF:0|Vigil|Vigil|VERSION|SIGNATURE|NAME|SEVERITY|rt= suser= dhost= src= ...
class CefFormatter final : public Formatter {
 public:
  explicit CefFormatter(std::string version) : version_(std::move(version)) {}
  std::string format(const SiemEvent& e) const override;

 private:
  std::string version_;
};

// One JSON object, OCSF-style names (docs/siem.md).
class JsonFormatter final : public Formatter {
 public:
  explicit JsonFormatter(std::string version) : version_(std::move(version)) {}
  std::string format(const SiemEvent& e) const override;

 private:
  std::string version_;
};

std::unique_ptr<Formatter> makeFormatter(SiemFormat f, const std::string& version);

// CEF escaping: header fields escape \ and | (newlines become spaces);
// extension values escape \ and = and write newlines as \n and \r.
std::string cefHeaderField(std::string_view s);
std::string cefValue(std::string_view s);
// CEF severity 0-10 and the RFC 5424 severity 0-7 of an event.
int cefSeverity(const SiemEvent& e);
int syslogSeverity(const SiemEvent& e);
// "2026-12-07T16:08:21.123Z".
std::string rfc3339Millis(EpochMillis t);
// `s` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string_view cutUtf8(std::string_view s, std::size_t max);

// "<PRI>1 TIMESTAMP HOSTNAME vigil PROCID KIND - BODY" (RFC 5424, no
// structured data; header fields limited to printable ASCII).
class SyslogHeader {
 public:
  SyslogHeader(int facility, std::string_view hostname, int pid);
  std::string message(const SiemEvent& e, std::string_view body) const;

 private:
  int facility_;
  std::string hostname_;
  std::string procid_;
};

}  // namespace vigil::siem
