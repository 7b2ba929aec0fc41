#include "gateway/input/line_assembler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace vigil::gateway::input {
namespace {

// X11 keysyms used below.
constexpr std::uint32_t kShift = 0xffe1, kShiftR = 0xffe2, kCtrl = 0xffe3, kAlt = 0xffe9,
                        kAltR = 0xffea, kSuper = 0xffeb, kMeta = 0xffe7, kCaps = 0xffe5,
                        kNumLock = 0xff7f, kAltGr = 0xfe03;
constexpr std::uint32_t kReturn = 0xff0d, kKpEnter = 0xff8d, kBackSpace = 0xff08,
                        kDelete = 0xffff, kLeft = 0xff51, kRight = 0xff53, kHome = 0xff50,
                        kEnd = 0xff57, kUp = 0xff52, kDown = 0xff54, kPgUp = 0xff55,
                        kPgDn = 0xff56, kTab = 0xff09, kIsoLeftTab = 0xfe20, kEsc = 0xff1b,
                        kF4 = 0xffc1, kF5 = 0xffc2, kInsert = 0xff63;

class CollectingSink final : public EventSink {
 public:
  void onEvent(const Event& e) override {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::vector<std::string> texts() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.text);
    return out;
  }
  std::mutex mu;
  std::vector<Event> events;
};

class LineAssemblerTest : public ::testing::Test {
 protected:
  void down(std::uint32_t ks) { lines_.onInput(KeyInput{ks, true}, t_ += 10); }
  void up(std::uint32_t ks) { lines_.onInput(KeyInput{ks, false}, t_ += 10); }
  void tap(std::uint32_t ks) { down(ks), up(ks); }
  // ASCII as a client that sends the final keysym (most VNC viewers).
  void type(const std::string& s) {
    for (char c : s) tap(static_cast<unsigned char>(c));
  }
  void chord(std::initializer_list<std::uint32_t> mods, std::uint32_t key) {
    for (auto m : mods) down(m);
    tap(key);
    for (auto m : mods) up(m);
  }
  std::vector<std::string> texts() { return sink_.texts(); }

  CollectingSink sink_;
  LineAssembler lines_{sink_};
  Millis t_ = 1000;
};

using Lines = std::vector<std::string>;

TEST_F(LineAssemblerTest, EnterEmitsTheLineWithItsStartTime) {
  type("whoami");
  const Millis started = 1010;
  tap(kReturn);
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].text, "whoami");
  EXPECT_EQ(sink_.events[0].kind, EventKind::Key);
  EXPECT_EQ(sink_.events[0].t_ms, started);
  type("dir");
  const Millis second = 1150;  // after 6 taps and Enter at 10 ms per event
  tap(kKpEnter);
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[1].text, "dir");
  EXPECT_EQ(sink_.events[1].t_ms, second);
}

TEST_F(LineAssemblerTest, EmptyAndBlankLinesAreNotEmitted) {
  tap(kReturn);
  type("   ");
  tap(kReturn);
  lines_.flush(t_);
  EXPECT_TRUE(texts().empty());
}

TEST_F(LineAssemblerTest, BackspaceAndDelete) {
  type("lss");
  tap(kBackSpace);
  type(" -la");
  tap(kReturn);
  type("abc");
  tap(kHome);
  tap(kDelete);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"ls -la", "bc"}));
}

TEST_F(LineAssemblerTest, CursorMovesAndInserts) {
  type("helo");
  tap(kLeft);
  type("l");
  tap(kHome);
  type(">");
  tap(kEnd);
  type("<");
  tap(kLeft), tap(kLeft), tap(kRight);
  type("!");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{">hello!<"}));
}

TEST_F(LineAssemblerTest, CursorStaysInBounds) {
  type("ab");
  for (int i = 0; i < 5; ++i) tap(kLeft);
  type("<");
  for (int i = 0; i < 5; ++i) tap(kRight);
  type(">");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"<ab>"}));
}

TEST_F(LineAssemblerTest, BackspaceWithNothingToDeleteIsRecorded) {
  tap(kBackSpace);
  type("x");
  tap(kEnd);
  tap(kDelete);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"<Backspace>x<Del>"}));
}

TEST_F(LineAssemblerTest, TabStaysInTheLineAndTokensAreAtomic) {
  type("cd /ho");
  tap(kTab);
  tap(kBackSpace);  // deletes text we never saw (the completion): recorded, not guessed
  type("x");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"cd /ho<Tab><Backspace>x"}));
}

TEST_F(LineAssemblerTest, ShiftTab) {
  down(kShift);
  tap(kIsoLeftTab);  // what X11 clients send for Shift+Tab
  up(kShift);
  type("a");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"<Shift+Tab>a"}));
}

TEST_F(LineAssemblerTest, NavigationTokensStayInTheLine) {
  tap(kUp);
  tap(kUp);
  tap(kReturn);
  type("x");
  tap(kDown), tap(kPgUp), tap(kPgDn), tap(kInsert);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"<Up><Up>", "x<Down><PgUp><PgDn><Ins>"}));
}

// --- case: clients that send shifted keysyms vs. unshifted ones ----------

TEST_F(LineAssemblerTest, ClientSendsShiftedKeysyms) {
  down(kShift);
  type("H");  // Shift held, keysym already 'H'
  up(kShift);
  type("ello");
  down(kShift);
  type("!");
  up(kShift);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"Hello!"}));
}

TEST_F(LineAssemblerTest, ClientSendsUnshiftedKeysyms) {
  down(kShift);
  type("h");  // Shift held, keysym 'h'
  up(kShift);
  type("ello");
  down(kShiftR);
  type("w");
  up(kShiftR);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"HelloW"}));
}

TEST_F(LineAssemblerTest, CapsLockWithUnshiftedKeysyms) {
  tap(kCaps);
  type("abc");
  down(kShift);
  type("d");  // Shift inverts Caps Lock
  up(kShift);
  type("1");
  tap(kCaps);
  type("e");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"ABCd1e"}));
}

TEST_F(LineAssemblerTest, CapsLockWithShiftedKeysyms) {
  tap(kCaps);
  type("ABC");  // the client applied Caps Lock itself
  down(kShift);
  type("d");    // and Shift on top of it
  up(kShift);
  tap(kCaps);
  type("e");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"ABCde"}));
}

TEST_F(LineAssemblerTest, CapsLockRepeatTogglesOnce) {
  down(kCaps), down(kCaps), down(kCaps), up(kCaps);
  type("a");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"A"}));
}

TEST_F(LineAssemblerTest, StaleCapsLockStateIsHarmlessOnceTheClientShowsItShifts) {
  // Caps Lock was on before the client connected: it sends 'A' for the 'a' key.
  type("AB");
  tap(kCaps);  // the user turns it off; we believe it is now on
  type("cd");  // the client sends what it means
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"ABcd"}));
}

// --- chords and special keys -------------------------------------------

TEST_F(LineAssemblerTest, ChordEndsTheLineWithTheTokenAppended) {
  type("ping 10.0.0.1");
  tap(kLeft), tap(kLeft);
  chord({kCtrl}, 'c');
  type("exit");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"ping 10.0.0.1<Ctrl+C>", "exit"}));
  EXPECT_EQ(sink_.events[1].t_ms, sink_.events[0].t_ms + 13 * 20 + 2 * 20 + 40);
}

TEST_F(LineAssemblerTest, ChordTokens) {
  chord({kAlt}, kTab);
  chord({kSuper}, 'r');
  chord({kMeta}, 'e');
  chord({kCtrl, kShift}, kEsc);
  chord({kCtrl, kAlt}, kDelete);
  chord({kAlt}, kF4);
  chord({kCtrl}, ' ');
  chord({kCtrl, kShift}, 'T');  // shifted-keysym client
  chord({kCtrl, kShift}, 't');  // unshifted-keysym client
  chord({kCtrl}, kReturn);
  chord({kAltR, kShift}, kTab);
  chord({kCtrl}, kUp);
  chord({kSuper}, kLeft);
  chord({kCtrl}, 0x01000444);  // Ctrl+ф
  EXPECT_EQ(texts(), (Lines{"<Alt+Tab>", "<Win+R>", "<Win+E>", "<Ctrl+Shift+Esc>",
                            "<Ctrl+Alt+Del>", "<Alt+F4>", "<Ctrl+Space>", "<Ctrl+Shift+T>",
                            "<Ctrl+Shift+T>", "<Ctrl+Enter>", "<Alt+Shift+Tab>", "<Ctrl+Up>",
                            "<Win+Left>", "<Ctrl+ф>"}));
}

TEST_F(LineAssemblerTest, AltTabRepeatedWhileAltHeld) {
  down(kAlt);
  tap(kTab), tap(kTab);
  up(kAlt);
  EXPECT_EQ(texts(), (Lines{"<Alt+Tab>", "<Alt+Tab>"}));
}

TEST_F(LineAssemblerTest, EscAndFunctionKeysEndTheLine) {
  type("ihello");
  tap(kEsc);
  type(":wq");
  tap(kReturn);
  tap(kF5);
  down(kShift), tap(0xffc7), up(kShift);  // Shift+F10
  EXPECT_EQ(texts(), (Lines{"ihello<Esc>", ":wq", "<F5>", "<Shift+F10>"}));
}

TEST_F(LineAssemblerTest, ModifiersAloneProduceNothing) {
  for (auto m : {kShift, kShiftR, kCtrl, kAlt, kAltR, kSuper, kMeta, kNumLock, kAltGr}) {
    down(m), down(m), up(m);
  }
  lines_.flush(t_);
  EXPECT_TRUE(texts().empty());
}

TEST_F(LineAssemblerTest, ReleasingAModifierEndsTheChord) {
  down(kCtrl);
  up(kCtrl);
  type("c");
  tap(kReturn);
  up(kCtrl);  // a stray release is harmless
  type("d");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"c", "d"}));
}

TEST_F(LineAssemblerTest, KeyRepeatTypesEachTime) {
  down('a'), down('a'), down('a'), up('a');
  type("bcd");
  down(kBackSpace), down(kBackSpace), up(kBackSpace);
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"aaab"}));
}

TEST_F(LineAssemblerTest, ReleasesDoNotType) {
  up('x');
  up(kReturn);
  lines_.flush(t_);
  EXPECT_TRUE(texts().empty());
}

TEST_F(LineAssemblerTest, CtrlEditsByWords) {
  type("git commit --amend");
  down(kCtrl), tap(kBackSpace), up(kCtrl);
  type("all");
  down(kCtrl), tap(kLeft), tap(kLeft), up(kCtrl);
  type("-q ");
  down(kCtrl), tap(kRight), up(kCtrl);
  type("!");
  tap(kHome);
  down(kCtrl), tap(kDelete), up(kCtrl);
  tap(kReturn);
  // A word is a run without spaces (like the shell's Ctrl+W): "--amend" went at once.
  EXPECT_EQ(texts(), (Lines{" -q commit! all"}));
}

TEST_F(LineAssemblerTest, AltGrCharacters) {
  down(kAltGr);
  type("@");  // ISO_Level3_Shift + q on a German layout
  up(kAltGr);
  down(kCtrl), down(kAltR);  // Windows clients send AltGr as Ctrl+Alt
  type("{");
  tap(0x20ac);  // EuroSign
  up(kAltR), up(kCtrl);
  tap(kReturn);
  chord({kCtrl, kAlt}, 't');  // a real Ctrl+Alt chord
  EXPECT_EQ(texts(), (Lines{"@{€", "<Ctrl+Alt+T>"}));
}

// --- idle, flush, cap ----------------------------------------------------

TEST_F(LineAssemblerTest, IdleEndsTheLine) {
  type("abc");  // keys at 1010..1060, last down at 1050
  const Millis last = 1050;
  lines_.tick(last + 2999);
  EXPECT_TRUE(texts().empty());
  lines_.tick(last + 3000);
  ASSERT_EQ(texts(), (Lines{"abc"}));
  EXPECT_EQ(sink_.events[0].t_ms, 1010);
  lines_.tick(last + 10000);  // nothing more
  EXPECT_EQ(texts().size(), 1u);
}

TEST_F(LineAssemblerTest, IdleIsNoticedByTheNextKeyWithoutTick) {
  type("abc");
  t_ += 5000;
  type("def");
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"abc", "def"}));
  EXPECT_EQ(sink_.events[1].t_ms, 1060 + 5000 + 10);
}

TEST_F(LineAssemblerTest, TypingKeepsTheLineOpen) {
  for (int i = 0; i < 10; ++i) {
    type("x");
    lines_.tick(t_ + 2000);
    t_ += 2000;
  }
  EXPECT_TRUE(texts().empty());
  lines_.flush(t_);
  EXPECT_EQ(texts(), (Lines{"xxxxxxxxxx"}));
}

TEST_F(LineAssemblerTest, BackspacedLineRestartsItsClock) {
  type("ab");
  tap(kBackSpace), tap(kBackSpace);
  t_ += 1000;
  const Millis restart = t_ + 10;
  type("cd");
  tap(kReturn);
  ASSERT_EQ(texts(), (Lines{"cd"}));
  EXPECT_EQ(sink_.events[0].t_ms, restart);
}

TEST_F(LineAssemblerTest, FlushEmitsPending) {
  type("half typed");
  lines_.flush(t_);
  lines_.flush(t_);
  EXPECT_EQ(texts(), (Lines{"half typed"}));
}

TEST(LineAssemblerCap, LongLinesAreSplit) {
  CollectingSink sink;
  LineAssembler lines(sink, {.idle_ms = 3000, .max_line_bytes = 8});
  Millis t = 0;
  for (char c : std::string("0123456789ab")) {
    lines.onInput(KeyInput{static_cast<std::uint32_t>(c), true}, t += 10);
  }
  lines.onInput(KeyInput{0xe9, true}, t += 10);  // é: 2 bytes, never split
  lines.onInput(KeyInput{0xe9, true}, t += 10);
  lines.onInput(KeyInput{0xe9, true}, t += 10);
  lines.flush(t);
  ASSERT_EQ(sink.texts(), (Lines{"01234567", "89abéé", "é"}));
  EXPECT_EQ(sink.events[1].t_ms, 90);
  for (const auto& e : sink.events) EXPECT_LE(e.text.size(), 8u);
}

TEST(LineAssemblerCap, DefaultCapBoundsAFlood) {
  CollectingSink sink;
  LineAssembler lines(sink);
  for (int i = 0; i < 10000; ++i) lines.onInput(KeyInput{'x', true}, i);
  lines.flush(10000);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[0].text.size(), 4096u);
  EXPECT_EQ(sink.events[2].text.size(), 10000u - 2 * 4096);
}

// --- characters ------------------------------------------------------------

TEST_F(LineAssemblerTest, UnicodeAndLegacyKeysyms) {
  tap(0xe9);        // é (Latin-1)
  tap(0x010020ac);  // € (Unicode keysym)
  tap(0x01000444);  // ф
  tap(0x0101f600);  // 😀
  tap(0x6c1);       // а (Cyrillic legacy)
  tap(0x6e1);       // А
  tap(0x7e1);       // α (Greek legacy)
  tap(0x7d9);       // Ω
  tap(0x7f3);       // ς
  tap(0x1b1);       // ą (Latin-2 legacy)
  tap(0x1a3);       // Ł
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"é€ф😀аАαΩςąŁ"}));
}

TEST_F(LineAssemblerTest, LatinOneLettersFollowShift) {
  down(kShift);
  tap(0xe9);  // é with Shift from an unshifted-keysym client
  up(kShift);
  tap(0xf7);  // ÷ is not a letter
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"É÷"}));
}

TEST_F(LineAssemblerTest, Keypad) {
  for (std::uint32_t ks : {0xffb1u, 0xffb2u, 0xffabu, 0xffb0u, 0xffaeu, 0xffb5u, 0xffaau,
                           0xffafu, 0xffadu, 0xffbdu})
    tap(ks);
  tap(0xff96);  // KP_Left
  tap(0xffb9);  // KP_9
  tap(kKpEnter);
  EXPECT_EQ(texts(), (Lines{"12+0.5*/-9="}));
}

TEST_F(LineAssemblerTest, DeadKeysAreIgnoredUnknownKeysAreTokens) {
  tap(0xfe51);      // dead_acute
  type("e");
  tap(0x1008ff13);  // XF86AudioRaiseVolume
  tap(0x0100d800);  // a surrogate is not a character
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"e<0x1008FF13><0x100D800>"}));
}

// --- pointer, clipboard, window, threads ------------------------------------

TEST_F(LineAssemblerTest, ClickEndsTheLine) {
  type("user");
  lines_.onInput(PointerInput{10, 10, 0}, t_ += 10);  // motion only
  type("name");
  lines_.onInput(PointerInput{10, 10, 1}, t_ += 10);  // press
  lines_.onInput(PointerInput{12, 10, 1}, t_ += 10);  // drag: no new press
  type("x");
  lines_.onInput(PointerInput{12, 10, 0}, t_ += 10);  // release
  type("y");
  lines_.onInput(PointerInput{12, 10, 8}, t_ += 10);  // wheel: not a click
  tap(kReturn);
  EXPECT_EQ(texts(), (Lines{"username", "xy"}));
}

TEST_F(LineAssemblerTest, ClipboardIsIgnored) {
  lines_.onInput(ClipboardInput{"pasted", Direction::ClientToServer}, t_ += 10);
  lines_.flush(t_);
  EXPECT_TRUE(texts().empty());
}

TEST_F(LineAssemblerTest, WindowTitleIsAttached) {
  type("a");
  tap(kReturn);
  lines_.setWindowTitle("Administrator: Command Prompt");
  type("b");
  tap(kReturn);
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[0].window, "");
  EXPECT_EQ(sink_.events[1].window, "Administrator: Command Prompt");
  lines_.setWindowTitle(std::string(5000, 'w'));
  type("c");
  tap(kReturn);
  EXPECT_EQ(sink_.events[2].window.size(), 1024u);
}

TEST(LineAssemblerThreads, ConcurrentInputTickAndTitle) {
  CollectingSink sink;
  LineAssembler lines(sink);
  std::atomic<bool> done{false};
  std::atomic<Millis> clock{0};
  std::thread ticker([&] {
    while (!done) {
      lines.tick(clock.load());
      lines.setWindowTitle("w" + std::to_string(clock.load()));
    }
  });
  constexpr int kLines = 500;
  for (int i = 0; i < kLines; ++i) {
    for (char c : std::string("abcd")) lines.onInput(KeyInput{static_cast<std::uint32_t>(c), true}, ++clock);
    lines.onInput(KeyInput{0xff0d, true}, ++clock);
  }
  done = true;
  ticker.join();
  lines.flush(clock);
  const auto texts = sink.texts();
  ASSERT_EQ(texts.size(), static_cast<std::size_t>(kLines));
  for (const auto& t : texts) EXPECT_EQ(t, "abcd");
}

// The filter point: the key that would finish a refused line is held back.
class RefusingFilter final : public LineFilter {
 public:
  bool allowLine(std::string_view line) override {
    seen.emplace_back(line);
    return line.find("shutdown") == std::string_view::npos;
  }
  std::vector<std::string> seen;
};

class LineFilterTest : public ::testing::Test {
 protected:
  bool down(std::uint32_t ks) { return lines_.offer(KeyInput{ks, true}, t_ += 10); }
  bool up(std::uint32_t ks) { return lines_.offer(KeyInput{ks, false}, t_ += 10); }
  // Every key of `s` must be relayed.
  void type(const std::string& s) {
    for (char c : s) {
      EXPECT_TRUE(down(static_cast<unsigned char>(c))) << c;
      EXPECT_TRUE(up(static_cast<unsigned char>(c))) << c;
    }
  }
  CollectingSink sink_;
  RefusingFilter filter_;
  LineAssembler lines_{sink_, {}, &filter_};
  Millis t_ = 1000;
};

TEST_F(LineFilterTest, EnterOfARefusedLineIsHeldBackWithItsRelease) {
  type("shutdown /s /t 0");
  EXPECT_FALSE(down(kReturn));
  EXPECT_FALSE(up(kReturn));
  EXPECT_EQ(filter_.seen, Lines{"shutdown /s /t 0"});
  EXPECT_EQ(sink_.texts(), Lines{"shutdown /s /t 0"});  // still recorded as typed
  // Other lines and their Enter pass.
  type("dir");
  EXPECT_TRUE(down(kReturn));
  EXPECT_TRUE(up(kReturn));
  EXPECT_EQ(sink_.texts(), (Lines{"shutdown /s /t 0", "dir"}));
}

TEST_F(LineFilterTest, KeypadEnterAndChordsAreFilteredToo) {
  type("shutdown");
  EXPECT_FALSE(down(kKpEnter));
  EXPECT_FALSE(up(kKpEnter));
  type("shutdown");
  EXPECT_TRUE(down(kCtrl));
  EXPECT_FALSE(down('m'));  // Ctrl+M is Enter to a terminal
  EXPECT_FALSE(up('m'));
  EXPECT_TRUE(up(kCtrl));
  EXPECT_EQ(filter_.seen.back(), "shutdown<Ctrl+M>");
}

TEST_F(LineFilterTest, APauseDoesNotSplitACommandPastTheFilter) {
  type("shut");
  lines_.tick(t_ + 5000);  // idle: "shut" is emitted, but the target still holds it
  t_ += 5000;
  type("down");
  EXPECT_FALSE(down(kReturn));
  EXPECT_EQ(filter_.seen.back(), "shutdown");
  EXPECT_EQ(sink_.texts(), (Lines{"shut", "down"}));
  // After a finishing key the context starts afresh.
  type("ls");
  EXPECT_TRUE(down(kReturn));
  EXPECT_EQ(filter_.seen.back(), "ls");
}

TEST_F(LineFilterTest, OtherKeysAndPointerArePassed) {
  EXPECT_TRUE(down(kShift));
  EXPECT_TRUE(up(kShift));
  EXPECT_TRUE(lines_.offer(PointerInput{1, 1, 1}, t_ += 10));
  EXPECT_TRUE(lines_.offer(ClipboardInput{"shutdown", Direction::ClientToServer}, t_ += 10));
  // An empty line asks nothing.
  EXPECT_TRUE(down(kReturn));
  EXPECT_TRUE(filter_.seen.empty());
}

}  // namespace
}  // namespace vigil::gateway::input
