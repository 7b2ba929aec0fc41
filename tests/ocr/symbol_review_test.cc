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
}

}  // namespace
}  // namespace vigil::ocr
