#include "gateway/api/live_view.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

namespace vigil::gateway::api {
namespace {

void putU16(std::string& s, int v) {
  s.push_back(static_cast<char>(v & 0xFF));
  s.push_back(static_cast<char>((v >> 8) & 0xFF));
}
void putU32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
void putF64(std::string& s, double v) {
  char b[8];
  std::memcpy(b, &v, 8);  // x86/arm little endian hosts
  s.append(b, 8);
}

bool encodeJpeg(const Frame& fb, Rect r, int quality, std::vector<unsigned char>& out) {
  cv::Mat whole(fb.height(), fb.width(), CV_8UC4, const_cast<std::uint8_t*>(fb.data()),
                static_cast<std::size_t>(fb.stride()));
  cv::Mat bgr;
  cv::cvtColor(whole(cv::Rect(r.x, r.y, r.w, r.h)), bgr, cv::COLOR_BGRA2BGR);
  return cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, quality});
}

bool tileDiffers(const Frame& a, const Frame& b, Rect r) {
  const std::size_t n = static_cast<std::size_t>(r.w) * Frame::kBytesPerPixel;
  for (int y = r.y; y < r.y + r.h; ++y) {
    const std::size_t off = static_cast<std::size_t>(r.x) * Frame::kBytesPerPixel;
    if (std::memcmp(a.row(y) + off, b.row(y) + off, n) != 0) return true;
  }
  return false;
}

std::string dumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string TileEncoder::encode(const Frame& fb, const DirtyRegion& damage, Millis t) {
  if (fb.empty() || fb.width() > 0xFFFF || fb.height() > 0xFFFF) return {};
  std::vector<Rect> rects;
  bool full = sent_.width() != fb.width() || sent_.height() != fb.height();
  if (!full) {
    const int cols = (fb.width() + kTile - 1) / kTile, rows = (fb.height() + kTile - 1) / kTile;
    std::vector<char> dirty(static_cast<std::size_t>(cols) * rows, 0);
    DirtyRegion d = damage;
    d.clipTo(fb.width(), fb.height());
    for (const Rect& r : d.rects()) {
      for (int ty = r.y / kTile; ty <= (r.y + r.h - 1) / kTile; ++ty)
        for (int tx = r.x / kTile; tx <= (r.x + r.w - 1) / kTile; ++tx)
          dirty[static_cast<std::size_t>(ty) * cols + tx] = 1;
    }
    long long changed_area = 0;
    for (int ty = 0; ty < rows; ++ty) {
      int run_start = -1;
      for (int tx = 0; tx <= cols; ++tx) {
        bool is_changed = false;
        if (tx < cols && dirty[static_cast<std::size_t>(ty) * cols + tx]) {
          Rect tile = Rect{tx * kTile, ty * kTile, kTile, kTile}.intersect(fb.bounds());
          is_changed = tileDiffers(fb, sent_, tile);
        }
        if (is_changed && run_start < 0) run_start = tx;
        if (!is_changed && run_start >= 0) {
          Rect run = Rect{run_start * kTile, ty * kTile, (tx - run_start) * kTile, kTile}.intersect(
              fb.bounds());
          // Merge with the run just above when it spans the same columns.
          if (!rects.empty() && rects.back().x == run.x && rects.back().w == run.w &&
              rects.back().y + rects.back().h == run.y)
            rects.back().h += run.h;
          else
            rects.push_back(run);
          changed_area += run.area();
          run_start = -1;
        }
      }
    }
    if (rects.empty()) return {};
    // Past ~60% of the screen one JPEG is smaller than many.
    if (changed_area * 10 > fb.bounds().area() * 6) full = true;
  }
  if (full) {
    rects.assign(1, fb.bounds());
    sent_.resize(fb.width(), fb.height());
  }

  std::string msg;
  msg.push_back(1);
  msg.push_back(full ? 1 : 0);
  putU16(msg, fb.width());
  putU16(msg, fb.height());
  putU16(msg, static_cast<int>(rects.size()));
  putF64(msg, static_cast<double>(t));
  std::vector<unsigned char> jpeg;
  for (const Rect& r : rects) {
    if (!encodeJpeg(fb, r, quality_, jpeg)) return {};
    putU16(msg, r.x);
    putU16(msg, r.y);
    putU16(msg, r.w);
    putU16(msg, r.h);
    putU32(msg, static_cast<std::uint32_t>(jpeg.size()));
    msg.append(reinterpret_cast<const char*>(jpeg.data()), jpeg.size());
    sent_.copyRect(fb, r);
  }
  return msg;
}

std::string encodeThumbnail(const Frame& fb, int max_width, int quality) {
  if (fb.empty()) return {};
  cv::Mat whole(fb.height(), fb.width(), CV_8UC4, const_cast<std::uint8_t*>(fb.data()),
                static_cast<std::size_t>(fb.stride()));
  cv::Mat bgr, small;
  cv::cvtColor(whole, bgr, cv::COLOR_BGRA2BGR);
  if (fb.width() > max_width) {
    int h = std::max(1, fb.height() * max_width / fb.width());
    cv::resize(bgr, small, cv::Size(max_width, h), 0, 0, cv::INTER_AREA);
  } else {
    small = bgr;
  }
  std::vector<unsigned char> out;
  if (!cv::imencode(".jpg", small, out, {cv::IMWRITE_JPEG_QUALITY, quality})) return {};
  return std::string(out.begin(), out.end());
}

bool ThumbnailWatcher::latest(Frame& out) {
  std::lock_guard lock(mu_);
  DirtyRegion damage;
  Millis t;
  slot_.tryTake(frame_, damage, t);
  if (frame_.empty()) return false;
  out = frame_;
  return true;
}

LiveFeed::LiveFeed(std::shared_ptr<Session> session, SessionManager& sessions,
                   storage::MetadataStore& store, Out out, int fps, int quality)
    : session_(std::move(session)),
      sessions_(sessions),
      store_(store),
      out_(std::move(out)),
      fps_(std::clamp(fps, 1, 30)),
      encoder_(quality) {}

LiveFeed::~LiveFeed() { stop(); }

void LiveFeed::start() {
  // Under stop()'s lock: a stop() racing this start (the server stopping as
  // a viewer connects) would otherwise miss the subscription and leave the
  // session calling a feed that is gone.
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
  }
  session_->subscribe(this, this);
  subscribed_ = true;
  thread_ = std::thread([this] { run(); });
}

void LiveFeed::stop() {
  std::lock_guard stop_lock(stop_mu_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (subscribed_) {
    session_->unsubscribe(this, this);
    subscribed_ = false;
  }
  slot_.close();
}

void LiveFeed::onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) {
  slot_.publish(fb, changed, t);
}

void LiveFeed::onEvent(const Event& e) {
  {
    std::lock_guard lock(mu_);
    if (events_.size() >= 1000) events_.pop_front();  // a viewer that far behind gets the newest
    events_.push_back(e);
  }
  cv_.notify_all();
}

bool LiveFeed::sessionEnded(std::string& reason) {
  if (!session_->terminated() && sessions_.find(session_->id()) != nullptr) return false;
  // Give the session a moment to record why it ended.
  for (int i = 0; i < 30; ++i) {
    auto rec = store_.getSession(session_->id());
    if (rec.ok() && rec.value() && rec.value()->state == "ended") {
      reason = rec.value()->end_reason;
      return true;
    }
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stop_; })) break;
    }
  }
  reason = session_->terminated() ? "terminated" : "ended";
  return true;
}

void LiveFeed::sendEvent(const Event& e) {
  nlohmann::json j = {{"type", "event"},
                      {"t_ms", e.t_ms},
                      {"kind", std::string(toString(e.kind))},
                      {"text", e.text}};
  if (e.direction) j["direction"] = std::string(toString(*e.direction));
  out_.send({false, dumpJson(j)});
}

void LiveFeed::run() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::chrono::milliseconds(1000 / fps_);
  {
    nlohmann::json hello = {{"type", "hello"},
                            {"id", session_->id()},
                            {"user", session_->grant().user},
                            {"target", session_->grant().target ? session_->grant().target->name : ""},
                            {"t_ms", session_->now()}};
    out_.send({false, dumpJson(hello)});
  }
  Frame frame;
  DirtyRegion damage;
  Millis t = 0;
  auto next = Clock::now();
  int ticks = 0;
  while (true) {
    std::deque<Event> events;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next, [&] { return stop_; });
      if (stop_) return;
      events.swap(events_);
    }
    next += tick;
    if (next < Clock::now()) next = Clock::now() + tick;  // fell behind: no catch-up burst
    for (const Event& e : events) sendEvent(e);
    if (out_.backlog() <= 2 && slot_.tryTake(frame, damage, t)) {
      std::string msg = encoder_.encode(frame, damage, t);
      if (!msg.empty()) out_.send({true, std::move(msg)});
    }
    if (++ticks % std::max(1, fps_ / 4) == 0) {
      std::string reason;
      if (sessionEnded(reason)) {
        // Last picture and events first, then the end.
        if (slot_.tryTake(frame, damage, t)) {
          std::string msg = encoder_.encode(frame, damage, t);
          if (!msg.empty()) out_.send({true, std::move(msg)});
        }
        std::deque<Event> rest;
        {
          std::lock_guard lock(mu_);
          rest.swap(events_);
        }
        for (const Event& e : rest) sendEvent(e);
        out_.send({false, dumpJson({{"type", "ended"}, {"reason", reason}})});
        out_.close();
        return;
      }
    }
  }
}

}  // namespace vigil::gateway::api
