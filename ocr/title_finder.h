// Finds window caption bars (title bars) in a session's framebuffer and tells
// which one belongs to the window in front. Works from pixels only: no agent,
// no window-manager hints. Covers Windows 10/11 and Server 2016-2022 captions
// (light, dark, accent), Windows 7/2008 gradient captions and Linux window
// managers (openbox, xfwm4, icewm) — see docs/ocr.md for the method.
#pragma once

#include <cstdint>
#include <vector>

#include "core/frame.h"

namespace vigil::ocr {

// A run of ink columns in a caption: a glyph group, an icon or a button.
// Columns are bar-local (from the bar's first inner column), inclusive.
struct InkGroup {
  int x0 = 0, x1 = 0, h = 0;
};

struct TitleStrip {
  Rect bar;              // the whole caption bar, frame coordinates
  Rect text;             // the part holding the title (icon and buttons left out)
  bool focused = false;  // the caption of the window in front
  bool dark = false;     // light text on a darker bar
  std::uint64_t hash = 0;  // of the pixels in `text`: same hash, same title
  double focus_score = 0;  // text contrast + bar colourfulness; highest wins
  // What the bar alone told: its ink groups, groups[first..last] taken
  // for the title, and `text` as judged from them. The finder narrows
  // `text` where another caption on the screen shows that groups at the
  // title's ends are marks its theme draws (see TitleFinder::find).
  std::vector<InkGroup> groups;
  int first = 0, last = -1;
  Rect judged_text;
};

struct FinderOptions {
  int min_bar_width = 100;   // narrower strips are buttons or tabs, not captions
  int min_bar_height = 13;   // Linux themes go down to ~15 px; Windows is 22-32
  int max_bar_height = 44;   // at 100 % scaling; beyond that it is client content
};

// Stateless and cheap to copy; find() may run on any thread, concurrently.
class TitleFinder {
 public:
  explicit TitleFinder(FinderOptions options = {}) : options_(options) {}

  // All caption bars in `fb`, top to bottom; at most one is `focused` (none
  // when no bar stands out, e.g. an empty desktop). O(pixels) with small
  // constants: a few ms for 1280x800 on one core. A window manager draws
  // its icons and buttons at fixed distances from a caption's ends; in a
  // narrow window they can sit as close to the title as its letters do
  // (icewm), where a wider caption of the same height on the screen shows
  // them apart: such marks are left out of the narrow caption's `text`.
  std::vector<TitleStrip> find(const Frame& fb) const;

  // The same for `fb` given `previous`, the result for an earlier screen of
  // the same size, and the rows [y0, y1) where pixels changed since: only
  // caption tops within reach of those rows are looked at again, the other
  // captions are kept. Equals find(fb) but where captions overlap.
  std::vector<TitleStrip> update(const Frame& fb, const std::vector<TitleStrip>& previous, int y0,
                                 int y1) const;

 private:
  // Captions with their top edge in rows [top0, top1], plus `kept`.
  std::vector<TitleStrip> scan(const Frame& fb, int top0, int top1,
                               std::vector<TitleStrip> kept) const;
  FinderOptions options_;
};

// FNV-1a over the BGR bytes of `r` in `fb` (the unused X byte is ignored, so
// the hash is stable across protocols that fill it differently).
std::uint64_t hashPixels(const Frame& fb, Rect r);

}  // namespace vigil::ocr
