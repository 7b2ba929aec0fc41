#include "gateway/vnc/vnc_log.h"

#include <rfb/rfb.h>
#include <rfb/rfbclient.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace vigil::gateway::vnc {
namespace {

thread_local std::string t_last_client_error;

std::string formatMessage(const char* format, va_list args) {
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof buf, format, args);
  std::string s(buf, n < 0 ? 0 : std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void serverLog(const char* format, ...) {
  if (!spdlog::should_log(spdlog::level::debug)) return;
  va_list args;
  va_start(args, format);
  const std::string s = formatMessage(format, args);
  va_end(args);
  spdlog::debug("libvncserver: {}", s);
}

// libvncclient logs most failures through rfbClientLog too, so both keep the
// last line for the "target disconnected: <why>" event.
void clientLogKeep(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string s = formatMessage(format, args);
  va_end(args);
  spdlog::debug("libvncclient: {}", s);
  t_last_client_error = std::move(s);
}

}  // namespace

void routeVncLogsToSpdlog() {
  static std::once_flag once;
  std::call_once(once, [] {
    rfbLog = serverLog;
    rfbErr = serverLog;
    rfbClientLog = clientLogKeep;
    rfbClientErr = clientLogKeep;
    std::signal(SIGPIPE, SIG_IGN);
  });
}

std::string lastClientErrorOnThisThread() { return t_last_client_error; }
void clearClientErrorOnThisThread() { t_last_client_error.clear(); }

}  // namespace vigil::gateway::vnc
