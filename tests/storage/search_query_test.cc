#include "storage/search_query.h"

#include <gtest/gtest.h>

namespace vigil::storage {
namespace {

bool hit(std::string_view query, std::string_view text) {
  auto q = parseSearchQuery(query);
  EXPECT_TRUE(q.ok()) << q.message();
  return q.ok() && matchesQuery(*q, text);
}

TEST(SearchQuery, Tokenize) {
  EXPECT_EQ(tokenize("net user /add"), (std::vector<std::string>{"net", "user", "add"}));
  EXPECT_EQ(tokenize(R"(C:\Windows\system32)"),
            (std::vector<std::string>{"c", "windows", "system32"}));
  EXPECT_EQ(tokenize("notepad.exe  foo_bar-baz"),
            (std::vector<std::string>{"notepad", "exe", "foo_bar", "baz"}));
  EXPECT_EQ(tokenize("ÉCOLE Straße ПРИВЕТ"),
            (std::vector<std::string>{"école", "straße", "привет"}));
  EXPECT_EQ(tokenize("<Ctrl+C>"), (std::vector<std::string>{"ctrl", "c"}));
  EXPECT_TRUE(tokenize("  ,;  ").empty());
}

TEST(SearchQuery, FoldCaseAndBadUtf8) {
  EXPECT_EQ(foldCase("AbC ÀÉÎÕÜ Ÿ Ł"), "abc àéîõü ÿ ł");
  EXPECT_EQ(foldCase("x\xff" "y"), "x\xEF\xBF\xBDy");  // invalid byte → U+FFFD
  EXPECT_EQ(tokenize("ab\xff" "cd"), (std::vector<std::string>{"ab", "cd"}));
}

TEST(SearchQuery, IndexWordsSkipsSingleLettersAndDuplicates) {
  EXPECT_EQ(indexWords("a cd CD x notepad"), (std::vector<std::string>{"cd", "notepad"}));
  const std::string longword(100, 'q');
  EXPECT_EQ(indexWords(longword), (std::vector<std::string>{std::string(kMaxIndexedWordBytes, 'q')}));
}

TEST(SearchQuery, ParsesWordsAndPhrases) {
  auto q = parseSearchQuery(R"(net "User  /ADD" c:\windows)");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->prefixes, (std::vector<std::string>{"net"}));
  EXPECT_EQ(q->phrases, (std::vector<std::string>{"user /add", "c:\\windows"}));
  EXPECT_EQ(q->terms, (std::vector<std::string>{"net", "user", "add", "c", "windows"}));
}

TEST(SearchQuery, EmptyQueryIsAnError) {
  EXPECT_FALSE(parseSearchQuery("").ok());
  EXPECT_FALSE(parseSearchQuery("   ").ok());
  EXPECT_FALSE(parseSearchQuery("\"\"  \"  \"").ok());
  EXPECT_FALSE(parseSearchQuery(std::string(kMaxQueryBytes + 1, 'a')).ok());
  EXPECT_NE(parseSearchQuery("").message().find("empty"), std::string::npos);
}

TEST(SearchQuery, WordsArePrefixesCaseInsensitive) {
  EXPECT_TRUE(hit("net", "netstat -ano"));
  EXPECT_TRUE(hit("NETSTAT", "netstat -ano"));
  EXPECT_TRUE(hit("net ano", "netstat -ano"));
  EXPECT_FALSE(hit("stat", "netstat -ano"));  // prefix, not substring
  EXPECT_FALSE(hit("net foo", "netstat -ano"));
  EXPECT_TRUE(hit("exe", "notepad.exe"));
}

TEST(SearchQuery, PunctuatedWordsAndPhrases) {
  EXPECT_TRUE(hit("net user /add", "net user bob P@ss /add"));
  EXPECT_TRUE(hit("\"net user\" /add", "NET  USER bob /add"));
  EXPECT_FALSE(hit("\"net user /add\"", "net user bob /add"));
  EXPECT_TRUE(hit(R"(C:\Windows\sys)", R"(dir C:\Windows\System32\drivers)"));
  EXPECT_FALSE(hit(R"(C:\Windows\sys)", R"(dir C:\Windows\Temp\sys)"));
  EXPECT_TRUE(hit("\"user /add\"", "net user /add"));
  EXPECT_FALSE(hit("\"et user\"", "net user /add"));  // phrases start at a word start
  EXPECT_TRUE(hit("\"/add\"", "net user x/add"));     // a phrase starting with punctuation
  EXPECT_TRUE(hit("notepad.exe", "start NOTEPAD.EXE"));
  EXPECT_FALSE(hit("notepad.exe", "notepad exe"));
  EXPECT_TRUE(hit("<Ctrl+C>", "<Ctrl+C>"));
  EXPECT_TRUE(hit("\"&&\"", "cd x && ls"));
}

TEST(SearchQuery, Accents) {
  EXPECT_TRUE(hit("café", "Le CAFÉ est bon"));
  EXPECT_TRUE(hit("CAFÉ", "le café"));
  EXPECT_TRUE(hit("stra", "Straße"));
  EXPECT_FALSE(hit("cafe", "café"));  // accents are kept
  EXPECT_TRUE(hit("привет", "ПРИВЕТ мир"));
}

TEST(SearchQuery, UnclosedQuoteIsAPhraseToTheEnd) {
  auto q = parseSearchQuery("rm \"-rf /");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->phrases, (std::vector<std::string>{"-rf /"}));
  EXPECT_TRUE(matchesQuery(*q, "sudo rm -rf / --no-preserve-root"));
}

TEST(SearchQuery, SearchableKinds) {
  EXPECT_TRUE(isSearchableKind(EventKind::Key));
  EXPECT_TRUE(isSearchableKind(EventKind::Title));
  EXPECT_TRUE(isSearchableKind(EventKind::Clipboard));
  EXPECT_TRUE(isSearchableKind(EventKind::Alert));
  EXPECT_FALSE(isSearchableKind(EventKind::Lifecycle));
}

}  // namespace
}  // namespace vigil::storage
