// Frame: a session's framebuffer, 32 bits per pixel in memory order B,G,R,X
// (FFmpeg's AV_PIX_FMT_BGR0, FreeRDP's PIXEL_FORMAT_BGRX32, VNC 32/24 with
// red shift 16, blue shift 0). One format on every path means no conversions
// between the legs and the observers.
#pragma once

#include <cstdint>
#include <vector>

namespace vigil {

struct Rect {
  int x = 0, y = 0, w = 0, h = 0;

  bool empty() const { return w <= 0 || h <= 0; }
  long long area() const { return empty() ? 0 : 1LL * w * h; }
  Rect intersect(const Rect& o) const;
  Rect unite(const Rect& o) const;  // bounding box
  bool operator==(const Rect&) const = default;
};

// The changed part of a frame. Keeps a few rectangles; past kMaxRects it folds
// them into their bounding box, so merging damage stays O(1) per update.
class DirtyRegion {
 public:
  static constexpr std::size_t kMaxRects = 32;

  DirtyRegion() = default;
  explicit DirtyRegion(Rect r) { add(r); }

  void add(Rect r);
  void add(const DirtyRegion& other);
  void clipTo(int width, int height);
  void clear() { rects_.clear(); }
  bool empty() const { return rects_.empty(); }
  Rect bounds() const;
  long long area() const;  // upper bound: overlapping rects count twice
  const std::vector<Rect>& rects() const { return rects_; }

 private:
  std::vector<Rect> rects_;
};

// Owns its pixels. Not thread-safe: the Session's frame is written by the
// target leg's thread only; observers read it only inside onFrame().
class Frame {
 public:
  static constexpr int kBytesPerPixel = 4;

  Frame() = default;
  Frame(int width, int height) { resize(width, height); }

  // Reallocates (contents become black) when the size changes.
  void resize(int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }
  int stride() const { return width_ * kBytesPerPixel; }  // bytes per row
  bool empty() const { return width_ <= 0 || height_ <= 0; }
  Rect bounds() const { return {0, 0, width_, height_}; }

  std::uint8_t* data() { return pixels_.data(); }
  const std::uint8_t* data() const { return pixels_.data(); }
  std::uint8_t* row(int y) { return pixels_.data() + static_cast<std::size_t>(y) * stride(); }
  const std::uint8_t* row(int y) const {
    return pixels_.data() + static_cast<std::size_t>(y) * stride();
  }
  std::size_t byteSize() const { return pixels_.size(); }

  // 0x00RRGGBB of one pixel.
  std::uint32_t pixel(int x, int y) const;
  void setPixel(int x, int y, std::uint32_t rgb);
  void fill(Rect r, std::uint32_t rgb);
  // Copies `r` of `src` (same size) into this frame.
  void copyRect(const Frame& src, Rect r);

 private:
  int width_ = 0, height_ = 0;
  std::vector<std::uint8_t> pixels_;
};

}  // namespace vigil
