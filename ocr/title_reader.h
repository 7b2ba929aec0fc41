// Reads the text of one caption strip with Tesseract (LSTM, single-line mode).
// One TitleReader owns one long-lived Tesseract instance: create it once per
// worker thread and reuse it; start-up costs ~100 ms, a strip ~10-30 ms.
#pragma once

#include <memory>
#include <string>

#include "core/frame.h"
#include "core/status.h"

namespace vigil::ocr {

struct ReaderOptions {
  std::string tessdata_dir = "/usr/share/tesseract-ocr/5/tessdata";
  // Empty: "Latin" (all Latin-script letters: é, ü, ñ, …) when its traineddata
  // is installed (Debian: tesseract-ocr-script-latn), otherwise "eng".
  std::string language;
  int scale = 2;                 // upscaling before recognition (2-4)
  float min_confidence = 40.0f;  // mean word confidence below this is junk (docs/ocr.md)
};

struct TitleText {
  std::string text;         // UTF-8, whitespace collapsed, trimmed
  float confidence = 0.0f;  // Tesseract's mean word confidence, 0-100
};

class TitleReader {
 public:
  // Fails with an actionable message when the traineddata cannot be loaded.
  static Result<std::unique_ptr<TitleReader>> create(const ReaderOptions& options = {});
  ~TitleReader();
  TitleReader(const TitleReader&) = delete;
  TitleReader& operator=(const TitleReader&) = delete;

  // Reads the title in `r` of `img` (BGRX), on the calling thread only (one
  // reader is one core). `r` should be a TitleStrip::text
  // rectangle: one text line on a plain or gradient bar, any polarity.
  // Errors: empty/out-of-frame rect, nothing legible, confidence below
  // min_confidence (the message then carries what was read).
  // Not thread-safe: one thread at a time per reader.
  Result<TitleText> read(const Frame& img, Rect r);

  const std::string& language() const { return language_; }

 private:
  struct Impl;
  TitleReader(std::unique_ptr<Impl> impl, std::string language, ReaderOptions options);
  std::unique_ptr<Impl> impl_;
  std::string language_;
  ReaderOptions options_;
};

// The pre-processing read() applies, exposed for benchmarks that feed the
// same crop to the `tesseract` CLI: 8-bit grey, dark text on white, upscaled,
// with a margin. Returned as a BGRX frame (grey in all three channels).
Frame preprocessStrip(const Frame& img, Rect r, int scale);

}  // namespace vigil::ocr
