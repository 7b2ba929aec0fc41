// A synthetic text-heavy screen for codec tests: a terminal of glyph-like
// 8x16 characters (thin high-contrast strokes, like a real console font),
// a prompt, command output bursts, scrolling and a status-bar clock.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "core/frame.h"

namespace vigil::codecs::testing {

class FakeTerminal {
 public:
  static constexpr int kCellW = 8, kCellH = 16, kBarH = 24;
  static constexpr std::uint32_t kBg = 0x101418, kFg = 0xd0d0d0, kPrompt = 0x4ec94e,
                                 kBar = 0x30343c;

  FakeTerminal(int width, int height, unsigned seed = 1)
      : frame_(width, height), cols_(width / kCellW), rows_((height - kBarH) / kCellH), rng_(seed) {
    frame_.fill(frame_.bounds(), kBg);
    frame_.fill({0, 0, width, kBarH}, kBar);
  }

  Frame& frame() { return frame_; }
  const Frame& frame() const { return frame_; }

  // Draws one character at the cursor; returns the damage.
  DirtyRegion type(char c, std::uint32_t color = kFg) {
    DirtyRegion d;
    if (col_ >= cols_) d.add(newline());
    const Rect cell = cellRect(col_, row_);
    frame_.fill(cell, kBg);
    drawGlyph(c, cell, color);
    d.add(cell);
    ++col_;
    return d;
  }
  DirtyRegion typeString(const std::string& s, std::uint32_t color = kFg) {
    DirtyRegion d;
    for (char c : s) d.add(type(c, color));
    return d;
  }
  DirtyRegion prompt() { return typeString("root@db01:~# ", kPrompt); }
  // Moves to the next line, scrolling the whole text area when full.
  DirtyRegion newline() {
    col_ = 0;
    if (row_ + 1 < rows_) {
      ++row_;
      return {};
    }
    const int top = kBarH, h = rows_ * kCellH;
    for (int y = top; y < top + h - kCellH; ++y)
      std::copy(frame_.row(y + kCellH), frame_.row(y + kCellH) + frame_.stride(), frame_.row(y));
    fillFast({0, top + h - kCellH, frame_.width(), kCellH}, kBg);
    return DirtyRegion(Rect{0, top, frame_.width(), h});
  }
  // A burst of command output: `lines` lines of random words.
  DirtyRegion output(int lines) {
    DirtyRegion d;
    for (int i = 0; i < lines; ++i) {
      d.add(newline());
      const int n = std::uniform_int_distribution<int>(10, cols_ - 2)(rng_);
      for (int k = 0; k < n; ++k) d.add(type(randomChar()));
    }
    d.add(newline());
    return d;
  }
  // The status bar clock (changes once a second on a real desktop).
  DirtyRegion clock(long long seconds) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld", (seconds / 3600) % 24, (seconds / 60) % 60,
                  seconds % 60);
    const Rect r{frame_.width() - 90, 4, 80, kCellH};
    frame_.fill(r, kBar);
    for (int i = 0; buf[i]; ++i) drawGlyph(buf[i], {r.x + i * kCellW, r.y, kCellW, kCellH}, kFg);
    return DirtyRegion(r);
  }
  char randomChar() {
    static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_./: ABCDEFGHIJ";
    return kChars[std::uniform_int_distribution<int>(0, sizeof kChars - 2)(rng_)];
  }
  std::mt19937& rng() { return rng_; }

 private:
  Rect cellRect(int col, int row) const { return {col * kCellW, kBarH + row * kCellH, kCellW, kCellH}; }
  void fillFast(Rect r, std::uint32_t rgb) {
    for (int x = r.x; x < r.x + r.w; ++x) frame_.setPixel(x, r.y, rgb);
    for (int y = r.y + 1; y < r.y + r.h; ++y)
      std::copy(frame_.row(r.y) + r.x * 4, frame_.row(r.y) + (r.x + r.w) * 4, frame_.row(y) + r.x * 4);
  }
  // A glyph as 2-4 strokes of a 16-segment-like layout: 1 px lines, so it has
  // the edges and density of console text.
  void drawGlyph(char c, Rect cell, std::uint32_t color) {
    if (c == ' ') return;
    unsigned h = static_cast<unsigned char>(c) * 2654435761u;
    const int x0 = cell.x + 1, x1 = cell.x + 6, xm = cell.x + 3;
    const int y0 = cell.y + 3, y1 = cell.y + 13, ym = cell.y + 8;
    const int segs[][4] = {{x0, y0, x1, y0}, {x0, ym, x1, ym}, {x0, y1, x1, y1}, {x0, y0, x0, ym},
                           {x0, ym, x0, y1}, {x1, y0, x1, ym}, {x1, ym, x1, y1}, {xm, y0, xm, y1},
                           {x0, y0, x1, y1}, {x1, y0, x0, y1}, {x0, ym, xm, y1}, {xm, y0, x1, ym}};
    int drawn = 0;
    for (int i = 0; i < 12 && drawn < 4; ++i) {
      if (((h >> (i * 2 + 3)) & 3) != 0 && !(drawn < 2 && i > 9)) continue;
      line(segs[i][0], segs[i][1], segs[i][2], segs[i][3], color);
      ++drawn;
    }
    if (drawn < 2) line(x0, y1, x1, y1, color), line(xm, y0, xm, y1, color);
  }
  void line(int xa, int ya, int xb, int yb, std::uint32_t color) {
    const int n = std::max(std::abs(xb - xa), std::abs(yb - ya));
    for (int i = 0; i <= n; ++i)
      frame_.setPixel(xa + (xb - xa) * i / std::max(n, 1), ya + (yb - ya) * i / std::max(n, 1), color);
  }

  Frame frame_;
  int cols_, rows_;
  int col_ = 0, row_ = 0;
  std::mt19937 rng_;
};

}  // namespace vigil::codecs::testing
