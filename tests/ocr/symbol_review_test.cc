#include "ocr/symbol_review.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace vigil::ocr {
namespace {

// A word as the LSTM reports it: one symbol per character, boxes 10 px apart.
std::vector<Symbol> word(const std::string& text) {
  std::vector<Symbol> out;
  int x = 0;
  for (char c : text) {
    out.push_back({std::string(1, c), x, x + 10});
    x += 10;
  }
  return out;
}

std::string text(const std::vector<Symbol>& w) {
  std::string out;
  for (const Symbol& s : w) out += s.text;
  return out;
}

std::string reviewed(const std::string& in) {
  const StripShapes blank(cv::Mat(40, 200, CV_8UC1, cv::Scalar(255)));
  auto w = word(in);
  reviewSymbols(w, blank);
  return text(w);
}

TEST(SymbolReview, HostNameDigitsAndTheLInLowercaseWords) {
  EXPECT_EQ(reviewed("nasO2"), "nas02");
  EXPECT_EQ(reviewed("\\\\fsOL\\share"), "\\\\fs01\\share");
  EXPECT_EQ(reviewed("fs0l"), "fs01");
  EXPECT_EQ(reviewed("payroll.xIsx"), "payroll.xlsx");
  // Left alone: a capital O that starts a word or sits among capitals, an
  // I that starts one, an l between digit and letter.
  EXPECT_EQ(reviewed("O2"), "O2");
  EXPECT_EQ(reviewed("COVID19"), "COVID19");
  EXPECT_EQ(reviewed("Invoice"), "Invoice");
  EXPECT_EQ(reviewed("10lb"), "10lb");
}

// A strip drawn like a prepared one: dark strokes on white, lowercase body
// between rows 20 and 31, ascenders from row 14.
cv::Mat strip() {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 60, 12), cv::Scalar(0), cv::FILLED);   // lowercase body
  cv::line(m, cv::Point(75, 14), cv::Point(75, 31), cv::Scalar(0), 2);      // l
  cv::line(m, cv::Point(85, 20), cv::Point(85, 31), cv::Scalar(0), 2);      // i: stem
  cv::rectangle(m, cv::Rect(84, 14, 3, 3), cv::Scalar(0), cv::FILLED);     //    and dot
  cv::line(m, cv::Point(95, 14), cv::Point(103, 31), cv::Scalar(0), 2);     // backslash
  return m;
}

TEST(StripShapes, TellsAStemFromADottedIAndFindsTheBackslash) {
  const StripShapes s(strip());
  ASSERT_TRUE(s.band());
  EXPECT_EQ(s.band()->top, 20);
  EXPECT_EQ(s.band()->base, 31);
  EXPECT_TRUE(s.tallStroke(70, 80));
  EXPECT_FALSE(s.hasDot(70, 80));
  EXPECT_FALSE(s.tallStroke(81, 90));
  EXPECT_TRUE(s.hasDot(81, 90));
  EXPECT_EQ(s.slashes(1), std::vector<int>{99});
  EXPECT_TRUE(s.slashes(-1).empty());
}

TEST(StripShapes, FindsABackslashAsTallAsABandOfCapitals) {
  // Mostly capitals: the band found reaches the cap line, and a backslash
  // is no taller than it.
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  for (int x : {5, 15, 25, 35}) cv::rectangle(m, cv::Rect(x, 14, 6, 18), cv::Scalar(0), cv::FILLED);
  cv::rectangle(m, cv::Rect(45, 20, 6, 12), cv::Scalar(0), cv::FILLED);
  cv::line(m, cv::Point(95, 15), cv::Point(102, 30), cv::Scalar(0), 2);
  const StripShapes s(m);
  ASSERT_TRUE(s.band());
  EXPECT_GE(s.band()->height(), 17);
  EXPECT_EQ(s.slashes(1).size(), 1u);
}

TEST(SymbolReview, ADroppedColonIsPutBack) {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 50, 12), cv::Scalar(0), cv::FILLED);   // lowercase body
  cv::rectangle(m, cv::Rect(62, 22, 3, 3), cv::Scalar(0), cv::FILLED);    // colon
  cv::rectangle(m, cv::Rect(62, 29, 3, 3), cv::Scalar(0), cv::FILLED);
  cv::rectangle(m, cv::Rect(90, 29, 3, 3), cv::Scalar(0), cv::FILLED);    // a period
  cv::rectangle(m, cv::Rect(75, 20, 10, 12), cv::Scalar(0), cv::FILLED);  // letters after
  cv::rectangle(m, cv::Rect(96, 20, 10, 12), cv::Scalar(0), cv::FILLED);
  const StripShapes s(m);
  EXPECT_EQ(s.colons(), std::vector<int>{63});
  std::vector<std::vector<Symbol>> words = {{{"E", 40, 56}, {"B", 72, 86}, {".", 88, 94}, {"x", 96, 106}}};
  reviewColons(words, s);
  EXPECT_EQ(text(words[0]), "E:B.x");
  reviewColons(words, s);  // one read already: nothing more
  EXPECT_EQ(text(words[0]), "E:B.x");
}

TEST(StripShapes, CountsAccentedLettersNotIDotsOrQuotes) {
  cv::Mat m = strip();
  EXPECT_EQ(StripShapes(m).accentedLetters(), 0);  // the i's dot sits on a stem
  cv::rectangle(m, cv::Rect(110, 14, 2, 4), cv::Scalar(0), cv::FILLED);  // a quote: nothing below
  EXPECT_EQ(StripShapes(m).accentedLetters(), 0);
  cv::rectangle(m, cv::Rect(30, 15, 4, 3), cv::Scalar(0), cv::FILLED);   // an acute over a letter
  EXPECT_EQ(StripShapes(m).accentedLetters(), 1);
}

TEST(SymbolReview, PixelsSettleLAndBackslash) {
  const StripShapes s(strip());
  // The LSTM read the l as i, the dotted i right, and the backslash as l.
  std::vector<std::vector<Symbol>> words = {{{"i", 70, 80}, {"i", 80, 90}, {"l", 94, 104}}};
  reviewSlashes(words, s);
  reviewSymbols(words[0], s);
  EXPECT_EQ(text(words[0]), "li\\");
}

TEST(SymbolReview, AnLTouchingTheNextLetterUnderAShiftedBox) {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 50, 12), cv::Scalar(0), cv::FILLED);   // lowercase body
  cv::line(m, cv::Point(66, 14), cv::Point(66, 31), cv::Scalar(0), 2);     // l
  cv::rectangle(m, cv::Rect(67, 28, 14, 4), cv::Scalar(0), cv::FILLED);   // a letter touching it
  const StripShapes s(m);
  // The i's box lies over the e; the l is nearer its centre than the e's.
  std::vector<Symbol> w = {{"e", 40, 58}, {"i", 66, 80}, {"e", 78, 90}};
  reviewSymbols(w, s);
  EXPECT_EQ(text(w), "ele");
}

TEST(SymbolReview, AOneStandsOnAFoot) {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 50, 12), cv::Scalar(0), cv::FILLED);   // lowercase body
  cv::rectangle(m, cv::Rect(66, 14, 3, 18), cv::Scalar(0), cv::FILLED);   // 1: stem
  cv::rectangle(m, cv::Rect(63, 30, 9, 2), cv::Scalar(0), cv::FILLED);    //    and foot
  cv::rectangle(m, cv::Rect(86, 14, 3, 18), cv::Scalar(0), cv::FILLED);   // L: stem
  cv::rectangle(m, cv::Rect(86, 30, 8, 2), cv::Scalar(0), cv::FILLED);    //    foot to one side
  cv::rectangle(m, cv::Rect(104, 14, 3, 18), cv::Scalar(0), cv::FILLED);  // l
  const StripShapes s(m);
  std::vector<Symbol> w = {{"s", 40, 58}, {"l", 60, 75}, {"l", 80, 96}, {"l", 100, 110}};
  reviewSymbols(w, s);
  EXPECT_EQ(text(w), "s1ll");
}

// "Firewall1686": more digits and ascenders than lowercase letters. The
// x-height line is still where the lowercase letters start, so the l's
// rise above it and the 1 read as a third l is told by its foot.
TEST(SymbolReview, AOneAfterLsWhereTallGlyphsOutnumberTheLowercase) {
  cv::Mat m(44, 150, CV_8UC1, cv::Scalar(255));
  for (int x : {5, 18, 31}) cv::rectangle(m, cv::Rect(x, 20, 10, 12), cv::Scalar(0), cv::FILLED);
  for (int x : {46, 54, 66}) cv::rectangle(m, cv::Rect(x, 14, 3, 18), cv::Scalar(0), cv::FILLED);
  cv::rectangle(m, cv::Rect(63, 30, 9, 2), cv::Scalar(0), cv::FILLED);  // the 1's foot
  for (int x : {80, 96, 112}) cv::rectangle(m, cv::Rect(x, 14, 11, 18), cv::Scalar(0), cv::FILLED);  // 6 8 6
  const StripShapes s(m);
  ASSERT_TRUE(s.band());
  EXPECT_EQ(s.band()->top, 20);
  EXPECT_EQ(s.band()->base, 31);
  std::vector<Symbol> w = {{"a", 31, 43}, {"l", 44, 51}, {"l", 52, 60}, {"l", 61, 75}, {"6", 78, 93}};
  reviewSymbols(w, s);
  EXPECT_EQ(text(w), "all16");
}

TEST(SymbolReview, DriveColonAndBackslashReadAsA) {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 50, 12), cv::Scalar(0), cv::FILLED);   // lowercase body
  cv::rectangle(m, cv::Rect(62, 22, 3, 3), cv::Scalar(0), cv::FILLED);    // colon
  cv::rectangle(m, cv::Rect(62, 29, 3, 3), cv::Scalar(0), cv::FILLED);
  cv::line(m, cv::Point(70, 14), cv::Point(78, 31), cv::Scalar(0), 2);     // backslash
  const StripShapes s(m);
  std::vector<std::vector<Symbol>> words = {{{"C", 40, 56}, {"A", 58, 82}, {"S", 84, 96}}};
  reviewSlashes(words, s);
  EXPECT_EQ(text(words[0]), "C:\\S");
}

TEST(SymbolReview, AClippedTitleLosesTheStemItWasCutIn) {
  // "nam" clipped by the window manager after the m's first stem, read as
  // "nami"; the stem stands alone from the x-height line to the baseline.
  cv::Mat clipped = strip()(cv::Rect(0, 0, 70, 44)).clone();
  cv::line(clipped, cv::Point(68, 20), cv::Point(68, 31), cv::Scalar(0), 2);
  std::vector<Symbol> last = {{"n", 5, 25}, {"a", 25, 45}, {"m", 45, 65}, {"i", 65, 70}};
  dropClippedStem(last, StripShapes(clipped));
  EXPECT_EQ(text(last), "nam");
  // Whole letters stay: an l (it rises higher) and a dotted i.
  const StripShapes s(strip());
  std::vector<Symbol> ends_in_l = {{"a", 40, 65}, {"l", 70, 80}};
  dropClippedStem(ends_in_l, s);
  EXPECT_EQ(text(ends_in_l), "al");
  std::vector<Symbol> ends_in_i = {{"l", 70, 80}, {"i", 80, 90}};
  dropClippedStem(ends_in_i, s);
  EXPECT_EQ(text(ends_in_i), "li");
  // A tall stroke read as a bar ends no title: an l or a b cut after its stem.
  std::vector<Symbol> ends_in_bar = {{"a", 40, 65}, {"|", 70, 80}};
  dropClippedStem(ends_in_bar, s);
  EXPECT_EQ(text(ends_in_bar), "a");
}

// Letters drawn after a lowercase body (columns 5-64) on a strip like
// strip()'s, each a stroke 2 px wide.
class Letters {
 public:
  Letters() : m_(44, 120, CV_8UC1, cv::Scalar(255)) {
    cv::rectangle(m_, cv::Rect(5, 20, 60, 12), cv::Scalar(0), cv::FILLED);
  }
  // An n from x to x + 8 with a tilde from its left stem's top, blurred
  // into its right stem.
  Letters& nTilde(int x) {
    line(x, 20, x, 31), line(x + 8, 20, x + 8, 31), line(x, 20, x + 8, 20);
    line(x, 17, x + 3, 15), line(x + 3, 15, x + 8, 17), line(x + 8, 15, x + 8, 20);
    return *this;
  }
  // An f's stem at x, its hook to the right and its bar across, to `bar_to`.
  Letters& f(int x, int bar_to) {
    line(x, 14, x, 31), line(x, 14, x + 6, 14), line(x - 3, 20, bar_to, 20);
    return *this;
  }
  Letters& i(int x) {
    line(x, 20, x, 31);
    cv::rectangle(m_, cv::Rect(x - 1, 14, 3, 3), cv::Scalar(0), cv::FILLED);
    return *this;
  }
  Letters& l(int x) { return line(x, 14, x, 31); }
  // A t's stem at x with its top joined to whatever is left of it at row
  // 15 (an f's hook) and its bar across.
  Letters& t(int x, int joined_from) {
    line(x, 15, x, 31), line(joined_from, 15, x, 15), line(x - 3, 20, x + 5, 20);
    return *this;
  }
  // Reviews the word "e" + `pair` (+ "l" when `l_after`) with the LSTM's
  // boxes half a letter off, as they come for a tight font: the f over the
  // end of the letter before, the second symbol over the rest.
  std::string review(const std::string& pair, std::pair<int, int> second_box = {74, 90},
                     bool l_after = false) const {
    const StripShapes s(m_);
    std::vector<Symbol> w = {{"e", 52, 64},
                             {pair.substr(0, 1), 62, 74},
                             {pair.substr(1), second_box.first, second_box.second}};
    if (l_after) w.push_back({"l", second_box.second, second_box.second + 8});
    reviewSymbols(w, s);
    return text(w);
  }

 private:
  Letters& line(int x0, int y0, int x1, int y1) {
    cv::line(m_, cv::Point(x0, y0), cv::Point(x1, y1), cv::Scalar(0), 2);
    return *this;
  }
  cv::Mat m_;
};

TEST(SymbolReview, TildeReadAsFiOrFtWhereTheRightStemRisesIntoIt) {
  EXPECT_EQ(Letters().nTilde(76).review("fi"), "e\xC3\xB1");
  EXPECT_EQ(Letters().nTilde(76).review("ft"), "e\xC3\xB1");
  // Left alone: an i whose stem stops short of its dot, even where the f's
  // bar joins it to the f's hook; an f's stem (its hook goes right); a t
  // with its crossbar; an l under the i's loose box.
  EXPECT_EQ(Letters().f(74, 84).i(84).review("fi"), "efi");
  EXPECT_EQ(Letters().f(74, 78).t(84, 80).review("ft"), "eft");
  EXPECT_EQ(Letters().f(74, 78).i(84).l(92).review("fi", {74, 96}, true), "efil");
}

// A backslash whose foot touches the next letter (Clearlooks' tight bold
// font), so that the two are one blob.
cv::Mat joinedBackslash() {
  cv::Mat m(44, 120, CV_8UC1, cv::Scalar(255));
  cv::rectangle(m, cv::Rect(5, 20, 60, 12), cv::Scalar(0), cv::FILLED);  // lowercase body
  cv::line(m, cv::Point(70, 14), cv::Point(76, 31), cv::Scalar(0), 2);     // backslash
  cv::rectangle(m, cv::Rect(77, 24, 6, 8), cv::Scalar(0), cv::FILLED);    // the letter it touches
  cv::line(m, cv::Point(95, 14), cv::Point(95, 31), cv::Scalar(0), 3);     // a thick l
  return m;
}

TEST(StripShapes, FindsABackslashJoinedToTheNextLetterButNotAStem) {
  const StripShapes s(joinedBackslash());
  EXPECT_TRUE(s.slashes(1).empty());  // not a blob of its own
  const auto joined = s.joinedSlashes(1);
  ASSERT_EQ(joined.size(), 1u);
  EXPECT_NEAR(joined[0], 73, 2);
  EXPECT_TRUE(s.joinedSlashes(-1).empty());
}

TEST(SymbolReview, JoinedBackslashReadAsI) {
  const StripShapes s(joinedBackslash());
  std::vector<std::vector<Symbol>> words = {{{"e", 52, 64}, {"i", 66, 76}, {"c", 76, 86}, {"l", 90, 100}}};
  reviewSlashes(words, s);
  EXPECT_EQ(text(words[0]), "e\\cl");
  // Beside a letter drawn with diagonals the stroke may be that letter's.
  words = {{{"W", 52, 64}, {"i", 66, 76}, {"c", 76, 86}, {"l", 90, 100}}};
  reviewSlashes(words, s);
  EXPECT_EQ(text(words[0]), "Wicl");
}

}  // namespace
}  // namespace vigil::ocr
