#include "core/frame.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace vigil {

Rect Rect::intersect(const Rect& o) const {
  const int x0 = std::max(x, o.x), y0 = std::max(y, o.y);
  const int x1 = std::min(x + w, o.x + o.w), y1 = std::min(y + h, o.y + o.h);
  if (x1 <= x0 || y1 <= y0) return {};
  return {x0, y0, x1 - x0, y1 - y0};
}

Rect Rect::unite(const Rect& o) const {
  if (empty()) return o;
  if (o.empty()) return *this;
  const int x0 = std::min(x, o.x), y0 = std::min(y, o.y);
  const int x1 = std::max(x + w, o.x + o.w), y1 = std::max(y + h, o.y + o.h);
  return {x0, y0, x1 - x0, y1 - y0};
}

void DirtyRegion::add(Rect r) {
  if (r.empty()) return;
  for (Rect& have : rects_) {
    if (have.intersect(r) == r) return;  // already covered
    if (r.intersect(have) == have) { have = r; return; }
  }
  if (rects_.size() >= kMaxRects) {
    Rect all = r;
    for (const Rect& have : rects_) all = all.unite(have);
    rects_.assign(1, all);
    return;
  }
  rects_.push_back(r);
}

void DirtyRegion::add(const DirtyRegion& other) {
  for (const Rect& r : other.rects_) add(r);
}

void DirtyRegion::clipTo(int width, int height) {
  const Rect screen{0, 0, width, height};
  std::vector<Rect> kept;
  for (const Rect& r : rects_) {
    Rect c = r.intersect(screen);
    if (!c.empty()) kept.push_back(c);
  }
  rects_ = std::move(kept);
}

Rect DirtyRegion::bounds() const {
  Rect all;
  for (const Rect& r : rects_) all = all.unite(r);
  return all;
}

long long DirtyRegion::area() const {
  long long a = 0;
  for (const Rect& r : rects_) a += r.area();
  return a;
}

void Frame::resize(int width, int height) {
  assert(width >= 0 && height >= 0);
  if (width == width_ && height == height_) return;
  width_ = width;
  height_ = height;
  pixels_.assign(static_cast<std::size_t>(width) * height * kBytesPerPixel, 0);
}

std::uint32_t Frame::pixel(int x, int y) const {
  const std::uint8_t* p = row(y) + x * kBytesPerPixel;
  return (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
}

void Frame::setPixel(int x, int y, std::uint32_t rgb) {
  std::uint8_t* p = row(y) + x * kBytesPerPixel;
  p[0] = rgb & 0xff;
  p[1] = (rgb >> 8) & 0xff;
  p[2] = (rgb >> 16) & 0xff;
  p[3] = 0;
}

void Frame::fill(Rect r, std::uint32_t rgb) {
  r = r.intersect(bounds());
  for (int y = r.y; y < r.y + r.h; ++y)
    for (int x = r.x; x < r.x + r.w; ++x) setPixel(x, y, rgb);
}

void Frame::copyRect(const Frame& src, Rect r) {
  assert(src.width_ == width_ && src.height_ == height_);
  r = r.intersect(bounds());
  for (int y = r.y; y < r.y + r.h; ++y)
    std::memcpy(row(y) + r.x * kBytesPerPixel, src.row(y) + r.x * kBytesPerPixel,
                static_cast<std::size_t>(r.w) * kBytesPerPixel);
}

}  // namespace vigil
