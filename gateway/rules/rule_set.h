// The [[rules]] of the config, compiled once (RE2, linear time) and matched
// against the text of `key`, `title` and `clipboard` events.
//
// Semantics (docs/rules.md):
// - A rule applies to an event when its kinds hold the event's kind and its
//   users / targets globs (`*`, `?`; empty: any) match the session's user and
//   target (forSession() picks them once per session).
// - Every rule is matched against the text as it was typed / read. `mask`
//   rules mark what they matched (their first capture group if the pattern
//   has one, else the whole match; every occurrence); overlapping or touching
//   marks merge, and each merged mark becomes "[masked]" in the event.
// - `alert` and `terminate` rules yield one Hit each (first match), in rule
//   order; the Hit's text is the rule's name and what matched, with masks
//   applied to it, so a secret never leaves through an alert either.
// - With [masking] password_windows, a `key` line whose window (the title in
//   front when it was finished) matches password_window_titles becomes
//   "[masked]" whole, and so does what each of its hits matched.
// Cost: one RE2::Set pass per event over all rules of its kind finds the
// rules that can match; only those run on their own (bench/rules). If the
// set cannot run (its DFA out of memory), every rule runs: never fewer.
// Immutable after compile(): thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/status.h"

namespace re2 { class RE2; }

namespace vigil::gateway::rules {

struct Hit {
  std::string rule;  // its name
  RuleAction action = RuleAction::Alert;
  Severity severity = Severity::Medium;
  std::string matched;  // what matched, masked
};

struct Outcome {
  std::string text;       // the event's text, masked
  bool masked = false;    // some mask applied
  std::vector<Hit> hits;  // alert and terminate rules that matched, in rule order
};

// `*` any run of characters, `?` one character; everything else literal.
bool globMatch(std::string_view glob, std::string_view text);

class RuleSet {
 public:
  RuleSet() = default;
  // Compiles every rule; an error names the rule (Config::parse has already
  // checked them, so this fails only on a config not loaded through it).
  static Result<RuleSet> compile(const std::vector<RuleConfig>& rules,
                                 const MaskingConfig& masking = {});

  // The rules whose users and targets globs hold this session.
  RuleSet forSession(std::string_view user, std::string_view target) const;

  bool empty() const { return rules_.empty(); }
  // Nothing to do for any event: no rules and no password-window masking.
  bool inert() const { return rules_.empty() && !password_titles_; }
  // Whether `title` asks for a password (a line typed in it is masked whole).
  bool passwordWindow(std::string_view title) const;
  std::size_t size() const { return rules_.size(); }

  // Masks and matches `text` of an event of `kind`.
  Outcome evaluate(EventKind kind, std::string_view text) const;
  // A `key` line typed in `window`: evaluate(), masked whole in a password window.
  Outcome evaluateLine(std::string_view line, std::string_view window) const;
  // The first `terminate` rule for `key` lines that matches `line`, or null.
  // The input filter: called inline on the relay path, bounded by RE2.
  const RuleConfig* terminatingKeyRule(std::string_view line) const;

 private:
  struct Compiled;
  struct Prefilter;
  std::vector<std::shared_ptr<const Compiled>> rules_;
  std::shared_ptr<const Prefilter> prefilter_;  // over every compiled rule, shared by forSession()
  std::shared_ptr<const re2::RE2> password_titles_;  // null: password_windows off
};

}  // namespace vigil::gateway::rules
