#include "core/event.h"

namespace vigil {

std::string_view toString(EventKind k) {
  switch (k) {
    case EventKind::Key: return "key";
    case EventKind::Title: return "title";
    case EventKind::Clipboard: return "clipboard";
    case EventKind::Alert: return "alert";
    case EventKind::Lifecycle: return "lifecycle";
  }
  return "lifecycle";
}

std::optional<EventKind> parseEventKind(std::string_view s) {
  for (EventKind k : {EventKind::Key, EventKind::Title, EventKind::Clipboard, EventKind::Alert,
                      EventKind::Lifecycle})
    if (toString(k) == s) return k;
  return std::nullopt;
}

std::string_view toString(Direction d) {
  return d == Direction::ClientToServer ? "client_to_target" : "target_to_client";
}

std::optional<Direction> parseDirection(std::string_view s) {
  for (Direction d : {Direction::ClientToServer, Direction::ServerToClient})
    if (toString(d) == s) return d;
  return std::nullopt;
}

}  // namespace vigil
