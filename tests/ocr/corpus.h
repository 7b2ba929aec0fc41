// The OCR accuracy corpus: title bars with known text, generated on the fly.
// Real windows (xterm -T) under openbox, xfwm4 and icewm on Xvfb, captured
// with `import -window root`; plus Windows 10/11 and Windows 7-style
// captions drawn with FreeType (DejaVu Sans at Segoe UI's 12 px).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/frame.h"
#include "core/status.h"
#include "tests/ocr/x_desktop.h"

namespace cv { class Mat; }

namespace vigil::ocr::testing {

struct Sample {
  std::string image;     // PNG of the whole screen
  std::string style;     // "openbox/Clearlooks", "win10-dark", ...
  Rect locate;           // real: the window's client rect; synthetic: the caption bar
  std::string expected;  // the full title
  // How the window manager may have shortened a title too long for its
  // bar: with "…" at the end or in the middle (openbox, icewm), or clipped
  // without a mark (xfwm4).
  enum class Cut { None = 0, Ellipsis = 1, Clip = 2 };
  Cut cut = Cut::None;
};

// `n` realistic titles (paths with \ and :, accents, app names), fixed seed.
std::vector<std::string> makeTitles(int n, unsigned seed);
// Long titles that a narrow window must cut.
std::vector<std::string> makeLongTitles(int n, unsigned seed);

// Opens the titles as xterm windows on `desktop`, activates each in turn and
// saves a screenshot per window into `dir`.
Result<std::vector<Sample>> captureReal(XDesktop& desktop, const WmSpec& wm,
                                        const std::vector<std::string>& titles,
                                        const std::vector<std::string>& long_titles,
                                        const std::string& dir);

// Windows-style screens (one focused window in front of an inactive one).
std::vector<Sample> renderWindows(const std::string& style, const std::vector<std::string>& titles,
                                  const std::vector<std::string>& long_titles,
                                  const std::string& dir, unsigned seed);

// One Windows-style screen (1024x640): an inactive window behind a focused
// one. `front_bar` gets the focused caption's rectangle; returns the screen
// and sets `shown` to the title as drawn (cut with "…" if too long).
Frame renderWindowsScreen(const std::string& style, const std::string& front_title,
                          const std::string& back_title, Rect* front_bar,
                          std::string* shown = nullptr, int front_x = 120, int front_w = 700);

Frame fromMat(const cv::Mat& bgr);  // 8-bit BGR, as OpenCV draws and reads
Frame loadPng(const std::string& path);
void savePng(const Frame& f, Rect r, const std::string& path);  // the part `r` of `f`

// CPU time of the calling thread in ms: reads are timed by CPU, as the
// machines they run on are shared and wall time drifts.
double threadCpuMs();

struct Score {
  int samples = 0, located = 0, focus_ok = 0, exact = 0;
  long long edits = 0, chars = 0;
  double readMs = 0;
  double exactRate() const { return samples ? 100.0 * exact / samples : 0; }
  double cer() const { return chars ? 100.0 * static_cast<double>(edits) / chars : 0; }
};

// Unicode code point edit distance.
int editDistance(const std::string& a, const std::string& b);
// Distance to the truth: the full title; for Cut::Ellipsis, when the read
// has an ellipsis, also any non-empty prefix + "…" + any suffix; for
// Cut::Clip also any non-empty prefix. `truth` gets the closest candidate.
int titleDistance(const Sample& s, const std::string& read, std::string* truth);

}  // namespace vigil::ocr::testing
