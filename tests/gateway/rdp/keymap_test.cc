#include "gateway/rdp/keymap.h"

#include <gtest/gtest.h>

namespace vigil::gateway::rdp {
namespace {

std::uint32_t press(KeyMapper& m, std::uint8_t sc, bool ext = false) {
  auto ks = m.key(sc, ext, true);
  EXPECT_TRUE(ks.has_value()) << "scancode " << int(sc);
  auto up = m.key(sc, ext, false);
  EXPECT_EQ(up, ks);
  return ks.value_or(0);
}

TEST(KeyMapper, UsLettersDigitsAndPunctuation) {
  KeyMapper m(KeyboardLayout::Us);
  EXPECT_EQ(press(m, 0x14), 't');
  EXPECT_EQ(press(m, 0x02), '1');
  EXPECT_EQ(press(m, 0x35), '/');
  EXPECT_EQ(press(m, 0x39), ' ');
  EXPECT_EQ(press(m, 0x1C), 0xff0du);        // Return
  EXPECT_EQ(press(m, 0x1C, true), 0xff8du);  // KP_Enter
  EXPECT_EQ(press(m, 0x0E), 0xff08u);        // BackSpace
  EXPECT_EQ(press(m, 0x4B, true), 0xff51u);  // Left
  EXPECT_EQ(press(m, 0x5B, true), 0xffebu);  // Super_L
  EXPECT_EQ(press(m, 0x3B), 0xffbeu);        // F1
}

TEST(KeyMapper, ShiftAndCapsLock) {
  KeyMapper m(KeyboardLayout::Us);
  EXPECT_EQ(m.key(0x2A, false, true), 0xffe1u);  // Shift_L down
  EXPECT_EQ(press(m, 0x1E), 'A');
  EXPECT_EQ(press(m, 0x02), '!');
  EXPECT_EQ(m.key(0x2A, false, false), 0xffe1u);
  EXPECT_EQ(press(m, 0x1E), 'a');
  press(m, 0x3A);  // Caps Lock on
  EXPECT_EQ(press(m, 0x1E), 'A');
  EXPECT_EQ(press(m, 0x02), '1');  // caps does not shift digits
  m.setLocks(false, false);
  EXPECT_EQ(press(m, 0x1E), 'a');
}

TEST(KeyMapper, ReleaseMatchesPressEvenIfShiftChangedInBetween) {
  KeyMapper m(KeyboardLayout::Us);
  m.key(0x2A, false, true);
  EXPECT_EQ(m.key(0x1E, false, true), 'A');
  m.key(0x2A, false, false);
  EXPECT_EQ(m.key(0x1E, false, false), 'A');
}

TEST(KeyMapper, GermanLayoutWithAltGr) {
  KeyMapper m(KeyboardLayout::De);
  EXPECT_EQ(press(m, 0x15), 'z');
  EXPECT_EQ(press(m, 0x2C), 'y');
  EXPECT_EQ(press(m, 0x27), 0xf6u);  // ö
  EXPECT_EQ(press(m, 0x35), '-');
  EXPECT_EQ(m.key(0x38, true, true), 0xfe03u);  // AltGr
  EXPECT_EQ(press(m, 0x10), '@');
  EXPECT_EQ(press(m, 0x08), '{');
  m.key(0x38, true, false);
  m.key(0x2A, false, true);
  EXPECT_EQ(press(m, 0x08), '/');
}

TEST(KeyMapper, NumLockKeypad) {
  KeyMapper m;
  m.setLocks(false, true);
  EXPECT_EQ(press(m, 0x47), 0xffb7u);  // KP_7
  m.setLocks(false, false);
  EXPECT_EQ(press(m, 0x47), 0xff95u);  // KP_Home
}

TEST(KeyMapper, UnknownScancodeIsIgnored) {
  KeyMapper m;
  EXPECT_FALSE(m.key(0x7e, false, true).has_value());
  EXPECT_FALSE(m.key(0x01, true, true).has_value());
}

TEST(Layouts, FromIdAndName) {
  EXPECT_EQ(layoutFromId(0x0409), KeyboardLayout::Us);
  EXPECT_EQ(layoutFromId(0x00000407), KeyboardLayout::De);
  EXPECT_EQ(layoutFromId(0x00000809), KeyboardLayout::Gb);
  EXPECT_EQ(layoutFromId(0x0000040c), KeyboardLayout::Us);  // unknown → US
  EXPECT_EQ(layoutFromName("de"), KeyboardLayout::De);
  EXPECT_EQ(layoutFromName("UK"), KeyboardLayout::Gb);
  EXPECT_EQ(layoutFromName("0x407"), KeyboardLayout::De);
  EXPECT_EQ(layoutFromName("00000809"), KeyboardLayout::Gb);
  EXPECT_FALSE(layoutFromName("klingon").has_value());
  EXPECT_FALSE(layoutFromName("0x40c").has_value());
}

TEST(Unicode, Keysyms) {
  EXPECT_EQ(keysymForCodepoint('a'), 'a');
  EXPECT_EQ(keysymForCodepoint(0xe9), 0xe9u);
  EXPECT_EQ(keysymForCodepoint(0x20ac), 0x010020acu);
  EXPECT_EQ(keysymForCodepoint(0x1f600), 0x0101f600u);
  EXPECT_EQ(keysymForCodepoint('\r'), 0xff0du);
  EXPECT_EQ(keysymForCodepoint(0x07), 0u);
  EXPECT_EQ(keysymForCodepoint(0xd800), 0u);
}

}  // namespace
}  // namespace vigil::gateway::rdp
