#include "ocr/title_finder.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

namespace vigil::ocr {
namespace {

// A colour as B,G,R ints.
struct Bgr {
  int b = 0, g = 0, r = 0;
};

int dist(const Bgr& a, const Bgr& c) {
  return std::max({std::abs(a.b - c.b), std::abs(a.g - c.g), std::abs(a.r - c.r)});
}
int dist(const std::uint8_t* p, const Bgr& c) {
  return std::max({std::abs(p[0] - c.b), std::abs(p[1] - c.g), std::abs(p[2] - c.r)});
}
double luma(const Bgr& c) { return 0.299 * c.r + 0.587 * c.g + 0.114 * c.b; }
int saturation(const Bgr& c) {
  return std::max({c.b, c.g, c.r}) - std::min({c.b, c.g, c.r});
}

// The most frequent colour of a row segment: the bar's background even where
// anti-aliased text covers most of the row (text has many shades, the
// background one). Most rows have a colour on over half their pixels: found
// in two linear passes (majority vote, then a count), else by sorting.
Bgr rowBackground(const Frame& fb, int y, int x0, int x1) {
  const std::uint8_t* row = fb.row(y);
  auto at = [&](int x) {
    const std::uint8_t* p = row + x * Frame::kBytesPerPixel;
    return (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) | p[0];
  };
  auto bgr = [](std::uint32_t c) {
    return Bgr{static_cast<int>(c & 0xff), static_cast<int>((c >> 8) & 0xff),
               static_cast<int>(c >> 16)};
  };
  if (x1 <= x0) return {};
  std::uint32_t vote = at(x0);
  int lead = 0;
  for (int x = x0; x < x1; ++x) {
    const std::uint32_t c = at(x);
    if (lead == 0) vote = c;
    lead += c == vote ? 1 : -1;
  }
  int count = 0;
  for (int x = x0; x < x1; ++x) count += at(x) == vote;
  if (2 * count > x1 - x0) return bgr(vote);

  std::vector<std::uint32_t> px;
  px.reserve(static_cast<std::size_t>(x1 - x0));
  for (int x = x0; x < x1; ++x) px.push_back(at(x));
  std::sort(px.begin(), px.end());
  std::uint32_t best = px[0];
  std::size_t best_n = 0;
  for (std::size_t i = 0; i < px.size();) {
    std::size_t j = i;
    while (j < px.size() && px[j] == px[i]) ++j;
    if (j - i > best_n) { best_n = j - i; best = px[i]; }
    i = j;
  }
  return bgr(best);
}

double nearFraction(const Frame& fb, int y, int x0, int x1, const Bgr& bg) {
  const std::uint8_t* row = fb.row(y);
  int near = 0, n = 0;
  for (int x = x0; x < x1; x += 2, ++n)
    if (dist(row + x * Frame::kBytesPerPixel, bg) <= 24) ++near;
  return n ? static_cast<double>(near) / n : 0;
}

// Each row's background colour and how much of the row is near it, over one
// segment's columns, computed once: analyse() grows the band from up to four
// starts over the same rows.
class RowCache {
 public:
  // Rows from `top` down.
  RowCache(const Frame& fb, int top, int x0, int x1) : fb_(fb), top_(top), x0_(x0), x1_(x1) {}
  struct Row {
    Bgr bg;
    double near = 0;  // fraction of the row within reach of bg
  };
  const Row& at(int y) {
    const auto i = static_cast<std::size_t>(y - top_);
    if (i >= rows_.size()) rows_.resize(i + 1);
    if (!rows_[i]) {
      const Bgr m = rowBackground(fb_, y, x0_, x1_);
      rows_[i] = Row{m, nearFraction(fb_, y, x0_, x1_, m)};
    }
    return *rows_[i];
  }

 private:
  const Frame& fb_;
  const int top_, x0_, x1_;
  std::vector<std::optional<Row>> rows_;
};

// A run of ink columns inside a bar (a glyph group, an icon or a button).
struct Cluster {
  int x0 = 0, x1 = 0;  // inclusive, bar-local
  int y0 = 1 << 20, y1 = -1;
  int ink = 0;
  long long sat = 0;  // summed colourfulness of its ink
  int w() const { return x1 - x0 + 1; }
  int h() const { return y1 - y0 + 1; }
  int cx2() const { return x0 + x1; }  // twice the centre
  double meanSat() const { return ink ? static_cast<double>(sat) / ink : 0; }
};

constexpr int kInkDistance = 48;  // anti-aliased text edges sit below this
// A bar's ink is looked for this far inside the segment found: the window's
// own vertical border lines are not ink. Bar-local columns start there.
constexpr int kBorder = 2;
// The text rectangle reaches this far past the title's outer glyphs.
int textPad(int bar_height) { return std::max(4, bar_height / 4); }
// First and last bar-local columns of a caption.
int barOrigin(const TitleStrip& t) { return t.bar.x + kBorder; }
int lastBarColumn(const TitleStrip& t) { return t.bar.w - 2 * kBorder - 1; }
constexpr int kEdgeDistance = 28;

class BarAnalyzer {
 public:
  BarAnalyzer(const Frame& fb, const cv::Mat& raw_edges, const FinderOptions& o)
      : fb_(fb), edges_(raw_edges), o_(o) {}

  // Looks for a caption whose top edge is the boundary at row `y` over
  // [x0, x1). Returns false when the band below is not a caption.
  bool analyse(int y, int x0, int x1, TitleStrip& out) const {
    int h = 0;
    x0 += kBorder;
    x1 -= kBorder;
    if (x1 - x0 < o_.min_bar_width) return reject(1, y, x0, h);
    // Frame and bevel lines (1-3 px) may come first: take the start that
    // gives the tallest band.
    const int cap = o_.max_bar_height;
    int s = y;
    std::vector<Bgr> bg;
    RowCache row_cache(fb_, y, x0, x1);
    for (int start = y; start <= y + 3 && start < fb_.height(); ++start) {
      std::vector<Bgr> rows = grow(row_cache, start, x0, x1, cap);
      if (static_cast<int>(rows.size()) > h) {
        h = static_cast<int>(rows.size());
        s = start;
        bg = std::move(rows);
      }
    }
    const bool open_ended = h > cap;  // caption and client share one colour
    if (open_ended) {
      h = cap;
      bg.resize(cap);
    }
    if (h < o_.min_bar_height) return reject(2, y, x0, h);

    // Ink mask and per-row extent.
    const int w = x1 - x0;
    std::vector<std::uint8_t> ink(static_cast<std::size_t>(w) * h, 0);
    std::vector<int> row_ink(h, 0);
    for (int yy = 0; yy < h; ++yy) {
      const std::uint8_t* row = fb_.row(s + yy);
      for (int xx = 0; xx < w; ++xx) {
        const std::uint8_t* p = row + (x0 + xx) * Frame::kBytesPerPixel;
        if (dist(p, bg[yy]) > kInkDistance) {
          ink[static_cast<std::size_t>(yy) * w + xx] = 1;
          ++row_ink[yy];
        }
      }
    }
    if (open_ended) {
      // The caption is the first text line; its bottom margin mirrors its top.
      int ty0 = -1, ty1 = -1;
      for (int yy = 0; yy < h; ++yy) {
        if (row_ink[yy] > 0) {
          if (ty0 < 0) ty0 = yy;
          ty1 = yy;
        } else if (ty0 >= 0 && yy - ty1 > 1) {
          break;
        }
      }
      if (ty0 < 2 || ty0 > 16 || ty1 - ty0 < 6 || ty1 - ty0 > 26) return reject(3, y, x0, h);
      h = std::min(h, ty1 + ty0 + 1);
      if (h < o_.min_bar_height) return reject(4, y, x0, h);
    }

    // Columns inked over most of the bar height are frame or bevel lines
    // (the window's own borders, a theme's shading), never glyphs.
    for (int xx = 0; xx < w; ++xx) {
      int n = 0;
      for (int yy = 0; yy < h; ++yy) n += ink[static_cast<std::size_t>(yy) * w + xx];
      if (n * 4 > h * 3)
        for (int yy = 0; yy < h; ++yy)
          if (ink[static_cast<std::size_t>(yy) * w + xx]) {
            ink[static_cast<std::size_t>(yy) * w + xx] = 0;
            --row_ink[yy];
          }
    }
    // Ink-rich bands are pictures or toolbars, not captions.
    long long total_ink = 0;
    for (int yy = 0; yy < h; ++yy) total_ink += row_ink[yy];
    if (total_ink < 15 || total_ink > static_cast<long long>(w) * h * 4 / 10) return reject(5, y, x0, h);

    std::vector<Cluster> cl = clusters(ink, w, h, s, x0);
    if (cl.empty()) return reject(6, y, x0, h);

    // Caption buttons: small, evenly spaced marks at the right end. The
    // pitch must be at least ~0.6 of the bar height: letters of a cut-off
    // monospace line are evenly spaced too, but much closer.
    std::size_t end = cl.size();
    auto small = [&](const Cluster& c) { return c.w() <= h * 9 / 10 && c.h() <= h * 9 / 10; };
    // Windows 7 joins its three buttons into one box group.
    const bool group = cl.back().w() > h * 9 / 10 && cl.back().w() <= 4 * h && cl.back().h() >= h / 2;
    if (w - 1 - cl.back().x1 > std::max(2 * h, w / 10) || !(small(cl.back()) || group))
      return reject(7, y, x0, h);
    end = cl.size() - 1;
    int buttons = group ? 3 : 1;
    if (!group && end >= 1 && small(cl[end - 1])) {
      const int pitch = (cl[end].cx2() - cl[end - 1].cx2()) / 2;
      if (pitch >= std::max(8, h * (open_ended ? 12 : 6) / 10) && pitch <= 3 * h &&
          cl[end].x0 - cl[end - 1].x1 >= 3) {
        --end;
        ++buttons;
        // A flat mark (minimise bar, or an ellipsis ending the title) counts
        // only when it sits a clear gap away on the exact pitch.
        auto fits = [&](const Cluster& c, const Cluster& right) {
          const int gap = right.x0 - c.x1;
          const int dp = std::abs((right.cx2() - c.cx2()) / 2 - pitch);
          if (c.h() * 5 < h) return gap * 10 >= h * 3 && dp <= pitch / 10 + 1;
          return gap >= 3 && dp <= pitch * 15 / 100 + 2;
        };
        while (end >= 1 && small(cl[end - 1]) && fits(cl[end - 1], cl[end])) {
          --end;
          ++buttons;
        }
      }
    }
    // Where caption and client share a colour only Windows' three evenly
    // spaced buttons tell a caption from a line of content.
    if (open_ended && buttons < 3) return reject(8, y, x0, h);
    const int buttons_x0 = cl[end].x0;
    if (spdlog::should_log(spdlog::level::trace)) {
      std::string d;
      for (const Cluster& c : cl)
        d += " [" + std::to_string(c.x0) + "-" + std::to_string(c.x1) + " h" + std::to_string(c.h()) + "]";
      spdlog::trace("title_finder y={} x0={} w={} h={} open={} buttons={} clusters:{}", y, x0, w, h,
                    open_ended, buttons, d);
    }

    // Median glyph height of what is left, then the window icon(s) at the left.
    std::vector<int> heights;
    for (std::size_t i = 0; i < end; ++i) heights.push_back(cl[i].h());
    if (heights.empty()) return reject(9, y, x0, h);
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    const int text_h = heights[heights.size() / 2];
    std::size_t begin = 0;
    for (int icons = 0; icons < 3 && begin + 1 < end; ++icons) {  // icewm's menu icon is split
      const Cluster& c = cl[begin];
      const bool near_left = c.x0 <= (icons + 1) * h * 3 / 2;
      const bool icon_shaped = c.w() <= h * 11 / 10 && c.h() >= h / 2;
      const bool not_text = c.meanSat() > 60 || c.h() * 4 >= text_h * 5;
      if (!(near_left && icon_shaped && not_text)) break;
      ++begin;
    }
    if (begin >= end) return reject(10, y, x0, h);
    // Marks set apart from the title by more than a word space are not part
    // of it: an app icon at the left drawn as thin lines (Windows 10 accent),
    // further outlined buttons at the right (icewm), each made of several
    // clusters the checks above do not recognise.
    const int apart = std::max(5, text_h * 2 / 3);  // a word space is ~0.4 text_h
    auto nextGap = [&](std::size_t i) { return cl[i + 1].x0 - cl[i].x1 - 1; };
    for (std::size_t i = begin; i + 1 < end && cl[i].x1 - cl[begin].x0 < 2 * h; ++i) {
      if (nextGap(i) > apart && cl[i].x0 <= 2 * h) {
        begin = i + 1;
        break;
      }
    }
    for (std::size_t i = end - 1; i > begin && cl[end - 1].x1 - cl[i].x0 < 4 * h; --i) {
      if (!small(cl[i])) break;
      if (nextGap(i - 1) > text_h) {
        end = i;
        break;
      }
    }

    int tx0 = cl[begin].x0, tx1 = cl[end - 1].x1;
    int ty0 = h, ty1 = -1, text_ink = 0;
    Bgr ink_sum;
    for (std::size_t i = begin; i < end; ++i) {
      ty0 = std::min(ty0, cl[i].y0);
      ty1 = std::max(ty1, cl[i].y1);
      text_ink += cl[i].ink;
    }
    if (text_ink < 15 || ty1 - ty0 + 1 < 6) return reject(11, y, x0, h);
    // Captions centre their text; a line of content at the top of a plain
    // client area (a terminal's prompt, its cursor taken for a button) does not.
    const int above = ty0, below = h - 1 - ty1;
    if (below > 2 * above + 6 || above > 2 * below + 6) return reject(12, y, x0, h);
    // Mean colour of the text ink, for contrast and polarity.
    long long sb = 0, sg = 0, sr = 0;
    for (int yy = ty0; yy <= ty1; ++yy)
      for (int xx = tx0; xx <= tx1; ++xx)
        if (ink[static_cast<std::size_t>(yy) * w + xx]) {
          const std::uint8_t* p = fb_.row(s + yy) + (x0 + xx) * Frame::kBytesPerPixel;
          sb += p[0];
          sg += p[1];
          sr += p[2];
        }
    const int n = std::max(1, text_ink);
    ink_sum = {static_cast<int>(sb / n), static_cast<int>(sg / n), static_cast<int>(sr / n)};
    const Bgr mid = bg[(ty0 + ty1) / 2];

    const int pad = textPad(h);
    const int left_limit = begin > 0 ? cl[begin - 1].x1 + 1 : 0;
    tx0 = std::max(left_limit, tx0 - pad);
    tx1 = std::min(buttons_x0 - 1, tx1 + pad);
    out.bar = {x0 - kBorder, s, w + 2 * kBorder, h};
    out.text = {x0 + tx0, s, tx1 - tx0 + 1, h};
    out.judged_text = out.text;
    out.groups.clear();
    for (const Cluster& c : cl) out.groups.push_back({c.x0, c.x1, c.h()});
    out.first = static_cast<int>(begin);
    out.last = static_cast<int>(end) - 1;
    out.dark = luma(ink_sum) > luma(mid);
    // Active captions are the colourful ones where themes colour them
    // (openbox Clearlooks: white on a blue gradient, lower contrast than the
    // grey-on-grey inactive bars), else the ones with the stronger contrast.
    out.focus_score = std::abs(luma(ink_sum) - luma(mid)) + saturation(mid);
    out.hash = hashPixels(fb_, out.text);
    return true;
  }

 private:
  static bool reject(int why, int y, int x0, int h) {
    spdlog::trace("title_finder reject={} y={} x0={} h={}", why, y, x0, h);
    return false;
  }

  // Rows from `s` down that continue one plain or gradient background.
  std::vector<Bgr> grow(RowCache& rows, int s, int x0, int x1, int cap) const {
    std::vector<Bgr> bg;
    const Bgr first = rows.at(s).bg;
    if (rows.at(s).near < 0.45) return bg;
    bg.push_back(first);
    auto continues = [&](int r, bool check_edge) {
      if (check_edge && edgeCoverage(r, x0, x1) > 0.6) return false;  // a separator
      const RowCache::Row& m = rows.at(r);
      return dist(m.bg, bg.back()) <= 28 && dist(m.bg, first) <= 110 &&
             m.near >= 0.2;  // bold text can cover most of a row
    };
    for (int r = s + 1; r < fb_.height() && r - s <= cap; ++r) {
      if (continues(r, true)) {
        bg.push_back(rows.at(r).bg);
        continue;
      }
      // Some themes draw a 1-3 px bevel line across the middle of the bar:
      // step over it when the background resumes right after.
      int resume = -1;
      for (int k = 1; k <= 3 && r + k < fb_.height() && r + k - s <= cap; ++k)
        if (continues(r + k, false)) { resume = r + k; break; }
      if (resume < 0 || static_cast<int>(bg.size()) < 4) break;
      for (; r <= resume; ++r) bg.push_back(rows.at(r).bg);
      --r;
    }
    return bg;
  }

  // Fraction of [x0, x1) where row y differs from row y-1.
  double edgeCoverage(int y, int x0, int x1) const {
    if (y <= 0 || y >= fb_.height()) return 1.0;
    const std::uint8_t* e = edges_.ptr<std::uint8_t>(y - 1);
    int n = 0;
    for (int x = x0; x < x1; ++x) n += e[x] != 0;
    return static_cast<double>(n) / std::max(1, x1 - x0);
  }

  // Column runs of ink separated by two or more empty columns.
  std::vector<Cluster> clusters(const std::vector<std::uint8_t>& ink, int w, int h, int s,
                                int x0) const {
    std::vector<Cluster> out;
    Cluster cur;
    bool open = false;
    int empty = 0;
    for (int xx = 0; xx < w; ++xx) {
      int col = 0;
      for (int yy = 0; yy < h; ++yy) {
        if (!ink[static_cast<std::size_t>(yy) * w + xx]) continue;
        ++col;
        if (!open) {
          cur = Cluster{};
          cur.x0 = xx;
          open = true;
        }
        cur.y0 = std::min(cur.y0, yy);
        cur.y1 = std::max(cur.y1, yy);
        const std::uint8_t* p = fb_.row(s + yy) + (x0 + xx) * Frame::kBytesPerPixel;
        cur.sat += std::max({p[0], p[1], p[2]}) - std::min({p[0], p[1], p[2]});
        ++cur.ink;
      }
      if (col > 0) {
        cur.x1 = xx;
        empty = 0;
      } else if (open && ++empty >= 2) {
        out.push_back(cur);
        open = false;
      }
    }
    if (open) out.push_back(cur);
    // Specks (a stray shading pixel or two) are neither glyphs nor buttons.
    std::erase_if(out, [](const Cluster& c) { return c.ink < 4 && c.w() <= 2 && c.h() <= 2; });
    return out;
  }

  const Frame& fb_;
  const cv::Mat& edges_;
  const FinderOptions& o_;
};

// Leaves out of each caption's text the groups at its ends that another
// caption of the same height shows as marks of the theme: groups that lie
// within (±1 px) a group outside that caption's text, at the same distance
// from the same end, no taller (an icon drawn in one piece there may be
// two here). At least one group stays. Works from `judged_text`, so
// captions kept from an earlier pass are judged again against the new ones.
void leaveOutThemeMarks(std::vector<TitleStrip>& strips, const Frame& fb) {
  // Columns of `g` counted from the bar's left end, or from its right end.
  auto span = [](const TitleStrip& t, const InkGroup& g, bool right) {
    const int last_col = lastBarColumn(t);
    return right ? std::pair{last_col - g.x1, last_col - g.x0} : std::pair{g.x0, g.x1};
  };
  auto markElsewhere = [&](const TitleStrip& t, const InkGroup& g, bool right) {
    const auto [a, b] = span(t, g, right);
    for (const TitleStrip& o : strips) {
      if (&o == &t || std::abs(o.bar.h - t.bar.h) > 1) continue;  // a focused bar may be 1 px taller
      const int n = static_cast<int>(o.groups.size());
      for (int k = right ? o.last + 1 : 0; k < (right ? n : o.first); ++k) {
        const InkGroup& m = o.groups[static_cast<std::size_t>(k)];
        const auto [ma, mb] = span(o, m, right);
        if (a >= ma - 1 && b <= mb + 1 && g.h <= m.h + 1) return true;
      }
    }
    return false;
  };
  std::vector<Rect> texts;  // decided for all before any caption changes
  for (const TitleStrip& t : strips) {
    if (t.groups.empty()) {  // not from analyse(): nothing to judge by
      texts.push_back(t.text);
      continue;
    }
    auto group = [&](int k) -> const InkGroup& { return t.groups[static_cast<std::size_t>(k)]; };
    const int n = static_cast<int>(t.groups.size());
    int first = t.first, last = t.last;
    while (first < last && markElsewhere(t, group(first), false)) ++first;
    while (last > first && markElsewhere(t, group(last), true)) --last;
    // The other way at the right end, where themes draw only buttons: a
    // group the bar alone took for a button, spaced like one, where the
    // captions that show this bar's outer buttons show none, is the
    // title's last letters ("(Read-Only)" losing "y)").
    if (last == t.last) {
      bool outer_shown = false;
      for (int k = t.last + 1; k < n && !outer_shown; ++k) outer_shown = markElsewhere(t, group(k), true);
      while (outer_shown && last + 1 < n && !markElsewhere(t, group(last + 1), true)) ++last;
    }
    const int origin = barOrigin(t), pad = textPad(t.bar.h);
    int x0 = t.judged_text.x - origin, x1 = x0 + t.judged_text.w - 1;  // bar-local
    if (first > t.first) x0 = std::max(group(first - 1).x1 + 1, group(first).x0 - pad);
    if (last != t.last)
      x1 = std::min(last + 1 < n ? group(last + 1).x0 - 1 : lastBarColumn(t), group(last).x1 + pad);
    texts.push_back({origin + x0, t.text.y, x1 - x0 + 1, t.text.h});
  }
  for (std::size_t i = 0; i < strips.size(); ++i) {
    TitleStrip& t = strips[i];
    if (texts[i] == t.text) continue;
    t.text = texts[i];
    t.hash = hashPixels(fb, t.text);
  }
}

}  // namespace

std::uint64_t hashPixels(const Frame& fb, Rect r) {
  r = r.intersect(fb.bounds());
  std::uint64_t h = 1469598103934665603ULL;
  for (int y = r.y; y < r.y + r.h; ++y) {
    const std::uint8_t* p = fb.row(y) + r.x * Frame::kBytesPerPixel;
    for (int x = 0; x < r.w; ++x, p += Frame::kBytesPerPixel)
      for (int c = 0; c < 3; ++c) {
        h ^= p[c];
        h *= 1099511628211ULL;
      }
  }
  return h;
}

std::vector<TitleStrip> TitleFinder::find(const Frame& fb) const {
  return scan(fb, 0, fb.height(), {});
}

std::vector<TitleStrip> TitleFinder::update(const Frame& fb, const std::vector<TitleStrip>& previous,
                                            int y0, int y1) const {
  if (y1 <= y0) return previous;
  // A caption whose top edge is at row y is judged from rows y-1 down to
  // y+3+max_bar_height (bevel starts, band growth): only tops within that
  // reach of a changed row can have a different verdict.
  const int top0 = y0 - options_.max_bar_height - 4, top1 = y1 + 1;
  std::vector<TitleStrip> kept;
  for (TitleStrip s : previous)
    if (s.bar.y < top0 || s.bar.y - 3 > top1) {  // its top edge is 0-3 rows above bar.y
      s.focused = false;
      kept.push_back(s);
    }
  return scan(fb, top0, top1, std::move(kept));
}

std::vector<TitleStrip> TitleFinder::scan(const Frame& fb, int top0, int top1,
                                          std::vector<TitleStrip> kept) const {
  std::vector<TitleStrip> found;
  if (fb.width() < options_.min_bar_width || fb.height() < options_.min_bar_height + 2)
    return found;
  top0 = std::max(top0, 0);
  top1 = std::min(top1, fb.height() - 1);
  const cv::Mat img(fb.height(), fb.width(), CV_8UC4, const_cast<std::uint8_t*>(fb.data()),
                    static_cast<std::size_t>(fb.stride()));

  // Row-to-row colour change (row r of `raw`: between pixel rows r and r+1),
  // the largest over B, G and R: accent bars can have the same luma as the
  // desktop behind them. Only over the rows the tops in [top0, top1] are
  // judged from; the rest stays 0.
  const int r0 = std::max(0, top0 - 1);
  const int r1 = std::min(img.rows - 1, top1 + options_.max_bar_height + 4);
  cv::Mat raw = cv::Mat::zeros(img.rows - 1, img.cols, CV_8U);
  cv::Mat lines = cv::Mat::zeros(img.rows - 1, img.cols, CV_8U);
  if (r1 > r0) {
    cv::Mat diff;
    cv::absdiff(img.rowRange(r0 + 1, r1 + 1), img.rowRange(r0, r1), diff);
    std::array<cv::Mat, 4> planes;
    cv::split(diff, planes.data());
    cv::Mat maxdiff = cv::max(cv::max(planes[0], planes[1]), planes[2]);
    cv::Mat band_raw = raw.rowRange(r0, r1);
    cv::threshold(maxdiff, band_raw, kEdgeDistance, 255, cv::THRESH_BINARY);
    // Only boundaries at least a caption wide survive: window tops.
    // Bridge 1-4 px breaks first: where another window's border column
    // happens to match this window's top edge colour.
    cv::Mat bridged, band_lines = lines.rowRange(r0, r1);
    cv::morphologyEx(band_raw, bridged, cv::MORPH_CLOSE,
                     cv::getStructuringElement(cv::MORPH_RECT, cv::Size(5, 1)));
    cv::morphologyEx(bridged, band_lines, cv::MORPH_OPEN,
                     cv::getStructuringElement(cv::MORPH_RECT, cv::Size(options_.min_bar_width, 1)));
  }

  struct Segment {
    int y, x0, x1;
  };
  std::vector<Segment> segments;
  if (top0 == 0) segments.push_back({0, 0, fb.width()});  // maximised windows start at the top
  for (int r = std::max(0, top0 - 1); r < std::min(lines.rows, top1); ++r) {
    const std::uint8_t* e = lines.ptr<std::uint8_t>(r);
    for (int x = 0; x < lines.cols;) {
      if (!e[x]) { ++x; continue; }
      int x1 = x;
      while (x1 < lines.cols && e[x1]) ++x1;
      segments.push_back({r + 1, x, x1});
      x = x1;
    }
  }

  // Widest first: a window's whole top edge wins over the pieces of it that
  // other windows leave visible.
  std::stable_sort(segments.begin(), segments.end(),
                   [](const Segment& a, const Segment& b) { return a.x1 - a.x0 > b.x1 - b.x0; });
  const BarAnalyzer analyzer(fb, raw, options_);
  auto covers = [](const TitleStrip& t, int y, int x0, int x1) {
    return y >= t.bar.y - 1 && y < t.bar.y + t.bar.h && x0 < t.bar.x + t.bar.w && x1 > t.bar.x;
  };
  for (const Segment& seg : segments) {
    // A boundary right below an accepted bar's top is that same bar.
    bool covered = false;
    for (const auto* list : {&found, &kept})
      for (const TitleStrip& t : *list) covered = covered || covers(t, seg.y, seg.x0, seg.x1);
    if (covered) continue;
    TitleStrip strip;
    if (!analyzer.analyse(seg.y, seg.x0, seg.x1, strip)) continue;
    if (strip.bar.y + strip.bar.h >= fb.height() - 1) continue;  // a taskbar, not a caption
    found.push_back(strip);
  }
  // A kept caption that a new one now overlaps was covered by its window.
  for (const TitleStrip& k : kept) {
    const bool overlapped = std::any_of(found.begin(), found.end(), [&](const TitleStrip& f) {
      return !f.bar.intersect(k.bar).empty();
    });
    if (!overlapped) found.push_back(k);
  }

  std::sort(found.begin(), found.end(), [](const TitleStrip& a, const TitleStrip& b) {
    return a.bar.y != b.bar.y ? a.bar.y < b.bar.y : a.bar.x < b.bar.x;
  });
  leaveOutThemeMarks(found, fb);
  if (!found.empty()) {
    auto best = std::max_element(found.begin(), found.end(), [](const auto& a, const auto& b) {
      return a.focus_score < b.focus_score;
    });
    best->focused = true;
  }
  return found;
}

}  // namespace vigil::ocr
