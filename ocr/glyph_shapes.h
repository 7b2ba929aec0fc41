// Shape checks on the prepared strip (grey, dark text on white) for letters
// Tesseract's LSTM confuses at caption sizes while the pixels still tell
// them apart, e.g. an l read as i: one narrow stroke rising above the
// lowercase letters, and no dot. The reader asks about the columns of one
// recognised symbol; the LSTM's symbol boxes are loose (often wider than
// the glyph), so the checks look at whole ink components centred in them.
#pragma once

#include <algorithm>
#include <optional>
#include <vector>

#include <opencv2/core.hpp>

namespace vigil::ocr {

// Rows of the strip's lowercase body, from the x-height line to the
// baseline (inclusive): the rows holding most of the line's ink.
struct LowercaseBand {
  int top = 0;
  int base = 0;
  int height() const { return base - top + 1; }
};

class StripShapes {
 public:
  explicit StripShapes(const cv::Mat& grey);

  const std::optional<LowercaseBand>& band() const { return band_; }
  // A stroke from well above the x-height line down to the baseline in
  // [x0, x1): a blob at most ~a third of the x-height wide centred there,
  // or, where tight fonts join letters into one blob, an unbroken column
  // in the middle third of the range. Returns the blob holding it. The
  // stroke is dark all the way, unless `through_grey`: then anti-aliased
  // grey may join its parts (a tilde blurred into the stem below it).
  std::optional<int> tallStroke(int x0, int x1, bool through_grey = false) const;
  // Columns [x0, x1) of one vertical stroke through the lowercase body.
  struct Stem {
    int x0 = 0, x1 = 0;
  };
  // The stems starting in [x0, x1), left to right: adjacent columns inked
  // over the whole lowercase band (an n's stems, an i's, the side of a
  // round letter).
  std::vector<Stem> stems(int x0, int x1) const;
  // Whether a column of `s` runs on from well above the x-height line to
  // the baseline, as tallStroke's does.
  bool rises(const Stem& s, bool through_grey = false) const;
  // Whether ink joined to `s` above the x-height line reaches left of it
  // over the letter, as a tilde does from an n's right stem.
  bool markLeft(const Stem& s) const;
  // Ink just right of `s` at the x-height line: a t's crossbar.
  bool barRight(const Stem& s) const;
  // A small mark wholly above the x-height line centred in [x0, x1).
  bool hasDot(int x0, int x1) const { return dots(x0, x1) > 0; }
  // How many such marks: two over a vowel are its diaeresis.
  int dots(int x0, int x1) const;
  // How many letters carry a mark above them: a small mark above the
  // x-height line with, straight below it, a letter wider than a stem (an
  // i's or j's dot sits on a stem; a quote has nothing below it).
  int accentedLetters() const;
  // How many small marks centred in [x0, x1) lie within the lowercase
  // band: two are a colon.
  int bandDots(int x0, int x1) const;
  // A blob centred in [x0, x1) reaching well below the baseline (a c's
  // cedilla; a c never descends).
  bool descends(int x0, int x1) const;
  // The tall stroke in [x0, x1) (see tallStroke) stands on a foot reaching
  // out on both sides at the baseline, as a 1 does in DejaVu-like caption
  // fonts and an l, I or | of a sans font does not.
  bool footed(int x0, int x1) const;
  // The ink centred in [x0, x1) is one narrow stroke from the x-height line
  // to the baseline and nothing else: the stem a letter starts with, and
  // no whole letter (an i has its dot, an l rises higher, an n its arch).
  bool bareStem(int x0, int x1) const;
  // Centres (columns) of colons: two small marks one above the other, the
  // upper one in the top half of the lowercase band, the lower one on the
  // baseline (a semicolon's comma reaches below it).
  std::vector<int> colons() const;
  // Centres (columns) of the blobs drawn like a backslash (dir +1: the
  // stroke goes right as it goes down) or a slash (dir -1): one thin
  // slanted stroke, taller than the lowercase band, down to the baseline.
  std::vector<int> slashes(int dir) const;
  // Centres of such strokes that touch a neighbour (tight fonts), so that
  // they are not blobs of their own: a straight dark line from above the
  // x-height line to the baseline, slanted by a third to a half of its
  // height, with lighter pixels on both sides over most of the band.
  std::vector<int> joinedSlashes(int dir) const;

 private:
  struct Blob {
    int x, y, w, h;
    int centre() const { return x + w / 2; }
  };
  bool isSlash(int label, int dir) const;
  // Whether column x of blob `label` is a tall stroke (see tallStroke).
  bool strokeAt(int x, int label, bool through_grey) const;
  // The row a tall stroke rises to at least: ascenders reach ~0.3-0.45
  // x-heights above the x-height line at caption sizes.
  int ascenderRow() const { return band_->top - std::max(1, band_->height() / 4); }
  // Whether the rows strokeAt looks at lie inside the strip.
  bool tallEnough() const { return ascenderRow() >= 0 && band_->base - 1 < labels_.rows; }
  // At most a third of the x-height wide (and a little): a stem, not a letter.
  bool narrow(const Blob& b) const { return b.w * 3 <= band_->height() + 2; }
  // Half the x-height or less both ways: a dot, a mark, a colon's half.
  bool small(const Blob& b) const { return b.w * 2 <= band_->height() && b.h * 2 <= band_->height(); }
  // A small mark wholly above the x-height line: a dot, an accent.
  bool markAbove(const Blob& b) const { return small(b) && b.y + b.h - 1 <= band_->top; }
  std::optional<LowercaseBand> band_;
  std::vector<Blob> blobs_;
  cv::Mat grey_;    // the strip (shared, not copied)
  cv::Mat labels_;  // blob index + 1 per pixel, 0 for background
};

}  // namespace vigil::ocr
