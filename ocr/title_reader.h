// Reads the text of one caption strip with Tesseract (LSTM, single-line mode).
// One TitleReader owns its long-lived Tesseract instances (eng and Latin):
// create it once per worker thread and reuse it (start-up loads both models);
// a strip costs ~20-80 ms of CPU.
#pragma once

#include <memory>
#include <string>

#include "core/frame.h"
#include "core/status.h"

namespace vigil::ocr {

struct ReaderOptions {
  std::string tessdata_dir = "/usr/share/tesseract-ocr/5/tessdata";
  // Empty: "eng" reads first and "Latin" (all Latin-script letters: é, ü,
  // ñ, …; Debian: tesseract-ocr-script-latn) reads again unless eng was sure
  // of every word; when only one of them is installed, that one alone.
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
  // Reading keeps Tesseract's OpenMP on the calling thread: one reader, one core.
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

  // The model that has the last word: "Latin" when eng reads first.
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
