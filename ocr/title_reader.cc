#include "ocr/title_reader.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

#include "ocr/glyph_shapes.h"
#include "ocr/symbol_review.h"

namespace vigil::ocr {
namespace {

struct TessDeleter {
  void operator()(tesseract::TessBaseAPI* api) const {
    api->End();
    delete api;
  }
};
using TessPtr = std::unique_ptr<tesseract::TessBaseAPI, TessDeleter>;

// Per-row background: the most frequent colour of the row. Captions are
// plain or vertical gradients, so one colour dominates each row even when
// anti-aliased text covers most of it.
std::vector<std::array<int, 3>> rowBackgrounds(const cv::Mat& bgr) {
  std::vector<std::array<int, 3>> out(bgr.rows);
  std::vector<std::uint32_t> v(bgr.cols);
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3b* row = bgr.ptr<cv::Vec3b>(y);
    for (int x = 0; x < bgr.cols; ++x)
      v[x] = (std::uint32_t{row[x][2]} << 16) | (std::uint32_t{row[x][1]} << 8) | row[x][0];
    std::sort(v.begin(), v.end());
    std::uint32_t best = v.empty() ? 0 : v[0];
    std::size_t best_n = 0;
    for (std::size_t i = 0; i < v.size();) {
      std::size_t j = i;
      while (j < v.size() && v[j] == v[i]) ++j;
      if (j - i > best_n) { best_n = j - i; best = v[i]; }
      i = j;
    }
    out[y] = {static_cast<int>(best & 0xff), static_cast<int>((best >> 8) & 0xff),
              static_cast<int>(best >> 16)};
  }
  return out;
}

// The median of an 8-bit image, by its histogram.
int medianOf(const cv::Mat& grey) {
  std::array<int, 256> hist{};
  for (int y = 0; y < grey.rows; ++y)
    for (int x = 0; x < grey.cols; ++x) ++hist[grey.at<std::uint8_t>(y, x)];
  const long long half = static_cast<long long>(grey.total()) / 2;
  long long seen = 0;
  for (int v = 0; v < 256; ++v)
    if ((seen += hist[v]) > half) return v;
  return 255;
}

// "Ink" image: how far each pixel is from its row's background, so dark,
// light and accent bars all become dark text on white. Only ink of the
// text's polarity counts: a light caption's dark drop shadow (openbox
// Clearlooks) or a halo would otherwise thicken every glyph into a blob.
cv::Mat inkImage(const Frame& img, Rect r) {
  const cv::Mat src(img.height(), img.width(), CV_8UC4, const_cast<std::uint8_t*>(img.data()),
                    static_cast<std::size_t>(img.stride()));
  cv::Mat bgr;
  cv::cvtColor(src(cv::Rect(r.x, r.y, r.w, r.h)), bgr, cv::COLOR_BGRA2BGR);
  const auto mode = rowBackgrounds(bgr);
  cv::Mat d(bgr.rows, bgr.cols, CV_8UC1);
  cv::Mat lighter(bgr.rows, bgr.cols, CV_8UC1);  // 1 where the pixel is lighter than the background
  int peak = 1;
  for (int y = 0; y < bgr.rows; ++y) {
    const cv::Vec3b* row = bgr.ptr<cv::Vec3b>(y);
    // Background at both ends of the row (the strip has a margin there),
    // interpolated across: survives horizontal gradients, where no single
    // colour dominates the row. Falls back to the row's mode when the ends
    // disagree (an icon or button edge in the margin).
    std::array<int, 3> left{}, right{};
    for (int c = 0; c < 3; ++c) {
      std::array<int, 3> l{}, rr{};
      for (int i = 0; i < 3; ++i) {
        l[i] = row[std::min(i, bgr.cols - 1)][c];
        rr[i] = row[std::max(0, bgr.cols - 1 - i)][c];
      }
      std::sort(l.begin(), l.end());
      std::sort(rr.begin(), rr.end());
      left[c] = l[1];
      right[c] = rr[1];
    }
    int spread = 0;
    for (int c = 0; c < 3; ++c) spread = std::max(spread, std::abs(left[c] - right[c]));
    const bool ends = spread <= 40;
    std::uint8_t* out = d.ptr<std::uint8_t>(y);
    std::uint8_t* up = lighter.ptr<std::uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      int m = 0, sum = 0;
      for (int c = 0; c < 3; ++c) {
        const int b = ends ? left[c] + (right[c] - left[c]) * x / std::max(1, bgr.cols - 1)
                           : mode[y][c];
        m = std::max(m, std::abs(row[x][c] - b));
        sum += row[x][c] - b;
      }
      out[x] = static_cast<std::uint8_t>(m);
      up[x] = sum > 0;
      peak = std::max(peak, m);
    }
  }
  // A screen that came through a lossy video codec (RDP's AVC420) has no
  // exact background colour: every pixel is a few levels off, the stretch
  // below would make all of them faint ink, and chroma smear thickens it.
  // Most of a strip is background, so its median ink is that noise; twice
  // it is taken off everywhere. A lossless strip's median is 0: unchanged.
  // (docs/ocr.md: crf 18 screens 60.7 -> 75.5 % exact, the corpus as it was.)
  if (const int floor = std::min(32, 2 * medianOf(d)); floor > 0) {
    d -= floor;  // saturates at 0
    peak = std::max(1, peak - floor);
  }
  // The text is the polarity holding most of the strong ink.
  long long light = 0, dark = 0;
  for (int y = 0; y < d.rows; ++y)
    for (int x = 0; x < d.cols; ++x) {
      const int v = d.at<std::uint8_t>(y, x);
      if (v * 2 >= peak) (lighter.at<std::uint8_t>(y, x) ? light : dark) += v;
    }
  const std::uint8_t text_lighter = light > dark;
  // Stretch so the strongest ink is black (faint inactive captions read as
  // well as bold ones), with gamma 0.6: the thin strokes of `\`, `l` and
  // `1` are mostly anti-aliased grey at caption sizes and would fade.
  std::array<std::uint8_t, 256> lut{};
  for (int i = 0; i < 256; ++i)
    lut[i] = cv::saturate_cast<std::uint8_t>(
        255.0 - 255.0 * std::pow(std::min(1.0, static_cast<double>(i) / peak), 0.6));
  cv::Mat grey(d.rows, d.cols, CV_8UC1);
  for (int y = 0; y < d.rows; ++y)
    for (int x = 0; x < d.cols; ++x)
      grey.at<std::uint8_t>(y, x) =
          lighter.at<std::uint8_t>(y, x) == text_lighter ? lut[d.at<std::uint8_t>(y, x)] : 255;
  return grey;
}

// Grey levels, not a binarised image: the LSTM reads the anti-aliasing.
// Measured on the corpus (docs/ocr.md): Otsu after upscaling merged small
// glyphs, and x2 Lanczos read as well as x3 or x4 at half the cost.
cv::Mat prepare(const Frame& img, Rect r, int scale) {
  cv::Mat big;
  cv::resize(inkImage(img, r), big, cv::Size(), scale, scale, cv::INTER_LANCZOS4);
  cv::Mat framed;
  const int m = 6 * scale;
  cv::copyMakeBorder(big, framed, m, m, m, m, cv::BORDER_CONSTANT, cv::Scalar(255));
  return framed;
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// An eng read whose every word is at least this sure is not read again with
// Latin (68 % of the corpus). Measured on the corpus, thread CPU against
// Latin alone in the same run: 70 gave 77.2 % exact (Latin 75.9 %) at a
// p50 of 28 ms (37 ms); 80 gave 79.0 % at 32 ms (35 ms), reading both every
// time 79.7 % at twice Latin's cost.
constexpr float kSureQuickWord = 70.0f;

constexpr std::string_view kEllipsis = "\xE2\x80\xA6";  // …
constexpr std::string_view kEnDash = "\xE2\x80\x93";    // –
constexpr std::string_view kEmDash = "\xE2\x80\x94";    // —

struct Word {
  std::string text;
  float conf;
};

// UTF-8 of the current symbol.
std::string symbolText(const tesseract::ResultIterator& it) {
  std::unique_ptr<char[]> t(it.GetUTF8Text(tesseract::RIL_SYMBOL));
  return t ? std::string(t.get()) : std::string();
}

// A dash read off a caption, told by its length against the x-height: the
// LSTM reads hyphen, en dash and em dash alike at caption sizes, while
// their widths differ. Measured on the corpus and the end-to-end desktops
// (recognised image, x2): hyphens 0.29-0.67, en dashes 0.71-0.83. At 8-9 pt
// that is a pixel apart, so a borderline dash can still be taken wrongly.
std::string_view dashByWidth(int width, double x_height) {
  const double w = width / x_height;
  if (w < 0.69) return "-";
  return w < 1.4 ? kEnDash : kEmDash;
}

// A dash standing between words (not a hyphen inside one): a word of its
// own, or glued to the dots of a title cut right after it ("Crème brûlée
// –…ws PowerShell").
bool standaloneDash(const std::vector<Symbol>& word, std::size_t k) {
  const std::string& t = word[k].text;
  if (k != 0 || (t != "-" && t != kEnDash && t != kEmDash)) return false;
  if (word.size() == 1) return true;
  return word.size() >= 4 && word[1].text == "." && word[2].text == "." && word[3].text == ".";
}

std::vector<Word> recognisedWords(tesseract::TessBaseAPI& api, const StripShapes& shapes) {
  std::vector<std::vector<Symbol>> symbols;
  std::vector<Word> words;
  std::vector<int> x_heights;  // heights of letters without ascenders or descenders
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (!it) return words;
  do {
    if (it->Empty(tesseract::RIL_SYMBOL)) continue;
    if (words.empty() || it->IsAtBeginningOf(tesseract::RIL_WORD)) {
      words.push_back({"", it->Confidence(tesseract::RIL_WORD)});
      symbols.emplace_back();
    }
    Symbol sym{symbolText(*it)};
    int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
    if (it->BoundingBox(tesseract::RIL_SYMBOL, &x0, &y0, &x1, &y1)) {
      sym.x0 = x0;
      sym.x1 = x1;
      if (sym.text.size() == 1 && std::string_view("acemnorsuvwxz").find(sym.text[0]) != std::string_view::npos)
        x_heights.push_back(y1 - y0);
    }
    symbols.back().push_back(std::move(sym));
  } while (it->Next(tesseract::RIL_SYMBOL));

  double x_height = 0;
  if (x_heights.size() >= 3) {
    std::nth_element(x_heights.begin(), x_heights.begin() + x_heights.size() / 2, x_heights.end());
    x_height = x_heights[x_heights.size() / 2];
  }
  // Letters first: a stroke the ñ rule explains (an n's stem rising into
  // its tilde) is then no longer an i that a slash could take.
  for (auto& word : symbols) reviewSymbols(word, shapes);
  reviewSlashes(symbols, shapes);
  reviewColons(symbols, shapes);
  if (!symbols.empty()) dropClippedStem(symbols.back(), shapes);
  for (std::size_t i = 0; i < words.size(); ++i) {
    for (std::size_t k = 0; k < symbols[i].size(); ++k) {
      const Symbol& sym = symbols[i][k];
      if (x_height > 0 && standaloneDash(symbols[i], k))
        words[i].text += dashByWidth(sym.width(), x_height);
      else
        words[i].text += sym.text;
    }
    while (!words[i].text.empty() && isSpace(words[i].text.back())) words[i].text.pop_back();
  }
  std::erase_if(words, [](const Word& w) { return w.text.empty(); });
  return words;
}

// Drops what is not the title: icon and button remnants (one or two
// low-confidence marks at either end) and, after a title cut at the end,
// the unsure words of the caption buttons right next to the cut. Window
// managers shorten long titles with an ellipsis, at the end or in the
// middle; Tesseract reads it as three dots, which become "…" here.
void dropRemnants(std::vector<Word>& words) {
  auto junk = [](const Word& w) { return w.conf < 50.0f && w.text.size() <= 2; };
  while (!words.empty() && junk(words.front())) words.erase(words.begin());
  while (!words.empty() && junk(words.back())) words.pop_back();
  std::size_t cut = words.size();
  for (std::size_t i = 0; i < words.size(); ++i) {
    // Four dots: the title's own period, then the cut ("Übersicht.…").
    for (std::size_t at; (at = words[i].text.find("...")) != std::string::npos;) {
      const bool period = words[i].text.compare(at, 4, "....") == 0;
      words[i].text.replace(at, period ? 4 : 3, period ? "." + std::string(kEllipsis) : std::string(kEllipsis));
    }
    if (words[i].text.ends_with(kEllipsis)) cut = i;
  }
  // Button glyphs read as unsure words, or as sure one- or two-character
  // ones without a lowercase letter (icewm's read as "L1 7"); a title cut in
  // the middle goes on with real words.
  auto button = [](const Word& w) {
    return w.conf < 60.0f ||
           (w.text.size() <= 2 && std::none_of(w.text.begin(), w.text.end(), [](char c) {
              return c >= 'a' && c <= 'z';
            }));
  };
  if (cut < words.size()) {
    while (words.size() > cut + 1 && button(words.back())) words.pop_back();
  }
}

// The title and its mean word confidence. Bold fonts widen "@" and the
// ellipsis: Tesseract then splits "user@host" or "Long…" in two, and a
// title cut in the middle ("admin@db01: /…nfig/production", openbox) after
// its ellipsis. Search splits words at the ellipsis anyway, so a rare real
// space after one costs nothing there. File names lose their spaces too:
// the gap before an underscore or a dot's narrow glyph reads as one
// ("Résumé _José", "settings .ini", "deploy. bat").
bool extensionLike(const std::string& w) {
  return w.size() <= 4 && std::all_of(w.begin(), w.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         }) && std::any_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

bool gluedToPrevious(const std::string& prev, const std::string& w) {
  if (w.front() == '@' || w.starts_with(kEllipsis) || prev.ends_with(kEllipsis)) return true;
  if (w.front() == '_' || prev.ends_with('_')) return true;
  if (w.size() > 1 && w[0] == '.' && w[1] >= 'a' && w[1] <= 'z') return true;
  return prev.size() > 1 && prev.ends_with('.') && std::isalnum(static_cast<unsigned char>(prev[prev.size() - 2])) &&
         extensionLike(w);
}

TitleText joinWords(const std::vector<Word>& words) {
  TitleText out;
  float sum = 0;
  for (const Word& w : words) {
    const bool glued = gluedToPrevious(out.text, w.text);
    if (!out.text.empty() && !glued) out.text += ' ';
    out.text += w.text;
    sum += w.conf;
  }
  out.confidence = words.empty() ? 0.0f : sum / static_cast<float>(words.size());
  return out;
}

// Letters with a mark in a read: Latin-1 and Latin Extended-A letters
// (U+00C0-U+017F, UTF-8 lead bytes C3-C5), less × and ÷.
int accentedLetters(const std::string& text) {
  int n = 0;
  for (std::size_t i = 0; i + 1 < text.size(); ++i) {
    const auto lead = static_cast<unsigned char>(text[i]), next = static_cast<unsigned char>(text[i + 1]);
    if (lead >= 0xC3 && lead <= 0xC5 && !(lead == 0xC3 && (next == 0x97 || next == 0xB7))) ++n;
  }
  return n;
}

// `text` with its accented Latin-1 letters as their base letters (é → e).
std::string withoutAccents(const std::string& text) {
  // U+00C0..U+00FF; '*' where a code point has no base letter (×, ÷, Æ, ß…).
  static constexpr std::string_view kBase =
      "AAAAAA*CEEEEIIII*NOOOOO*OUUUUY**"
      "aaaaaa*ceeeeiiii*nooooo*ouuuuy*y";
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0xC3 && i + 1 < text.size()) {
      const auto n = static_cast<unsigned char>(text[i + 1]);
      const char base = n >= 0x80 && n <= 0xBF ? kBase[n - 0x80] : '*';
      if (base != '*') {
        out += base;
        ++i;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

struct Reading {
  TitleText title;
  float least_sure_word;  // the lowest word confidence
};

// One recognition of the prepared strip, tidied; nullopt when nothing is legible.
// `shapes` measures `m`'s pixels, once for both models.
std::optional<Reading> recognise(tesseract::TessBaseAPI& api, const cv::Mat& m, const StripShapes& shapes) {
  api.SetImage(m.data, m.cols, m.rows, 1, static_cast<int>(m.step));
  if (api.Recognize(nullptr) != 0) return std::nullopt;
  std::vector<Word> words = recognisedWords(api, shapes);
  api.Clear();
  for (const Word& w : words) spdlog::debug("ocr word='{}' conf={:.0f}", w.text, w.conf);
  dropRemnants(words);
  if (words.empty()) return std::nullopt;
  const auto least = std::min_element(words.begin(), words.end(),
                                      [](const Word& x, const Word& y) { return x.conf < y.conf; });
  return Reading{joinWords(words), least->conf};
}

// Of two reads, whether the quick (eng) one is taken: the surer one wins,
// unless the two differ only in accents and the strip shows more accented
// letters than the surer one has; then the accents are drawn ("Müller"
// read "Muller" by a sure eng).
bool preferQuick(const std::optional<Reading>& quick, const std::optional<Reading>& full,
                 int drawn_accents) {
  if (!quick || !full) return quick.has_value();
  const bool quick_surer = quick->title.confidence > full->title.confidence;
  const Reading& sure = quick_surer ? *quick : *full;
  const Reading& other = quick_surer ? *full : *quick;
  const bool accents_drawn = withoutAccents(sure.title.text) == withoutAccents(other.title.text) &&
                             accentedLetters(sure.title.text) < drawn_accents &&
                             accentedLetters(other.title.text) > accentedLetters(sure.title.text);
  return quick_surer != accents_drawn;
}

// Tesseract's OpenMP build runs each LSTM's gates in parallel sections:
// three more threads per strip that mostly spin, on a machine whose cores
// the other workers want. OMP_THREAD_LIMIT cannot help, as the runtime reads
// it when it loads, before main. A max-active-levels of 0 makes every
// parallel region run on the calling thread; the setting is per thread.
// Looked up rather than linked: it must reach the OpenMP runtime Tesseract
// loaded, and there is none when Tesseract was built without OpenMP.
using SetMaxActiveLevels = void (*)(int);
SetMaxActiveLevels findOpenMpLevelSetter() {
  return reinterpret_cast<SetMaxActiveLevels>(dlsym(RTLD_DEFAULT, "omp_set_max_active_levels"));
}

bool installed(const ReaderOptions& options, const std::string& lang) {
  return std::filesystem::exists(std::filesystem::path(options.tessdata_dir) /
                                 (lang + ".traineddata"));
}

Result<TessPtr> loadModel(const ReaderOptions& options, const std::string& lang) {
  if (!installed(options, lang))
    return Status::Error("OCR: no " + lang + ".traineddata in " + options.tessdata_dir +
                         " (install tesseract-ocr-eng / tesseract-ocr-script-latn)");
  TessPtr api(new tesseract::TessBaseAPI());
  if (api->Init(options.tessdata_dir.c_str(), lang.c_str(), tesseract::OEM_LSTM_ONLY) != 0)
    return Status::Error("OCR: Tesseract could not load language '" + lang + "' from " +
                         options.tessdata_dir);
  api->SetPageSegMode(tesseract::PSM_SINGLE_LINE);
  api->SetVariable("debug_file", "/dev/null");
  api->SetVariable("user_defined_dpi", "300");
  // Strips are always dark text on white (inkImage): Tesseract's retry of a
  // low-confidence line on the inverted image would only double its cost.
  api->SetVariable("tessedit_do_invert", "0");
  return api;
}

}  // namespace

struct TitleReader::Impl {
  TessPtr quick;  // eng: null when only one model is in use
  TessPtr full;   // Latin, or the one model asked for
  SetMaxActiveLevels set_max_active_levels = nullptr;  // null: Tesseract has no OpenMP
};

Result<std::unique_ptr<TitleReader>> TitleReader::create(const ReaderOptions& options) {
  auto impl = std::make_unique<Impl>();
  std::string lang = options.language;
  if (lang.empty()) {
    lang = installed(options, "Latin") ? "Latin" : "eng";
    if (lang == "Latin" && installed(options, "eng")) {
      auto quick = loadModel(options, "eng");
      if (!quick) return Status::Error(quick.message());
      impl->quick = std::move(*quick);
    }
  }
  auto full = loadModel(options, lang);
  if (!full) return Status::Error(full.message());
  impl->full = std::move(*full);
  impl->set_max_active_levels = findOpenMpLevelSetter();
  return std::unique_ptr<TitleReader>(new TitleReader(std::move(impl), lang, options));
}

TitleReader::TitleReader(std::unique_ptr<Impl> impl, std::string language, ReaderOptions options)
    : impl_(std::move(impl)), language_(std::move(language)), options_(std::move(options)) {}

TitleReader::~TitleReader() = default;

Frame preprocessStrip(const Frame& img, Rect r, int scale) {
  r = r.intersect(img.bounds());
  if (r.empty()) return {};
  const cv::Mat m = prepare(img, r, scale);
  Frame out(m.cols, m.rows);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) {
      const std::uint8_t v = m.at<std::uint8_t>(y, x);
      out.setPixel(x, y, (std::uint32_t{v} << 16) | (std::uint32_t{v} << 8) | v);
    }
  return out;
}

Result<TitleText> TitleReader::read(const Frame& img, Rect r) {
  r = r.intersect(img.bounds());
  if (r.w < 8 || r.h < 6) return Status::Error("OCR: strip too small");
  const cv::Mat m = prepare(img, r, std::clamp(options_.scale, 1, 6));
  const StripShapes shapes(m);
  if (impl_->set_max_active_levels) impl_->set_max_active_levels(0);  // on the reading thread

  // eng's network (36 px lines, a smaller first LSTM) costs less than half of
  // Latin's (48 px lines): a sure eng read is taken as it is. Otherwise Latin
  // reads too (ä, é, ñ, ü, – are Latin's), and the surer of the two reads
  // wins: their mistakes differ, eng reads Windows captions better. Nor is
  // a sure eng read taken where more letters carry an accent than it read
  // accented (eng has few: "São Paulo – Relatório" read "Sdo Paulo - Relatorio").
  const int drawn_accents = shapes.accentedLetters();
  std::optional<Reading> quick;
  if (impl_->quick) {
    quick = recognise(*impl_->quick, m, shapes);
    if (quick && quick->least_sure_word >= kSureQuickWord &&
        accentedLetters(quick->title.text) >= drawn_accents)
      return quick->title;
  }
  const std::optional<Reading> full = recognise(*impl_->full, m, shapes);
  const std::optional<Reading>& best = preferQuick(quick, full, drawn_accents) ? quick : full;
  if (!best) return Status::Error("OCR: nothing legible");
  const TitleText& out = best->title;
  // Two models that read the same title letter for letter are believed
  // even when both were unsure of it (a UNC path of backslashes and digits
  // is often read right at a low confidence); junk rarely reads the same
  // twice. The tracker still wants such a title read twice in a row.
  const bool agreed = quick && full && quick->title.text == full->title.text &&
                      std::count_if(out.text.begin(), out.text.end(), [](unsigned char c) {
                        return std::isalnum(c);
                      }) >= 4;
  if (out.confidence < options_.min_confidence && !agreed)
    return Status::Error("OCR: low confidence " + std::to_string(static_cast<int>(out.confidence)) +
                         " for '" + out.text + "'");
  return out;
}

}  // namespace vigil::ocr
