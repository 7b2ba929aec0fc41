#include "ocr/symbol_review.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <utility>

namespace vigil::ocr {
namespace {

char ascii(const std::vector<Symbol>& word, std::size_t j) {
  return j < word.size() && word[j].text.size() == 1 ? word[j].text[0] : '\0';
}
bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool letter(const std::vector<Symbol>& word, std::size_t j) {
  if (j >= word.size()) return false;
  const char c = ascii(word, j);
  // Any multi-byte symbol here is an accented letter or a mark like "…".
  return lower(c) || (c >= 'A' && c <= 'Z') || (c == '\0' && word[j].text.size() == 2);
}
bool oneLike(char c) { return c == 'l' || c == 'I' || c == 'L' || c == '|'; }

// l read as i; or as I, its twin in Arial/Segoe-like caption fonts.
void reviewL(std::vector<Symbol>& word, const StripShapes& shapes) {
  for (std::size_t j = 0; j < word.size(); ++j) {
    Symbol& s = word[j];
    const char prev = j > 0 ? ascii(word, j - 1) : '\0';
    // Inside a lowercase word the twin is the l ("xlsx" read "xIsx").
    if (s.text == "I" && lower(prev) && lower(ascii(word, j + 1))) s.text = "l";
    // An i without a dot, where a stroke rises above the lowercase letters,
    // is an l ("xlsx" read "xisx"); when the l before it is that very
    // stroke, the LSTM read one glyph twice ("xlisx"). After an f, whose
    // hook often touches the dot, the stroke is the f's own.
    if (s.text != "i" || prev == 'f' || shapes.hasDot(s.x0, s.x1)) continue;
    const auto stroke = shapes.tallStroke(s.x0, s.x1);
    if (!stroke) continue;
    if (prev == 'l' && shapes.tallStroke(word[j - 1].x0, word[j - 1].x1) == stroke) {
      word.erase(word.begin() + static_cast<std::ptrdiff_t>(j));
      --j;
    } else {
      s.text = "l";
    }
  }
}

// Host names end in digits (nas02, fs01, srv-db01): a capital O between
// their letters and a digit is a zero, an l-like stroke after a digit and
// before the word's end or a separator is a one ("nasO2", "fs0l\share").
void reviewDigits(std::vector<Symbol>& word) {
  for (std::size_t j = 0; j < word.size(); ++j) {
    const char prev = j > 0 ? ascii(word, j - 1) : '\0';
    const char next = ascii(word, j + 1);
    const bool one_next = oneLike(next) && !letter(word, j + 2);
    if (ascii(word, j) == 'O' && (lower(prev) || digit(prev)) && (digit(next) || one_next))
      word[j].text = "0";
    if (oneLike(ascii(word, j)) && digit(prev) && !letter(word, j + 1)) word[j].text = "1";
  }
}

}  // namespace

void reviewSymbols(std::vector<Symbol>& word, const StripShapes& shapes) {
  reviewL(word, shapes);
  reviewDigits(word);
}

void reviewSlashes(std::vector<std::vector<Symbol>>& words, const StripShapes& shapes) {
  if (!shapes.band()) return;
  const int near = shapes.band()->height();  // the LSTM's boxes stray about this far
  // Thin strokes the LSTM takes a slash for; other letters stay (the stroke
  // may be part of them, as in a k or an X).
  static const std::vector<std::string> kStrokeLike = {"i", "l", "I", "|", "1", "!", "\xC3\xB1"};
  for (const int dir : {1, -1}) {
    const std::string mark = dir > 0 ? "\\" : "/";
    std::vector<std::pair<std::size_t, std::size_t>> used;  // symbols matched to a stroke
    auto isUsed = [&](std::size_t w, std::size_t j) {
      return std::find(used.begin(), used.end(), std::pair{w, j}) != used.end();
    };
    for (const int cx : shapes.slashes(dir)) {
      // Nearest symbol centres to the stroke: any, a free mark, a used mark.
      struct Pick {
        std::size_t w = 0, j = 0;
        int d = -1;
        void offer(std::size_t a, std::size_t b, int dist) {
          if (d < 0 || dist < d) *this = {a, b, dist};
        }
        bool near(int limit) const { return d >= 0 && d <= limit; }
      } any, free_mark, used_mark;
      for (std::size_t a = 0; a < words.size(); ++a)
        for (std::size_t b = 0; b < words[a].size(); ++b) {
          const Symbol& s = words[a][b];
          const int d = std::abs((s.x0 + s.x1) / 2 - cx);
          any.offer(a, b, d);
          if (s.text == mark) (isUsed(a, b) ? used_mark : free_mark).offer(a, b, d);
        }
      if (free_mark.near(near)) {
        used.push_back({free_mark.w, free_mark.j});
        continue;
      }
      Symbol& s = words[any.w][any.j];
      if (any.near(near) && !isUsed(any.w, any.j) &&
          std::find(kStrokeLike.begin(), kStrokeLike.end(), s.text) != kStrokeLike.end()) {
        s.text = mark;
        used.push_back({any.w, any.j});
        continue;
      }
      if (used_mark.near(near)) {
        // A second stroke beside one already read: the LSTM merged the two.
        const Symbol& m = words[used_mark.w][used_mark.j];
        const std::size_t at = cx < (m.x0 + m.x1) / 2 ? used_mark.j : used_mark.j + 1;
        auto& word = words[used_mark.w];
        word.insert(word.begin() + static_cast<std::ptrdiff_t>(at), Symbol{mark, cx, cx + 1});
        for (auto& u : used)
          if (u.first == used_mark.w && u.second >= at) ++u.second;
        used.push_back({used_mark.w, at});
      }
    }
  }
}

}  // namespace vigil::ocr
