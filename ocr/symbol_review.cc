#include "ocr/symbol_review.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <string_view>
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

// The columns nearer symbol j than its neighbours: the LSTM's boxes
// overlap, these do not.
std::pair<int, int> territory(const std::vector<Symbol>& word, std::size_t j) {
  const int from = j > 0 ? (word[j - 1].centre() + word[j].centre()) / 2 : word[j].x0;
  const int to = j + 1 < word.size() ? (word[j].centre() + word[j + 1].centre()) / 2 : word[j].x1;
  return {from, std::max(from + 1, to)};
}

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
    // hook often touches the dot, the stroke is the f's own. The stroke is
    // looked for in the symbol's territory: its box may lie half over the
    // next letter ("enabled" read "enabied").
    if (s.text != "i" || prev == 'f' || shapes.hasDot(s.x0, s.x1)) continue;
    const auto [t0, t1] = territory(word, j);
    const auto stroke = shapes.tallStroke(t0, t1);
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

// A one read as l (".ps1" read ".psl"): its foot tells it, where the font
// draws one.
void reviewFootedOne(std::vector<Symbol>& word, const StripShapes& shapes) {
  for (std::size_t j = 0; j < word.size(); ++j) {
    if (!oneLike(ascii(word, j))) continue;
    const auto [x0, x1] = territory(word, j);
    if (shapes.footed(x0, x1)) word[j].text = "1";
  }
}

// ñ read as "fi" or "ft" (symbols j, j+1): its tilde sits on the n's
// stems like an f's hook and an i's dot. But the n's right stem runs
// unbroken (through the blur) up into the tilde, which reaches back left
// over the n; an i's stem stops short of its dot, an f's hook goes right,
// and a t's stem, which rises too, has its crossbar on its right. The
// LSTM's boxes for the pair are often half a letter off (the f over the
// letter before, the i over the whole ñ), so every stem under either
// symbol is looked at.
bool tildeReadAsFi(std::vector<Symbol>& word, std::size_t j, const StripShapes& shapes) {
  if (word[j].text != "f" || j + 1 >= word.size()) return false;
  if (word[j + 1].text != "i" && word[j + 1].text != "t") return false;
  const auto stems = shapes.stems(territory(word, j).first, territory(word, j + 1).second);
  if (std::none_of(stems.begin(), stems.end(), [&](const StripShapes::Stem& s) {
        return shapes.rises(s, /*through_grey=*/true) && shapes.markLeft(s) && !shapes.barRight(s);
      }))
    return false;
  word[j].text = "\xC3\xB1";
  word[j].x1 = word[j + 1].x1;
  word.erase(word.begin() + static_cast<std::ptrdiff_t>(j) + 1);
  return true;
}

// A c with ink reaching below the baseline has a cedilla, unless a
// neighbour's descender may be what reaches down there.
void cedilla(std::vector<Symbol>& word, std::size_t j, const StripShapes& shapes) {
  Symbol& s = word[j];
  if (s.text != "c" && s.text != "C") return;
  auto descender = [&](std::size_t k) {
    return k < word.size() && word[k].text.size() == 1 &&
           std::string_view("gjpqy,;").find(word[k].text[0]) != std::string_view::npos;
  };
  const auto [x0, x1] = territory(word, j);
  if ((j > 0 && descender(j - 1)) || descender(j + 1) || !shapes.descends(x0, x1)) return;
  s.text = s.text == "c" ? "\xC3\xA7" : "\xC3\x87";
}

// Two dots over a vowel are its diaeresis ("Müller" read "Miller", "Büro"
// as "Buro"). Returns how far j moved back (an "ii" read for ü is one symbol).
std::size_t diaeresis(std::vector<Symbol>& word, std::size_t j, const StripShapes& shapes) {
  static const std::vector<std::pair<std::string, std::string>> kMarked = {
      {"a", "\xC3\xA4"}, {"o", "\xC3\xB6"}, {"u", "\xC3\xBC"}, {"e", "\xC3\xAB"},
      {"A", "\xC3\x84"}, {"O", "\xC3\x96"}, {"U", "\xC3\x9C"},
      {"i", "\xC3\xBC"}};  // a u's stems under two dots read as i
  const auto found = std::find_if(kMarked.begin(), kMarked.end(),
                                  [&](const auto& m) { return m.first == word[j].text; });
  const auto [x0, x1] = territory(word, j);
  if (found == kMarked.end() || shapes.dots(x0, x1) != 2) return 0;
  word[j].text = found->second;
  // "ii" for ü: the first i, without a dot of its own, is the u's other stem.
  if (found->first != "i" || j == 0 || word[j - 1].text != "i") return 0;
  const auto [p0, p1] = territory(word, j - 1);
  if (shapes.dots(p0, p1) != 0) return 0;
  word.erase(word.begin() + static_cast<std::ptrdiff_t>(j) - 1);
  return 1;
}

// Marks the LSTM drops at caption sizes, where eng (no accented letters)
// or a tight font has the last word.
void reviewMarks(std::vector<Symbol>& word, const StripShapes& shapes) {
  for (std::size_t j = 0; j < word.size(); ++j) {
    if (tildeReadAsFi(word, j, shapes)) continue;
    cedilla(word, j, shapes);
    j -= diaeresis(word, j, shapes);
  }
}

// Whether a stroke joined to letters, found nearest symbol j, is likely a
// neighbour's own: beside a letter drawn with diagonals (the W of
// "Windows"), or over an i, which keeps its dot, though the LSTM's box for
// it may not cover it.
bool strokeOfANeighbour(const std::vector<Symbol>& word, std::size_t j, const StripShapes& shapes) {
  auto diagonal = [&](std::size_t k) {
    return k < word.size() && word[k].text.size() == 1 &&
           std::string_view("AKMNVWXYkvwxyz47").find(word[k].text[0]) != std::string_view::npos;
  };
  const auto [x0, x1] = territory(word, j);
  return diagonal(j - 1) || diagonal(j + 1) ||
         shapes.hasDot(std::min(x0, word[j].x0), std::max(x1, word[j].x1));
}

// The symbol whose centre is nearest a column, among those offered.
struct NearestSymbol {
  std::size_t w = 0, j = 0;  // word, symbol
  int d = -1;                // distance; -1: none offered
  void offer(std::size_t word, std::size_t symbol, int dist) {
    if (d < 0 || dist < d) *this = {word, symbol, dist};
  }
  bool within(int limit) const { return d >= 0 && d <= limit; }
};

}  // namespace

void reviewSymbols(std::vector<Symbol>& word, const StripShapes& shapes) {
  reviewL(word, shapes);
  reviewFootedOne(word, shapes);
  reviewDigits(word);
  reviewMarks(word, shapes);
}

void reviewSlashes(std::vector<std::vector<Symbol>>& words, const StripShapes& shapes) {
  if (!shapes.band()) return;
  const int near = shapes.band()->height();  // the LSTM's boxes stray about this far
  // Thin strokes the LSTM takes a slash for; other letters stay (the stroke
  // may be part of them, as in a k or an X).
  static const std::vector<std::string> kStrokeLike = {"i", "l", "I", "|", "1", "!", "\xC3\xB1"};
  static const std::vector<std::string> kJoinedLike = {"i", "l", "I", "|"};
  for (const int dir : {1, -1}) {
    const std::string mark = dir > 0 ? "\\" : "/";
    std::vector<std::pair<std::size_t, std::size_t>> used;  // symbols matched to a stroke
    auto isUsed = [&](std::size_t w, std::size_t j) {
      return std::find(used.begin(), used.end(), std::pair{w, j}) != used.end();
    };
    // Whole strokes first; a stroke joined to a letter may be that
    // letter's own (W, A, N), so it takes only an l- or i-like symbol
    // without a dot, and never adds one.
    std::vector<std::pair<int, bool>> strokes;
    for (const int cx : shapes.slashes(dir)) strokes.push_back({cx, false});
    for (const int cx : shapes.joinedSlashes(dir)) strokes.push_back({cx, true});
    for (const auto& [cx, joined] : strokes) {
      // Nearest symbol centres to the stroke: any, a free mark, a used mark.
      NearestSymbol any, free_mark, used_mark;
      for (std::size_t a = 0; a < words.size(); ++a)
        for (std::size_t b = 0; b < words[a].size(); ++b) {
          const Symbol& s = words[a][b];
          const int d = std::abs(s.centre() - cx);
          any.offer(a, b, d);
          if (s.text == mark) (isUsed(a, b) ? used_mark : free_mark).offer(a, b, d);
        }
      if (free_mark.within(near)) {
        used.push_back({free_mark.w, free_mark.j});
        continue;
      }
      Symbol& s = words[any.w][any.j];
      const auto& like = joined ? kJoinedLike : kStrokeLike;
      const bool other = joined && strokeOfANeighbour(words[any.w], any.j, shapes);
      if (any.within(near) && !isUsed(any.w, any.j) && !other &&
          std::find(like.begin(), like.end(), s.text) != like.end()) {
        s.text = mark;
        used.push_back({any.w, any.j});
        continue;
      }
      // "C:\\" read as "CA": the A is the colon's two dots and the stroke.
      if (dir > 0 && any.within(near) && !isUsed(any.w, any.j) && s.text == "A") {
        const auto [x0, x1] = territory(words[any.w], any.j);
        if (shapes.bandDots(x0 - near, x1) >= 2) {
          s.text = ":" + mark;
          used.push_back({any.w, any.j});
          continue;
        }
      }
      if (used_mark.within(near) && !joined) {
        // A second stroke beside one already read: the LSTM merged the two.
        const Symbol& m = words[used_mark.w][used_mark.j];
        const std::size_t at = cx < m.centre() ? used_mark.j : used_mark.j + 1;
        auto& word = words[used_mark.w];
        word.insert(word.begin() + static_cast<std::ptrdiff_t>(at), Symbol{mark, cx, cx + 1});
        for (auto& u : used)
          if (u.first == used_mark.w && u.second >= at) ++u.second;
        used.push_back({used_mark.w, at});
      }
    }
  }
}

void dropClippedStem(std::vector<Symbol>& last_word, const StripShapes& shapes) {
  if (last_word.empty()) return;
  const auto [x0, x1] = territory(last_word, last_word.size() - 1);
  // A tall one may be a whole l or I; read as a bar, it ends no title.
  if (shapes.bareStem(x0, x1) || (last_word.back().text == "|" && shapes.tallStroke(x0, x1)))
    last_word.pop_back();
}

void reviewColons(std::vector<std::vector<Symbol>>& words, const StripShapes& shapes) {
  if (!shapes.band()) return;
  const int near = shapes.band()->height();
  for (const int cx : shapes.colons()) {
    // The symbols nearest the colon on either side, and any colon read there.
    std::size_t bw = 0, bj = 0;
    int before = -1, after = -1;
    bool read = false;
    for (std::size_t w = 0; w < words.size(); ++w)
      for (std::size_t j = 0; j < words[w].size(); ++j) {
        const Symbol& s = words[w][j];
        const int c = s.centre();
        if (std::abs(c - cx) <= near && s.text.find_first_of(":;") != std::string::npos) read = true;
        if (c < cx && c > before) {
          before = c;
          bw = w;
          bj = j;
        }
        if (c > cx && (after < 0 || c < after)) after = c;
      }
    if (read || before < 0 || after < 0 || cx - before > 2 * near || after - cx > 2 * near) continue;
    auto& word = words[bw];
    word.insert(word.begin() + static_cast<std::ptrdiff_t>(bj) + 1, Symbol{":", cx, cx + 1});
  }
}

}  // namespace vigil::ocr
