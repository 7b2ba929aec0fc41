#include "storage/search_query.h"

#include <algorithm>
#include <unordered_set>

namespace vigil::storage {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at s[i], advancing i; malformed input yields U+FFFD
// and advances one byte, so hostile text cannot stall or overrun the scan.
char32_t decodeAt(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++i;
    return kReplacement;
  }
  if (i + len > s.size()) {
    ++i;
    return kReplacement;
  }
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kReplacement;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return kReplacement;
  }
  i += len;
  return cp;
}

void encode(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

char32_t foldCp(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE) return c == 0xD7 ? c : c + 32;  // Latin-1 capitals, not ×
  if (c >= 0x100 && c <= 0x137) return (c % 2 == 0) ? c + 1 : c;
  if (c >= 0x139 && c <= 0x148) return (c % 2 == 1) ? c + 1 : c;
  if (c >= 0x14A && c <= 0x177) return (c % 2 == 0) ? c + 1 : c;
  if (c == 0x178) return 0xFF;
  if (c >= 0x179 && c <= 0x17E) return (c % 2 == 1) ? c + 1 : c;
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;  // Greek
  if (c >= 0x400 && c <= 0x40F) return c + 80;                 // Cyrillic Ѐ..Џ
  if (c >= 0x410 && c <= 0x42F) return c + 32;                 // Cyrillic А..Я
  return c;
}

bool isSpaceCp(char32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0xA0 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool isWordCp(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (c <= 0xBF) return false;  // C1 controls, Latin-1 punctuation and symbols
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x2BFF) return false;  // punctuation, arrows, math, boxes
  if (c >= 0x3000 && c <= 0x303F) return false;  // CJK punctuation
  if (c >= 0xFE30 && c <= 0xFE4F) return false;
  if (c >= 0xFF00 && c <= 0xFF0F) return false;
  if (c == 0xFEFF || c == kReplacement) return false;
  return true;
}

// Folded text with every run of white space turned into one space.
std::string normalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (std::size_t i = 0; i < text.size();) {
    const char32_t c = decodeAt(text, i);
    if (isSpaceCp(c)) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    encode(foldCp(c), out);
  }
  return out;
}

std::vector<std::string> wordsOfFolded(std::string_view folded) {
  std::vector<std::string> words;
  std::string cur;
  for (std::size_t i = 0; i < folded.size();) {
    const std::size_t start = i;
    const char32_t c = decodeAt(folded, i);
    if (isWordCp(c)) {
      cur.append(folded.substr(start, i - start));
    } else if (!cur.empty()) {
      words.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

bool firstIsWordCp(std::string_view s) {
  if (s.empty()) return false;
  std::size_t i = 0;
  return isWordCp(decodeAt(s, i));
}

// Whether the code point ending just before byte `pos` of valid UTF-8 `s` is
// a word character.
bool wordCpBefore(std::string_view s, std::size_t pos) {
  if (pos == 0) return false;
  std::size_t start = pos - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80 && pos - start < 4)
    --start;
  std::size_t i = start;
  return isWordCp(decodeAt(s, i));
}

bool containsAnchored(std::string_view text, std::string_view phrase) {
  const bool anchored = firstIsWordCp(phrase);
  for (std::size_t pos = text.find(phrase); pos != std::string_view::npos;
       pos = text.find(phrase, pos + 1)) {
    if (!anchored || !wordCpBefore(text, pos)) return true;
  }
  return false;
}

void addUnique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

}  // namespace

std::string foldCase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) encode(foldCp(decodeAt(text, i)), out);
  return out;
}

std::vector<std::string> tokenize(std::string_view text) { return wordsOfFolded(foldCase(text)); }

std::size_t codePoints(std::string_view s) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size();) {
    decodeAt(s, i);
    ++n;
  }
  return n;
}

std::string cutIndexWord(std::string_view word) {
  if (word.size() <= kMaxIndexedWordBytes) return std::string(word);
  std::size_t end = kMaxIndexedWordBytes;
  while (end > 0 && (static_cast<unsigned char>(word[end]) & 0xC0) == 0x80) --end;
  return std::string(word.substr(0, end));
}

std::vector<std::string> indexWords(std::string_view text) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (std::string& w : tokenize(text)) {
    if (codePoints(w) < 2) continue;
    std::string cut = cutIndexWord(w);
    if (seen.insert(cut).second) out.push_back(std::move(cut));
  }
  return out;
}

Result<SearchQuery> parseSearchQuery(std::string_view query) {
  if (query.size() > kMaxQueryBytes)
    return Status::Error("search query is too long (" + std::to_string(query.size()) +
                         " bytes; at most " + std::to_string(kMaxQueryBytes) + ")");
  SearchQuery q;
  auto addPhrase = [&q](std::string_view raw) {
    std::string p = normalize(raw);
    while (!p.empty() && p.back() == ' ') p.pop_back();
    if (p.empty()) return;
    for (std::string& w : wordsOfFolded(p)) addUnique(q.terms, std::move(w));
    addUnique(q.phrases, std::move(p));
  };
  std::size_t i = 0;
  while (i < query.size()) {
    if (query[i] == '"') {
      const std::size_t close = query.find('"', i + 1);
      const std::size_t end = close == std::string_view::npos ? query.size() : close;
      addPhrase(query.substr(i + 1, end - i - 1));
      i = close == std::string_view::npos ? query.size() : close + 1;
      continue;
    }
    std::size_t probe = i;
    if (isSpaceCp(decodeAt(query, probe))) {
      i = probe;
      continue;
    }
    // An unquoted word runs to the next space or quote.
    std::size_t end = i;
    while (end < query.size() && query[end] != '"') {
      std::size_t next = end;
      if (isSpaceCp(decodeAt(query, next))) break;
      end = next;
    }
    const std::string_view raw = query.substr(i, end - i);
    i = end;
    std::string folded = foldCase(raw);
    std::vector<std::string> words = wordsOfFolded(folded);
    if (words.size() == 1 && words[0] == folded) {
      addUnique(q.terms, words[0]);
      addUnique(q.prefixes, std::move(folded));
    } else {
      addPhrase(raw);
    }
  }
  if (q.prefixes.empty() && q.phrases.empty())
    return Status::Error("search query is empty: give words or \"quoted phrases\"");
  return q;
}

bool matchesQuery(const SearchQuery& q, std::string_view text) {
  const std::string norm = normalize(text);
  if (!q.prefixes.empty()) {
    const std::vector<std::string> words = wordsOfFolded(norm);
    for (const std::string& p : q.prefixes) {
      const bool found = std::any_of(words.begin(), words.end(),
                                     [&p](const std::string& w) { return w.starts_with(p); });
      if (!found) return false;
    }
  }
  for (const std::string& ph : q.phrases)
    if (!containsAnchored(norm, ph)) return false;
  return true;
}

bool isSearchableKind(EventKind k) {
  return k == EventKind::Key || k == EventKind::Title || k == EventKind::Clipboard ||
         k == EventKind::Alert;
}

}  // namespace vigil::storage
