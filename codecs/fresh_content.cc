#include "codecs/fresh_content.h"

#include <algorithm>
#include <cstring>

namespace vigil::codecs {

namespace {

std::uint64_t hashSegment(const std::uint8_t* p, int n) {
  std::uint64_t h = 0x9e3779b97f4a7c15ull ^ static_cast<std::uint64_t>(n);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = (h ^ v) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  for (; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

bool flat(const std::uint8_t* p, int n) {
  return std::all_of(p + 1, p + n, [v = p[0]](std::uint8_t x) { return x == v; });
}

int stripStart(int strip, int width) { return strip * width / FreshContent::kStrips; }

}  // namespace

void FreshContent::remember(Plane p, int y0, int y1) {
  y0_ = std::clamp(y0, 0, p.height);
  y1_ = std::clamp(y1, y0_, p.height);
  width_ = p.width;
  const int rows = y1_ - y0_;
  before_.resize(static_cast<std::size_t>(rows) * kStrips);
  for (int s = 0; s < kStrips; ++s) {
    const int x0 = stripStart(s, p.width), n = stripStart(s + 1, p.width) - x0;
    std::uint64_t* out = before_.data() + static_cast<std::size_t>(s) * rows;
    for (int y = y0_; y < y1_; ++y) out[y - y0_] = hashSegment(p.data + static_cast<std::ptrdiff_t>(y) * p.stride + x0, n);
  }
  sorted_ = before_;
  for (int s = 0; s < kStrips; ++s)
    std::sort(sorted_.begin() + static_cast<std::ptrdiff_t>(s) * rows,
              sorted_.begin() + static_cast<std::ptrdiff_t>(s + 1) * rows);
}

double FreshContent::share(Plane p) const {
  if (p.width != width_ || y1_ <= y0_ || p.height < y1_) return 0;
  const int rows = y1_ - y0_;
  long long content = 0, fresh = 0;
  for (int s = 0; s < kStrips; ++s) {
    const int x0 = stripStart(s, p.width), n = stripStart(s + 1, p.width) - x0;
    if (n <= 0) continue;
    const std::uint64_t* was = before_.data() + static_cast<std::size_t>(s) * rows;
    const auto seen_begin = sorted_.begin() + static_cast<std::ptrdiff_t>(s) * rows;
    const auto seen_end = seen_begin + rows;
    for (int y = 0; y < p.height; ++y) {
      const std::uint8_t* seg = p.data + static_cast<std::ptrdiff_t>(y) * p.stride + x0;
      if (flat(seg, n)) continue;
      ++content;
      if (y < y0_ || y >= y1_) continue;
      const std::uint64_t h = hashSegment(seg, n);
      if (h != was[y - y0_] && !std::binary_search(seen_begin, seen_end, h)) ++fresh;
    }
  }
  return content > 0 ? static_cast<double>(fresh) / static_cast<double>(content) : 0;
}

}  // namespace vigil::codecs
