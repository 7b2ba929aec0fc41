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

}  // namespace vigil
