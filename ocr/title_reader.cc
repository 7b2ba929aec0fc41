#include "ocr/title_reader.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>

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

// "Ink" image: distance of each pixel from its row's background, so dark,
// light and accent bars all become dark text on white without guessing
// the polarity.
cv::Mat inkImage(const Frame& img, Rect r) {
  const cv::Mat src(img.height(), img.width(), CV_8UC4, const_cast<std::uint8_t*>(img.data()),
                    static_cast<std::size_t>(img.stride()));
  cv::Mat bgr;
  cv::cvtColor(src(cv::Rect(r.x, r.y, r.w, r.h)), bgr, cv::COLOR_BGRA2BGR);
  const auto mode = rowBackgrounds(bgr);
  cv::Mat d(bgr.rows, bgr.cols, CV_8UC1);
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
    for (int x = 0; x < bgr.cols; ++x) {
      int m = 0;
      for (int c = 0; c < 3; ++c) {
        const int b = ends ? left[c] + (right[c] - left[c]) * x / std::max(1, bgr.cols - 1)
                           : mode[y][c];
        m = std::max(m, std::abs(row[x][c] - b));
      }
      out[x] = static_cast<std::uint8_t>(m);
      peak = std::max(peak, m);
    }
  }
  // Stretch so the strongest ink is black: faint (inactive) captions read
  // as well as bold ones.
  cv::Mat grey;
  d.convertTo(grey, CV_8UC1, -255.0 / peak, 255.0);
  return grey;
}

cv::Mat prepare(const Frame& img, Rect r, int scale, bool binarize) {
  cv::Mat grey = inkImage(img, r);
  cv::Mat big;
  cv::resize(grey, big, cv::Size(), scale, scale, cv::INTER_CUBIC);
  cv::Mat bin = big;
  if (binarize) cv::threshold(big, bin, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  cv::Mat framed;
  const int m = 6 * scale;
  cv::copyMakeBorder(bin, framed, m, m, m, m, cv::BORDER_CONSTANT, cv::Scalar(255));
  return framed;
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

}  // namespace

struct TitleReader::Impl {
  TessPtr api;
};

Result<std::unique_ptr<TitleReader>> TitleReader::create(const ReaderOptions& options) {
  // Tesseract's OpenMP would otherwise spread one strip over every core and
  // fight the other workers; it reads the variable when its runtime starts.
  setenv("OMP_THREAD_LIMIT", "1", 0);
  std::string lang = options.language;
  namespace fs = std::filesystem;
  if (lang.empty())
    lang = fs::exists(fs::path(options.tessdata_dir) / "Latin.traineddata") ? "Latin" : "eng";
  if (!fs::exists(fs::path(options.tessdata_dir) / (lang + ".traineddata")))
    return Status::Error("OCR: no " + lang + ".traineddata in " + options.tessdata_dir +
                         " (install tesseract-ocr-eng / tesseract-ocr-script-latn)");
  TessPtr api(new tesseract::TessBaseAPI());
  if (api->Init(options.tessdata_dir.c_str(), lang.c_str(), tesseract::OEM_LSTM_ONLY) != 0)
    return Status::Error("OCR: Tesseract could not load language '" + lang + "' from " +
                         options.tessdata_dir);
  api->SetPageSegMode(tesseract::PSM_SINGLE_LINE);
  api->SetVariable("debug_file", "/dev/null");
  api->SetVariable("user_defined_dpi", "300");
  auto impl = std::make_unique<Impl>();
  impl->api = std::move(api);
  return std::unique_ptr<TitleReader>(new TitleReader(std::move(impl), lang, options));
}

TitleReader::TitleReader(std::unique_ptr<Impl> impl, std::string language, ReaderOptions options)
    : impl_(std::move(impl)), language_(std::move(language)), options_(std::move(options)) {}

TitleReader::~TitleReader() = default;

Frame preprocessStrip(const Frame& img, Rect r, int scale) {
  r = r.intersect(img.bounds());
  if (r.empty()) return {};
  const cv::Mat m = prepare(img, r, scale, true);
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
  const cv::Mat m = prepare(img, r, std::clamp(options_.scale, 1, 6), options_.binarize);
  tesseract::TessBaseAPI& api = *impl_->api;
  api.SetImage(m.data, m.cols, m.rows, 1, static_cast<int>(m.step));
  if (api.Recognize(nullptr) != 0) return Status::Error("OCR: recognition failed");

  // Words, with leading/trailing low-confidence ones (icon or button
  // remnants) dropped.
  struct Word {
    std::string text;
    float conf;
  };
  std::vector<Word> words;
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (it) {
    do {
      std::unique_ptr<char[]> w(it->GetUTF8Text(tesseract::RIL_WORD));
      if (!w) continue;
      std::string text(w.get());
      while (!text.empty() && isSpace(text.back())) text.pop_back();
      if (!text.empty()) words.push_back({std::move(text), it->Confidence(tesseract::RIL_WORD)});
    } while (it->Next(tesseract::RIL_WORD));
  }
  api.Clear();
  for (const Word& w : words) spdlog::debug("ocr word='{}' conf={:.0f}", w.text, w.conf);
  // Icon and button remnants read as one or two low-confidence marks.
  auto junk = [](const Word& w) { return w.conf < 50.0f && w.text.size() <= 2; };
  while (!words.empty() && junk(words.front())) words.erase(words.begin());
  while (!words.empty() && junk(words.back())) words.pop_back();
  if (words.empty()) return Status::Error("OCR: nothing legible");

  TitleText out;
  float sum = 0;
  for (const Word& w : words) {
    if (!out.text.empty()) out.text += ' ';
    out.text += w.text;
    sum += w.conf;
  }
  out.confidence = sum / static_cast<float>(words.size());
  // Window managers shorten long titles with an ellipsis; some draw three dots.
  if (out.text.size() > 3 && out.text.compare(out.text.size() - 3, 3, "...") == 0)
    out.text.replace(out.text.size() - 3, 3, "\xE2\x80\xA6");
  if (out.confidence < options_.min_confidence)
    return Status::Error("OCR: low confidence " + std::to_string(static_cast<int>(out.confidence)) +
                         " for '" + out.text + "'");
  return out;
}

}  // namespace vigil::ocr
