// Second looks at the symbols of one recognised word, where Tesseract's LSTM
// is known to guess wrong on caption fonts: the strip's pixels (l read as
// i, a dropped diaeresis or cedilla, ñ read as fi) or the word itself (a
// capital O between a host name's letters and its digits) settle them.
// Measured on the title corpus: docs/ocr.md.
#pragma once

#include <string>
#include <vector>

#include "ocr/glyph_shapes.h"

namespace vigil::ocr {

struct Symbol {
  std::string text;    // UTF-8
  int x0 = 0, x1 = 0;  // columns in the prepared strip (the LSTM's loose box)
  int width() const { return x1 - x0; }
  int centre() const { return (x0 + x1) / 2; }
};

// One word's symbols.
void reviewSymbols(std::vector<Symbol>& word, const StripShapes& shapes);

// Every backslash and slash drawn in the strip is read as one: the LSTM
// takes a thin slanted stroke next to a letter for i, l or ñ, or reads two
// in a row (a UNC path's "\\") as one.
void reviewSlashes(std::vector<std::vector<Symbol>>& words, const StripShapes& shapes);

// A colon drawn between two symbols where none was read ("E:\\Backups"
// read "E\\Backups") is put in, after the symbol before it.
void reviewColons(std::vector<std::vector<Symbol>>& words, const StripShapes& shapes);

// A title the window manager clipped at a pixel (xfwm4 does, without an
// ellipsis) can end in the first stem of its next letter, which the LSTM
// reads as i, n, ! or |: the title's last word loses a last symbol that
// is a bare stem, or a tall stroke read as |.
void dropClippedStem(std::vector<Symbol>& last_word, const StripShapes& shapes);

}  // namespace vigil::ocr
