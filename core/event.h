// Session events as CONTRACT.md defines them: {t_ms, kind, text}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// Milliseconds since the session's start, on the same clock as its video.
using Millis = std::int64_t;
// Milliseconds since the Unix epoch (wall clock), for started_at and the like.
using EpochMillis = std::int64_t;

enum class EventKind { Key, Title, Clipboard, Alert, Lifecycle };

std::string_view toString(EventKind k);
std::optional<EventKind> parseEventKind(std::string_view s);

// Which way clipboard text crossed the gateway; in JSON "client_to_target" or
// "target_to_client" (CONTRACT.md).
enum class Direction { ClientToServer, ServerToClient };

std::string_view toString(Direction d);
std::optional<Direction> parseDirection(std::string_view s);

struct Event {
  Millis t_ms = 0;
  EventKind kind = EventKind::Lifecycle;
  std::string text;
  std::string window;  // `key` lines: title of the window in front, if known
  std::optional<Direction> direction;  // `clipboard` events only
  bool operator==(const Event&) const = default;
};

// Receives finished events. Implementations must not block (they queue).
// Thread-safe implementations say so.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void onEvent(const Event& e) = 0;
};

}  // namespace vigil
