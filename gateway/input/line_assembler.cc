#include "gateway/input/line_assembler.h"

#include <algorithm>
#include <cstdio>
#include <variant>

namespace vigil::gateway::input {
namespace {

constexpr std::size_t kMaxTitleBytes = 1024;
constexpr std::size_t kMaxHeldModifiers = 16;

bool isAsciiAlnum(char32_t cp) {
  return (cp >= U'a' && cp <= U'z') || (cp >= U'A' && cp <= U'Z') || (cp >= U'0' && cp <= U'9');
}

std::string chordKeyName(char32_t cp) {
  if (cp == U' ') return "Space";
  return toUtf8(upperLatin1(cp));
}

std::string hexToken(std::uint32_t keysym) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%X", static_cast<unsigned>(keysym));
  return buf;
}

bool isSpace(const std::string& s) { return s == " " || s == "\u00A0"; }

}  // namespace

LineAssembler::LineAssembler(EventSink& sink, LineAssemblerOptions options, LineFilter* filter)
    : sink_(sink), options_(options), filter_(filter) {}

void LineAssembler::onInput(const InputEvent& e, Millis t) { (void)offer(e, t); }

bool LineAssembler::offer(const InputEvent& e, Millis t) {
  std::lock_guard lock(mu_);
  if (const auto* key = std::get_if<KeyInput>(&e)) {
    if (!key->down) {
      const auto it = std::find(withheld_.begin(), withheld_.end(), key->keysym);
      if (it != withheld_.end()) {
        withheld_.erase(it);
        onKey(key->keysym, false, t);
        return false;
      }
    }
    refused_ = false;
    onKey(key->keysym, key->down, t);
    if (!refused_) return true;
    if (withheld_.size() < kMaxHeldModifiers &&
        std::find(withheld_.begin(), withheld_.end(), key->keysym) == withheld_.end())
      withheld_.push_back(key->keysym);
    return false;
  } else if (const auto* ptr = std::get_if<PointerInput>(&e)) {
    const std::uint32_t pressed = ptr->buttons & ~buttons_ & 0x7u;  // left, middle, right
    buttons_ = ptr->buttons;
    if (pressed) emit();
  }
  return true;
}

void LineAssembler::tick(Millis now) {
  std::lock_guard lock(mu_);
  if (!units_.empty() && now - last_key_ >= options_.idle_ms) emit();
}

void LineAssembler::flush(Millis now) {
  (void)now;
  std::lock_guard lock(mu_);
  emit();
}

void LineAssembler::setWindowTitle(std::string title) {
  if (title.size() > kMaxTitleBytes) title.resize(kMaxTitleBytes);
  std::lock_guard lock(mu_);
  window_ = std::move(title);
}

bool LineAssembler::held(Modifier m) const {
  return std::any_of(held_modifiers_.begin(), held_modifiers_.end(),
                     [&](std::uint32_t ks) { return modifierOf(ks) == m; });
}

std::string LineAssembler::modifierPrefix(bool shift) const {
  std::string p;
  if (held(Modifier::Ctrl)) p += "Ctrl+";
  if (held(Modifier::Alt)) p += "Alt+";
  if (shift) p += "Shift+";
  if (held(Modifier::Win)) p += "Win+";
  return p;
}

void LineAssembler::onKey(std::uint32_t keysym, bool down, Millis t) {
  // Before anything else, so a late key does not join a line that is over.
  if (!units_.empty() && t - last_key_ >= options_.idle_ms) emit();

  if (const Modifier m = modifierOf(keysym); m != Modifier::None) {
    const auto it = std::find(held_modifiers_.begin(), held_modifiers_.end(), keysym);
    if (down) {
      if (it != held_modifiers_.end()) return;  // auto-repeat of a held modifier
      if (m == Modifier::CapsLock) caps_lock_ = !caps_lock_;
      if (held_modifiers_.size() < kMaxHeldModifiers) held_modifiers_.push_back(keysym);
    } else if (it != held_modifiers_.end()) {
      held_modifiers_.erase(it);
    }
    return;
  }
  if (!down) return;
  last_key_ = t;

  const bool ctrl = held(Modifier::Ctrl), alt = held(Modifier::Alt), win = held(Modifier::Win);
  const bool shift = held(Modifier::Shift);
  bool chord = ctrl || alt || win;

  if (auto cp = keysymToCodepoint(keysym)) {
    if (ctrl && alt && !win && !isAsciiAlnum(*cp)) chord = false;  // AltGr sent as Ctrl+Alt
    if (keysym < 0x100 && isUpperLatin1Letter(*cp)) client_shifts_ = true;
    if (chord) {
      chordAndEnd(modifierPrefix(shift) + chordKeyName(*cp), t);
      return;
    }
    char32_t c = *cp;
    if (!client_shifts_ && keysym < 0x100 && isLowerLatin1Letter(c) && (shift != caps_lock_))
      c = upperLatin1(c);
    insert(toUtf8(c), false, t);
    return;
  }

  const auto special = specialKey(keysym);
  if (!special) {  // unknown: keep a trace rather than drop it
    if (chord) chordAndEnd(modifierPrefix(shift) + hexToken(keysym), t);
    else insert("<" + modifierPrefix(shift) + hexToken(keysym) + ">", true, t);
    return;
  }
  const bool word = ctrl && !alt && !win;  // Ctrl alone edits by words
  const bool edit_chord = alt || win;      // Alt/Win with an editing key is a command
  switch (special->role) {
    case KeyRole::Ignore:
      return;
    case KeyRole::Enter:
      if (chord) chordAndEnd(modifierPrefix(shift) + "Enter", t);
      else endLine();
      return;
    case KeyRole::Backspace:
      if (edit_chord) chordAndEnd(modifierPrefix(shift) + std::string(special->name), t);
      else backspace(word, t);
      return;
    case KeyRole::Delete:
      if (edit_chord) chordAndEnd(modifierPrefix(shift) + std::string(special->name), t);
      else del(word, t);
      return;
    case KeyRole::Left:
    case KeyRole::Right:
    case KeyRole::Home:
    case KeyRole::End:
      if (edit_chord) {
        chordAndEnd(modifierPrefix(shift) + std::string(special->name), t);
      } else if (special->role == KeyRole::Home) {
        cursor_ = 0;
      } else if (special->role == KeyRole::End) {
        cursor_ = units_.size();
      } else if (word) {
        moveWord(special->role == KeyRole::Left ? -1 : 1);
      } else if (special->role == KeyRole::Left) {
        if (cursor_ > 0) --cursor_;
      } else if (cursor_ < units_.size()) {
        ++cursor_;
      }
      return;
    case KeyRole::Token:
      if (chord) chordAndEnd(modifierPrefix(shift) + std::string(special->name), t);
      else insert("<" + modifierPrefix(shift) + std::string(special->name) + ">", true, t);
      return;
    case KeyRole::EndToken:
      chordAndEnd(modifierPrefix(shift) + std::string(special->name), t);
      return;
  }
}

void LineAssembler::insert(std::string text, bool token, Millis t) {
  if (!units_.empty() && bytes_ + text.size() > options_.max_line_bytes) emit();
  if (units_.empty()) line_start_ = t;
  bytes_ += text.size();
  units_.insert(units_.begin() + static_cast<std::ptrdiff_t>(cursor_), Unit{std::move(text), token});
  ++cursor_;
}

void LineAssembler::chordAndEnd(const std::string& key_name, Millis t) {
  cursor_ = units_.size();
  insert("<" + key_name + ">", true, t);
  endLine();
}

void LineAssembler::endLine() {
  if (filter_ && !units_.empty()) {
    std::string line = unfinished_;
    line.reserve(line.size() + bytes_);
    for (const Unit& u : units_) line += u.text;
    if (!filter_->allowLine(line)) refused_ = true;
  }
  emit();
  unfinished_.clear();
}

void LineAssembler::backspace(bool word, Millis t) {
  if (cursor_ == 0 || units_[cursor_ - 1].token) {
    insert("<Backspace>", true, t);
    return;
  }
  // A word: the spaces before the cursor, then the characters up to a space
  // or a token.
  bool in_word = false;
  do {
    const bool space = isSpace(units_[cursor_ - 1].text);
    if (word && !space) in_word = true;
    if (word && in_word && space) break;
    bytes_ -= units_[cursor_ - 1].text.size();
    units_.erase(units_.begin() + static_cast<std::ptrdiff_t>(cursor_ - 1));
    --cursor_;
  } while (word && cursor_ > 0 && !units_[cursor_ - 1].token);
}

void LineAssembler::del(bool word, Millis t) {
  if (cursor_ >= units_.size() || units_[cursor_].token) {
    insert("<Del>", true, t);
    return;
  }
  bool in_word = false;
  do {
    const bool space = isSpace(units_[cursor_].text);
    if (word && !space) in_word = true;
    if (word && in_word && space) break;
    bytes_ -= units_[cursor_].text.size();
    units_.erase(units_.begin() + static_cast<std::ptrdiff_t>(cursor_));
  } while (word && cursor_ < units_.size() && !units_[cursor_].token);
}

void LineAssembler::moveWord(int direction) {
  // To the start of the previous word, or past the end of the next one.
  if (direction < 0) {
    while (cursor_ > 0 && isSpace(units_[cursor_ - 1].text)) --cursor_;
    while (cursor_ > 0 && !isSpace(units_[cursor_ - 1].text)) --cursor_;
  } else {
    while (cursor_ < units_.size() && isSpace(units_[cursor_].text)) ++cursor_;
    while (cursor_ < units_.size() && !isSpace(units_[cursor_].text)) ++cursor_;
  }
}

void LineAssembler::emit() {
  const bool visible = std::any_of(units_.begin(), units_.end(),
                                   [](const Unit& u) { return !isSpace(u.text); });
  if (visible) {
    Event e;
    e.t_ms = line_start_;
    e.kind = EventKind::Key;
    e.text.reserve(bytes_);
    for (const Unit& u : units_) e.text += u.text;
    e.window = window_;
    if (filter_) {
      unfinished_ += e.text;
      if (unfinished_.size() > options_.max_line_bytes)
        unfinished_.erase(0, unfinished_.size() - options_.max_line_bytes);
    }
    sink_.onEvent(e);
  }
  units_.clear();
  cursor_ = 0;
  bytes_ = 0;
}

}  // namespace vigil::gateway::input
