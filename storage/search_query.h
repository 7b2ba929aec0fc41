// Search semantics shared by every MetadataStore (CONTRACT.md "Events and
// search"), as plain functions so both stores agree and tests can pin them.
//
// Words: maximal runs of word characters — ASCII letters, digits, `_`, and any
// non-ASCII code point that is not punctuation or a space (é, ß, Cyrillic...).
// Everything else (space, `-`, `.`, `/`, `\`, `:`, quotes...) separates words,
// so `C:\Windows\system32` has the words c, windows, system32.
// Case: folded to lower case for ASCII, Latin-1, Latin Extended-A, Greek and
// Cyrillic; accents are kept (`café` ≠ `cafe`).
//
// A query is words and "quoted phrases". An event's text matches when
//  - every plain word (only word characters) is a prefix of some word of the
//    text: `net` matches `netstat`, `NET`, `net.exe`;
//  - every phrase, and every unquoted word holding punctuation (`/add`,
//    `C:\Windows\sys`, `notepad.exe`), occurs in the text case-insensitively,
//    with runs of white space counted as one space, starting at a word start
//    when it starts with a word character (`"user /add"` matches
//    "net user /add" but `"et user"` does not).
// All functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/status.h"

namespace vigil::storage {

// Index words longer than this many bytes are cut (at a code point boundary);
// query terms are cut the same way, so lookups stay a superset.
inline constexpr std::size_t kMaxIndexedWordBytes = 32;
inline constexpr std::size_t kMaxQueryBytes = 2000;

struct SearchQuery {
  std::vector<std::string> prefixes;  // folded plain words
  std::vector<std::string> phrases;   // folded, white space collapsed, trimmed
  // Folded words every hit must hold as a word prefix (from plain words and
  // from the words of phrases): what an index may use to find candidates.
  std::vector<std::string> terms;
};

// Folds case (see above); invalid UTF-8 bytes become U+FFFD.
std::string foldCase(std::string_view text);
// The words of `text`, folded, in order, duplicates kept.
std::vector<std::string> tokenize(std::string_view text);
// The distinct words an index stores for `text`: folded, at least 2 code
// points, cut to kMaxIndexedWordBytes.
std::vector<std::string> indexWords(std::string_view text);
// `word` cut to kMaxIndexedWordBytes at a code point boundary.
std::string cutIndexWord(std::string_view word);
// Number of code points in UTF-8 `s`.
std::size_t codePoints(std::string_view s);

// Error for an empty (or only-quotes) query or one longer than kMaxQueryBytes.
Result<SearchQuery> parseSearchQuery(std::string_view query);

// True when `text` holds every prefix and every phrase of `q`.
bool matchesQuery(const SearchQuery& q, std::string_view text);

// Kinds that are indexed and searched: key, title, clipboard, alert.
bool isSearchableKind(EventKind k);

}  // namespace vigil::storage
