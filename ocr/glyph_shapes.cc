#include "ocr/glyph_shapes.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>

#include <opencv2/imgproc.hpp>

namespace vigil::ocr {
namespace {

// Anti-aliased strokes of 1-px fonts are mid-grey after upscaling.
constexpr int kInk = 150;
// The middle of a stroke is darker.
constexpr int kStroke = 110;

std::optional<LowercaseBand> findBand(const cv::Mat& ink) {
  std::vector<int> count(ink.rows, 0);
  int peak = 0;
  for (int y = 0; y < ink.rows; ++y) {
    count[y] = cv::countNonZero(ink.row(y));
    peak = std::max(peak, count[y]);
  }
  if (peak == 0) return std::nullopt;
  // Capitals, ascenders and descenders add a few columns each above and
  // below the band; the lowercase body fills many.
  LowercaseBand band{-1, -1};
  for (int y = 0; y < ink.rows; ++y) {
    if (count[y] * 5 < peak * 2) continue;
    if (band.top < 0) band.top = y;
    band.base = y;
  }
  if (band.height() < 4) return std::nullopt;
  return band;
}

}  // namespace

StripShapes::StripShapes(const cv::Mat& grey) : grey_(grey) {
  cv::Mat ink;
  cv::threshold(grey, ink, kInk - 1, 255, cv::THRESH_BINARY_INV);
  band_ = findBand(ink);
  if (!band_) return;
  cv::Mat stats, centroids;
  const int n = cv::connectedComponentsWithStats(ink, labels_, stats, centroids, 8, CV_32S);
  for (int i = 1; i < n; ++i)
    blobs_.push_back({stats.at<int>(i, cv::CC_STAT_LEFT), stats.at<int>(i, cv::CC_STAT_TOP),
                      stats.at<int>(i, cv::CC_STAT_WIDTH), stats.at<int>(i, cv::CC_STAT_HEIGHT)});
  // In a title of capitals, ascenders and digits (C:\Scripts,
  // Firewall1686) the rows above the lowercase letters are busy too.
  // Lowercase letters standing on the baseline start at the x-height line:
  // the lowest top that three such blobs share is it. Not the commonest
  // top: there the capitals and digits may outnumber the lowercase. Dots
  // and dashes are too short to count.
  std::map<int, int> tops;
  for (const Blob& b : blobs_)
    if (std::abs(b.y + b.h - 1 - band_->base) <= 1 && b.h >= 3 && b.h * 2 >= band_->height())
      ++tops[b.y];
  int lowest = -1;
  for (const auto& [top, count] : tops)
    if (count >= 3) lowest = top;
  if (lowest > band_->top && lowest < band_->base - 2) band_->top = lowest;
}

bool StripShapes::strokeAt(int x, int label, bool through_grey) const {
  const int above = ascenderRow();
  const int below = band_->base - 1;
  // Dark all the way down: an i's dot a pixel above its stem blurs into
  // one blob with it at kInk, but the gap stays lighter than a stroke.
  const int dark = through_grey ? kInk : kStroke;
  for (int y = above; y <= below; ++y)
    if (labels_.at<int>(y, x) != label || grey_.at<std::uint8_t>(y, x) >= dark) return false;
  // Ink across the stroke at row y: darkness summed over x-2..x+2.
  auto mass = [&](int y) {
    int sum = 0;
    for (int xx = std::max(0, x - 2); xx <= std::min(grey_.cols - 1, x + 2); ++xx)
      sum += 255 - grey_.at<std::uint8_t>(y, xx);
    return sum;
  };
  // A bold i's dot sits on its stem with only a waist between them: a
  // row near the x-height line with clearly less ink than the stem has.
  std::vector<int> stem;
  for (int y = band_->top + 1; y < band_->base; ++y) stem.push_back(mass(y));
  std::nth_element(stem.begin(), stem.begin() + stem.size() / 2, stem.end());
  for (int y = above; y <= band_->top; ++y)
    if (mass(y) * 4 <= stem[stem.size() / 2] * 3) return false;
  return true;
}

std::optional<int> StripShapes::tallStroke(int x0, int x1, bool through_grey) const {
  if (!band_ || !tallEnough()) return std::nullopt;
  const int above = ascenderRow();
  const int below = band_->base - 1;
  for (std::size_t i = 0; i < blobs_.size(); ++i) {
    const Blob& b = blobs_[i];
    if (b.centre() < x0 || b.centre() >= x1 || !narrow(b) || b.y > above || b.y + b.h - 1 < below)
      continue;
    for (int x = b.x; x < b.x + b.w; ++x)
      if (strokeAt(x, static_cast<int>(i) + 1, through_grey)) return static_cast<int>(i);
  }
  const int third = (x1 - x0) / 3;
  for (int x = std::max(0, x0 + third); x < std::min(labels_.cols, x1 - third); ++x) {
    const int label = labels_.at<int>(above, x);
    if (label != 0 && strokeAt(x, label, through_grey)) return label - 1;
  }
  return std::nullopt;
}

std::vector<StripShapes::Stem> StripShapes::stems(int x0, int x1) const {
  std::vector<Stem> out;
  if (!band_) return out;
  auto inked = [&](int x) {
    for (int y = band_->top + 1; y < band_->base; ++y)
      if (grey_.at<std::uint8_t>(y, x) >= kInk) return false;
    return true;
  };
  for (int x = std::max(0, x0); x < std::min(grey_.cols, x1); ++x) {
    if (!inked(x)) continue;
    if (!out.empty() && out.back().x1 == x)
      ++out.back().x1;
    else
      out.push_back({x, x + 1});
  }
  // A stem starting in the range is whole, wherever it ends.
  if (!out.empty() && out.back().x1 == x1)
    while (out.back().x1 < grey_.cols && inked(out.back().x1)) ++out.back().x1;
  return out;
}

bool StripShapes::rises(const Stem& s, bool through_grey) const {
  if (!band_ || !tallEnough()) return false;
  const int above = ascenderRow();
  for (int x = s.x0; x < s.x1; ++x) {
    const int label = labels_.at<int>(above, x);
    if (label != 0 && strokeAt(x, label, through_grey)) return true;
  }
  return false;
}

bool StripShapes::markLeft(const Stem& s) const {
  if (!band_) return false;
  const int xh = band_->height();
  // The stem's own blob: a mark above is joined to it, if only through grey.
  const int label = labels_.at<int>((band_->top + band_->base) / 2, s.x0);
  if (label == 0) return false;
  for (int x = std::max(0, s.x0 - xh / 2); x <= s.x0 - std::max(2, xh / 4); ++x)
    for (int y = std::max(0, band_->top - xh / 2); y < band_->top - 1; ++y)
      if (labels_.at<int>(y, x) == label) return true;
  return false;
}

bool StripShapes::barRight(const Stem& s) const {
  if (!band_) return false;
  // Two stroke widths out: anti-aliasing blurs the stem's own edge.
  const int reach = std::min(grey_.cols, s.x1 + std::max(2, s.x1 - s.x0));
  for (int y = band_->top; y <= band_->top + 1; ++y)
    for (int x = s.x1; x < reach; ++x)
      if (grey_.at<std::uint8_t>(y, x) < kStroke) return true;
  return false;
}

int StripShapes::dots(int x0, int x1) const {
  if (!band_) return 0;
  return static_cast<int>(std::count_if(blobs_.begin(), blobs_.end(), [&](const Blob& b) {
    return b.centre() >= x0 && b.centre() < x1 && markAbove(b);
  }));
}

int StripShapes::accentedLetters() const {
  if (!band_) return 0;
  std::vector<int> marked;  // labels of the letters under a mark
  for (const Blob& m : blobs_) {
    if (!markAbove(m)) continue;
    const int x = m.centre();
    for (int y = band_->top + 1; y <= band_->base; ++y) {
      const int label = labels_.at<int>(y, x);
      if (label == 0) continue;
      const Blob& below = blobs_[static_cast<std::size_t>(label - 1)];
      if (!narrow(below) && std::find(marked.begin(), marked.end(), label) == marked.end())
        marked.push_back(label);
      break;
    }
  }
  return static_cast<int>(marked.size());
}

int StripShapes::bandDots(int x0, int x1) const {
  if (!band_) return 0;
  return static_cast<int>(std::count_if(blobs_.begin(), blobs_.end(), [&](const Blob& b) {
    return b.centre() >= x0 && b.centre() < x1 && small(b) && b.y >= band_->top - 1 && b.y + b.h - 1 <= band_->base + 1;
  }));
}

bool StripShapes::descends(int x0, int x1) const {
  if (!band_) return false;
  const int below = band_->base + std::max(2, band_->height() / 5);
  return std::any_of(blobs_.begin(), blobs_.end(), [&](const Blob& b) {
    return b.centre() >= x0 && b.centre() < x1 && b.y + b.h - 1 >= below;
  });
}

bool StripShapes::footed(int x0, int x1) const {
  const auto blob = tallStroke(x0, x1);
  if (!blob) return false;
  const int label = *blob + 1;
  const Blob& b = blobs_[static_cast<std::size_t>(*blob)];
  // The blob's run through row y that holds column x: [from, to].
  auto run = [&](int y, int x) {
    int from = x, to = x;
    while (from > b.x && labels_.at<int>(y, from - 1) == label) --from;
    while (to < b.x + b.w - 1 && labels_.at<int>(y, to + 1) == label) ++to;
    return std::pair{from, to};
  };
  // The stem, where the blob crosses the middle of the lowercase band.
  const int mid = (band_->top + band_->base) / 2;
  int stem_x = -1;
  for (int x = std::max(x0, b.x); x < std::min(x1, b.x + b.w) && stem_x < 0; ++x)
    if (labels_.at<int>(mid, x) == label) stem_x = x;
  if (stem_x < 0) return false;
  const auto [s0, s1] = run(mid, stem_x);
  const int w = s1 - s0 + 1;
  for (int y = band_->base; y >= band_->base - 2 && y >= 0; --y) {
    if (labels_.at<int>(y, (s0 + s1) / 2) != label) continue;
    const auto [f0, f1] = run(y, (s0 + s1) / 2);
    // Not a neighbouring letter joined at the baseline: a foot is short.
    if (f0 * 2 <= s0 * 2 - w && f1 * 2 >= s1 * 2 + w && f1 - f0 + 1 <= 5 * w) return true;
  }
  return false;
}

bool StripShapes::bareStem(int x0, int x1) const {
  if (!band_) return false;
  int found = 0;
  for (const Blob& b : blobs_) {
    if (b.centre() < x0 || b.centre() >= x1) continue;
    const bool stem = narrow(b) && b.y >= band_->top - 1 && b.y <= band_->top + 1 &&
                      std::abs(b.y + b.h - 1 - band_->base) <= 1;
    if (!stem || ++found > 1) return false;
  }
  return found == 1;
}

std::vector<int> StripShapes::colons() const {
  std::vector<int> out;
  if (!band_) return out;
  const int xh = band_->height(), mid = (band_->top + band_->base) / 2;
  for (const Blob& up : blobs_) {
    if (!small(up) || up.y < band_->top - 1 || up.y + up.h - 1 > mid) continue;
    for (const Blob& low : blobs_)
      if (&low != &up && small(low) && std::abs(low.centre() - up.centre()) * 3 <= xh &&
          std::abs(low.y + low.h - 1 - band_->base) <= 1 && low.y > up.y + up.h) {
        out.push_back((up.centre() + low.centre()) / 2);
        break;
      }
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool StripShapes::isSlash(int label, int dir) const {
  const Blob& b = blobs_[static_cast<std::size_t>(label)];
  // About as tall as the lowercase band or taller, standing on the
  // baseline: in a title of capitals, or of letters a tight font joins
  // (too few lone lowercase letters to find the x-height line by), the
  // band found reaches the cap line, as high as a backslash.
  if (b.h * 10 < band_->height() * 9 || b.y + b.h - 1 < band_->base - 1 || b.w * 4 < b.h || b.w > b.h)
    return false;
  // Every row one short run, and the runs' middles move across the blob
  // as the rows go down: in the top quarter near one side, in the bottom
  // quarter near the other.
  double top = 0, bottom = 0;
  int top_n = 0, bottom_n = 0;
  for (int y = b.y; y < b.y + b.h; ++y) {
    int first = -1, last = -1, n = 0;
    for (int x = b.x; x < b.x + b.w; ++x) {
      if (labels_.at<int>(y, x) != label + 1) continue;
      if (first < 0) first = x;
      last = x;
      ++n;
    }
    if (n == 0) continue;
    if (last - first + 1 != n || n * 2 > b.w + 2) return false;
    const double mid = (first + last) / 2.0;
    if ((y - b.y) * 4 < b.h) { top += mid; ++top_n; }
    if ((b.y + b.h - 1 - y) * 4 < b.h) { bottom += mid; ++bottom_n; }
  }
  if (top_n == 0 || bottom_n == 0) return false;
  return dir * (bottom / bottom_n - top / top_n) * 3 >= b.w;
}

std::vector<int> StripShapes::joinedSlashes(int dir) const {
  std::vector<int> out;
  if (!band_) return out;
  const std::vector<int> whole = slashes(dir);
  const int xh = band_->height();
  const int top = band_->top - std::max(2, xh / 4);
  const int bottom = band_->base - 1;
  const int h = bottom - top;
  if (top < 0 || bottom >= grey_.rows || h < 6) return out;
  auto at = [&](int y, int x) {
    return x < 0 || x >= grey_.cols ? 255 : static_cast<int>(grey_.at<std::uint8_t>(y, x));
  };
  // Light enough to part the stroke from a neighbour.
  constexpr int kGap = 180;
  for (int xs = 0; xs < grey_.cols; ++xs) {
    if (at(top, xs) >= kStroke) continue;
    // A slash leans by about 0.35-0.4 of its height; from 0.3 up, a line
    // no longer fits inside an l's stem.
    for (int travel = std::max(3, (h * 3 + 9) / 10); travel * 5 <= h * 3; ++travel) {
      int dark = 0, clear = 0, rows = 0;
      bool inked = true;
      for (int y = top; y <= bottom && inked; ++y) {
        const double x = xs + dir * travel * static_cast<double>(y - top) / h;
        const int xa = static_cast<int>(std::floor(x));
        const int v = std::min(at(y, xa), at(y, xa + 1));
        inked = v < kInk;
        dark += v < kStroke;
        if (y <= band_->top || y >= band_->base) continue;
        ++rows;
        // A lighter pixel within three columns on either side.
        bool left = false, right = false;
        for (int d = 1; d <= 3; ++d) {
          left = left || at(y, xa - d) >= kGap;
          right = right || at(y, xa + 1 + d) >= kGap;
        }
        clear += left && right;
      }
      if (!inked || dark * 5 < (h + 1) * 4 || clear * 2 < rows) continue;
      // Slanted, not a vertical stem the line fits inside: where the
      // stroke ends at the bottom is clear at the top, and the other way.
      const int xe = xs + dir * travel;
      int off = 0, quarter = 0;
      for (int k = 0; k * 4 <= h; ++k, ++quarter) {
        off += std::min(at(top + k, xe), at(top + k, xe + dir)) >= kInk;
        off += std::min(at(bottom - k, xs), at(bottom - k, xs - dir)) >= kInk;
      }
      if (off < quarter * 2 - 1) continue;
      const int centre = xs + dir * travel / 2;
      const bool known = std::any_of(whole.begin(), whole.end(),
                                     [&](int c) { return std::abs(c - centre) <= xh / 2; });
      if (!known && (out.empty() || centre - out.back() > xh / 3)) out.push_back(centre);
      break;
    }
  }
  return out;
}

std::vector<int> StripShapes::slashes(int dir) const {
  std::vector<int> out;
  if (!band_) return out;

  for (std::size_t i = 0; i < blobs_.size(); ++i)
    if (isSlash(static_cast<int>(i), dir)) out.push_back(blobs_[i].centre());
  return out;
}

}  // namespace vigil::ocr
