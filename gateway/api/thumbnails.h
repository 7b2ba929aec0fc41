// The Live page's thumbnails: one ThumbnailWatcher per watched live session,
// kept while someone looks (a minute) and dropped when the session ends.
// Never waits for a picture: a session that has not drawn yet answers
// "nothing yet" at once, so a worker is never held. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/frame.h"
#include "gateway/api/live_view.h"
#include "gateway/session_manager.h"

namespace vigil::gateway::api {

class Thumbnails {
 public:
  explicit Thumbnails(SessionManager& sessions) : sessions_(sessions) {}
  ~Thumbnails() { clear(); }
  enum class Status { Ok, NotLive, NoPictureYet };
  // The latest screen of live session `id`, JPEG, at most `max_width` wide.
  Status latest(const std::string& id, int max_width, int quality, std::string& jpeg);
  void clear();  // unsubscribes from every session

 private:
  struct Watch {
    std::shared_ptr<Session> session;
    std::unique_ptr<ThumbnailWatcher> watcher;
    std::chrono::steady_clock::time_point last_used;
  };
  SessionManager& sessions_;
  std::mutex mu_;
  std::map<std::string, Watch> watches_;
};

}  // namespace vigil::gateway::api
