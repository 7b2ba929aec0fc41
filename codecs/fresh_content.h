// How much of a picture's content a change brings that the picture did not
// show before. The recorder places keyframes with it (docs/recording.md
// "Keyframes"): a keyframe codes the whole picture, so where most of what
// the screen shows is new anyway (a page of output over a page, a pager
// left, a window of text opened) it costs little more than the P-frame that
// would code the new content.
//
// Works on one 8-bit plane (luma) that is updated in place: remember() the
// rows about to change, update the plane, then share(). The picture is cut
// into kStrips column strips; one row of a strip is a segment, compared by
// hash. Not thread-safe (the recorder's worker owns one).
#pragma once

#include <cstdint>
#include <vector>

namespace vigil::codecs {

class FreshContent {
 public:
  static constexpr int kStrips = 8;
  struct Plane {
    const std::uint8_t* data;
    int stride, width, height;
  };

  // Hashes rows [y0, y1) of `p`, the picture before the change.
  void remember(Plane p, int y0, int y1);
  // Of the picture's content (its segments that are not one flat colour),
  // the share that differs from before in the remembered rows and was shown
  // nowhere in them before: 0..1. Content moved up or down within those rows
  // (scrolling) is not new; moved sideways it is (a dragged window: then a
  // keyframe placed here costs what an unplaced one would). `p` must have the
  // remembered plane's size; 0 if nothing was remembered.
  double share(Plane p) const;

 private:
  int y0_ = 0, y1_ = 0, width_ = 0;
  std::vector<std::uint64_t> before_;  // strip-major: [strip * rows + (y - y0_)]
  std::vector<std::uint64_t> sorted_;  // the same, each strip's run sorted
};

}  // namespace vigil::codecs
