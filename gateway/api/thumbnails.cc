#include "gateway/api/thumbnails.h"

namespace vigil::gateway::api {

Thumbnails::Status Thumbnails::latest(const std::string& id, int max_width, int quality,
                                      std::string& jpeg) {
  const auto now = std::chrono::steady_clock::now();
  Frame frame;
  {
    std::lock_guard lock(mu_);
    // Let go of sessions nobody has looked at for a minute, or that ended.
    for (auto it = watches_.begin(); it != watches_.end();) {
      if (now - it->second.last_used > std::chrono::seconds(60) ||
          sessions_.find(it->first) == nullptr) {
        it->second.session->unsubscribe(it->second.watcher.get(), nullptr);
        it = watches_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = watches_.find(id);
    if (it == watches_.end()) {
      auto session = sessions_.find(id);
      if (!session) return Status::NotLive;
      Watch w{session, std::make_unique<ThumbnailWatcher>(), now};
      session->subscribe(w.watcher.get(), nullptr);
      it = watches_.emplace(id, std::move(w)).first;
    }
    it->second.last_used = now;
    // A copy, so the encoding below runs outside the lock.
    if (!it->second.watcher->latest(frame)) return Status::NoPictureYet;
  }
  jpeg = encodeThumbnail(frame, max_width, quality);
  return Status::Ok;
}

void Thumbnails::clear() {
  std::lock_guard lock(mu_);
  for (auto& [id, w] : watches_) w.session->unsubscribe(w.watcher.get(), nullptr);
  watches_.clear();
}

}  // namespace vigil::gateway::api
