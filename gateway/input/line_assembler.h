// Keystrokes -> the `key` events of CONTRACT.md: one event per typed line,
// with edits applied, special keys and chords as tokens, t_ms = when the
// line began.
//
// Precisely:
// - Characters (Latin-1/2, Cyrillic, Greek, Unicode keysyms, keypad digits
//   and operators) are inserted at the cursor. Case: clients either send the
//   keysym already shifted ('A' with Shift held; most VNC viewers) or the
//   unshifted one ('a' with Shift held). A lower-case Latin-1 letter is
//   upper-cased when Shift XOR Caps Lock is active, which is right for both.
//   Once a client has sent an upper-case letter keysym it is known to shift
//   by itself, and case is never changed again (our Caps Lock state may be
//   wrong: it was on when the client connected).
// - Editing: Backspace deletes before the cursor, Delete after it, Left,
//   Right, Home, End move it; with Ctrl alone they act on words. Tokens are
//   single units; an edit that would delete a token, or finds nothing to
//   delete (the text on screen is not what we saw typed, e.g. after Tab
//   completion), is recorded as a <Backspace> / <Del> token instead.
// - Enter (Return, KP_Enter) ends the line. Lines without a visible
//   character (empty or only spaces) are not emitted.
// - Tokens kept inside the line: <Tab>, <Up>, <Down>, <PgUp>, <PgDn>, <Ins>,
//   <PrtSc>, <Pause>, <Menu>, <Shift+Tab>, ...; unknown keysyms become
//   <0xNNNN>; dead keys are ignored (the following base letter is kept).
// - Tokens that end the line: <Esc> and <F1>..<F35>, and every chord: a key
//   pressed while Ctrl, Alt or Win (Super/Meta/Hyper) is held, written with
//   its modifiers in the order Ctrl, Alt, Shift, Win: <Ctrl+C>, <Alt+Tab>,
//   <Win+R>, <Ctrl+Shift+Esc>, <Ctrl+Alt+Del>, <Ctrl+Space>. The token is
//   appended at the end of the current line, which is then emitted. Ctrl+Alt
//   with a character that is not an ASCII letter or digit is AltGr as
//   Windows sends it ('@', '{', '€'), so it is typed, not a chord.
// - Modifier presses alone produce nothing; key repeat (down, down, up)
//   types once per down. Releases only update modifier state.
// - A pointer button press ends the line (the caret likely moved).
// - Idle: a line whose last key is >= idle_ms old is emitted by tick(),
//   or before the next key is handled.
// - A line is capped at max_line_bytes: the unit that would overflow it
//   emits the line and starts a new one.
//
// - Filter (offer()): the key that would finish a line (Enter, a chord, Esc,
//   F-keys) is first shown to the LineFilter with the line as it would be
//   emitted, preceded by the lines ended since the last finishing key (idle,
//   pointer, overflow: the target's command line still holds them, so
//   pausing mid-command does not split it past the filter); if refused, that
//   key-down and its release must not reach the target. The line is still
//   emitted (it was typed). Lines ended otherwise have no key to hold back.
//
// Thread-safe (one mutex): onInput, tick, flush and setWindowTitle may be
// called from different threads. Events are delivered synchronously to the
// EventSink while the mutex is held: the sink must queue and must not call
// back into this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "core/sinks.h"
#include "gateway/input/keysym_names.h"

namespace vigil::gateway::input {

struct LineAssemblerOptions {
  Millis idle_ms = 3000;              // CONTRACT: 3 s without typing ends a line
  std::size_t max_line_bytes = 4096;  // bounds hostile input
};

// Decides, inline on the relay path and under the assembler's mutex, whether
// the key finishing `line` may reach the target. Quick; must not call back.
class LineFilter {
 public:
  virtual ~LineFilter() = default;
  virtual bool allowLine(std::string_view line) = 0;
};

class LineAssembler final : public vigil::InputSink {
 public:
  // `sink` receives the `key` events; `filter` (may be null) decides on the
  // keys that finish lines. Both must outlive this object.
  explicit LineAssembler(EventSink& sink, LineAssemblerOptions options = {},
                         LineFilter* filter = nullptr);

  // As onInput, and says whether the input may be relayed to the target:
  // false for a key the filter holds back (see above), true otherwise.
  [[nodiscard]] bool offer(const InputEvent& e, Millis t);

  // Keys and pointer buttons are used; clipboard is ignored. Times are on
  // the session clock and should not go backwards.
  void onInput(const InputEvent& e, Millis t) override;
  // Call every ~250 ms: emits the pending line once it has been idle for
  // idle_ms at `now`.
  void tick(Millis now);
  // Emits whatever is pending (session end).
  void flush(Millis now);
  // The window in front (from OCR); set on lines emitted from now on.
  void setWindowTitle(std::string title);

 private:
  struct Unit {
    std::string text;
    bool token = false;
  };

  void onKey(std::uint32_t keysym, bool down, Millis t);
  bool held(Modifier m) const;
  std::string modifierPrefix(bool shift) const;
  void insert(std::string text, bool token, Millis t);
  void chordAndEnd(const std::string& key_name, Millis t);
  void backspace(bool word, Millis t);
  void del(bool word, Millis t);
  void moveWord(int direction);
  void emit();
  void endLine();  // emit(), asking the filter first

  EventSink& sink_;
  const LineAssemblerOptions options_;
  LineFilter* const filter_;

  std::mutex mu_;  // guards everything below
  std::vector<Unit> units_;
  std::size_t cursor_ = 0;  // index into units_
  std::size_t bytes_ = 0;
  Millis line_start_ = 0;
  Millis last_key_ = 0;
  std::vector<std::uint32_t> held_modifiers_;  // keysyms of modifier keys held down
  bool caps_lock_ = false;
  bool client_shifts_ = false;  // the client sends already-shifted keysyms
  std::uint32_t buttons_ = 0;
  std::string window_;
  std::string unfinished_;  // lines emitted since the last finishing key (capped)
  bool refused_ = false;                // the key being handled is held back
  std::vector<std::uint32_t> withheld_;  // held-back keys whose release is held back too
};

}  // namespace vigil::gateway::input
