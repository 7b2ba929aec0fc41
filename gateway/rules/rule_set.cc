#include "gateway/rules/rule_set.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>

namespace vigil::gateway::rules {

struct RuleSet::Compiled {
  RuleConfig config;
  std::unique_ptr<RE2> re;
  std::size_t id = 0;  // its place among all compiled rules (the prefilter's numbering)
  bool applies(EventKind k) const {
    return std::find(config.kinds.begin(), config.kinds.end(), k) != config.kinds.end();
  }
};

// One RE2::Set per event kind over the rules of that kind: a single pass
// over the text names the rules that match somewhere in it.
struct RuleSet::Prefilter {
  static constexpr int kKinds = 3;  // key, title, clipboard
  std::unique_ptr<RE2::Set> set[kKinds];
  std::vector<std::size_t> rule_of[kKinds];  // set pattern index -> Compiled::id
  std::size_t rules = 0;

  static int slot(EventKind k) {
    return k == EventKind::Key ? 0 : k == EventKind::Title ? 1 : k == EventKind::Clipboard ? 2 : -1;
  }
  // flags[id] set for every rule of `kind` that matches `text`; false when
  // the set could not tell (then every rule must run).
  bool candidates(EventKind kind, std::string_view text, std::vector<char>& flags) const {
    const int k = slot(kind);
    if (k < 0 || !set[k]) return false;
    std::vector<int> hits;
    RE2::Set::ErrorInfo err{};
    if (!set[k]->Match(re2::StringPiece(text.data(), text.size()), &hits, &err) &&
        err.kind != RE2::Set::kNoError)
      return false;
    flags.assign(rules, 0);
    for (int h : hits) flags[rule_of[k][static_cast<std::size_t>(h)]] = 1;
    return true;
  }
};

namespace {

constexpr std::string_view kMasked = "[masked]";
// The prefilter's DFA budget per kind (RE2's default is 8 MiB per RE2).
constexpr int64_t kPrefilterMaxMem = 64 << 20;

struct Span {
  std::size_t begin, end;
};

// Every match of `re` in `text` (its group 1 if it has one), non-overlapping,
// left to right. An empty match advances one byte so the loop ends.
void collectMasks(const RE2& re, std::string_view text, std::vector<Span>& out) {
  const int groups = std::min(re.NumberOfCapturingGroups(), 1);
  re2::StringPiece sub[2];
  std::size_t pos = 0;
  const re2::StringPiece whole(text.data(), text.size());
  while (pos <= text.size() &&
         re.Match(whole, pos, text.size(), RE2::UNANCHORED, sub, groups + 1)) {
    const re2::StringPiece& m = (groups == 1 && sub[1].data() != nullptr) ? sub[1] : sub[0];
    const std::size_t b = static_cast<std::size_t>(m.data() - text.data());
    if (!m.empty()) out.push_back({b, b + m.size()});
    const std::size_t match_end = static_cast<std::size_t>(sub[0].data() - text.data()) + sub[0].size();
    pos = match_end > pos ? match_end : pos + 1;
  }
}

// `text[b, e)` with each masked span that overlaps it written as [masked].
std::string render(std::string_view text, const std::vector<Span>& spans, std::size_t b,
                   std::size_t e) {
  std::string out;
  std::size_t i = b;
  for (const Span& s : spans) {
    if (s.end <= b || s.begin >= e) continue;
    const std::size_t sb = std::max(s.begin, b);
    if (sb > i) out.append(text.substr(i, sb - i));
    out += kMasked;
    i = std::max(i, std::min(s.end, e));
  }
  if (i < e) out.append(text.substr(i, e - i));
  return out;
}

}  // namespace

bool globMatch(std::string_view glob, std::string_view text) {
  // Iterative with one backtrack point: linear in practice, no recursion.
  std::size_t g = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == text[t])) {
      ++g, ++t;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = t;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

Result<RuleSet> RuleSet::compile(const std::vector<RuleConfig>& rules, const MaskingConfig& masking) {
  RuleSet set;
  if (masking.password_windows) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<const RE2>(masking.password_window_titles, opts);
    if (!re->ok())
      return Status::Error("[masking] password_window_titles is not a valid RE2 pattern: " + re->error());
    set.password_titles_ = std::move(re);
  }
  for (const RuleConfig& r : rules) {
    auto c = std::make_shared<Compiled>();
    c->config = r;
    RE2::Options opts;
    opts.set_log_errors(false);
    c->re = std::make_unique<RE2>(r.match, opts);
    if (!c->re->ok())
      return Status::Error("rule \"" + r.name + "\": `match` is not a valid RE2 pattern: " +
                           c->re->error());
    c->id = set.rules_.size();
    set.rules_.push_back(std::move(c));
  }
  auto pre = std::make_shared<Prefilter>();
  pre->rules = set.rules_.size();
  for (EventKind kind : {EventKind::Key, EventKind::Title, EventKind::Clipboard}) {
    const int k = Prefilter::slot(kind);
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_max_mem(kPrefilterMaxMem);
    auto rs = std::make_unique<RE2::Set>(opts, RE2::UNANCHORED);
    bool ok = true;
    for (const auto& c : set.rules_) {
      if (!c->applies(kind)) continue;
      if (rs->Add(c->config.match, nullptr) < 0) { ok = false; break; }
      pre->rule_of[k].push_back(c->id);
    }
    // Not built (no rules of this kind, or too large): every rule runs.
    if (ok && !pre->rule_of[k].empty() && rs->Compile()) pre->set[k] = std::move(rs);
  }
  set.prefilter_ = std::move(pre);
  return set;
}

RuleSet RuleSet::forSession(std::string_view user, std::string_view target) const {
  auto any = [](const std::vector<std::string>& globs, std::string_view s) {
    return globs.empty() ||
           std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return globMatch(g, s); });
  };
  RuleSet out;
  out.password_titles_ = password_titles_;
  out.prefilter_ = prefilter_;
  for (const auto& r : rules_)
    if (any(r->config.users, user) && any(r->config.targets, target)) out.rules_.push_back(r);
  return out;
}

Outcome RuleSet::evaluate(EventKind kind, std::string_view text) const {
  Outcome out;
  if (rules_.empty()) {
    out.text = std::string(text);
    return out;
  }
  std::vector<char> cand;
  const bool filtered = prefilter_ && prefilter_->candidates(kind, text, cand);
  auto may = [&](const Compiled& r) { return !filtered || cand[r.id]; };
  std::vector<Span> spans;
  for (const auto& r : rules_)
    if (r->config.action == RuleAction::Mask && r->applies(kind) && may(*r)) collectMasks(*r->re, text, spans);
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> merged;
  for (const Span& s : spans) {
    if (!merged.empty() && s.begin <= merged.back().end) merged.back().end = std::max(merged.back().end, s.end);
    else merged.push_back(s);
  }
  out.masked = !merged.empty();
  out.text = out.masked ? render(text, merged, 0, text.size()) : std::string(text);

  const re2::StringPiece whole(text.data(), text.size());
  for (const auto& r : rules_) {
    if (r->config.action == RuleAction::Mask || !r->applies(kind) || !may(*r)) continue;
    re2::StringPiece m;
    if (!r->re->Match(whole, 0, text.size(), RE2::UNANCHORED, &m, 1)) continue;
    const std::size_t b = static_cast<std::size_t>(m.data() - text.data());
    out.hits.push_back({r->config.name, r->config.action, r->config.severity,
                        render(text, merged, b, b + m.size())});
  }
  return out;
}

bool RuleSet::passwordWindow(std::string_view title) const {
  return password_titles_ && !title.empty() &&
         RE2::PartialMatch(re2::StringPiece(title.data(), title.size()), *password_titles_);
}

Outcome RuleSet::evaluateLine(std::string_view line, std::string_view window) const {
  Outcome out = evaluate(EventKind::Key, line);
  if (!passwordWindow(window)) return out;
  out.text = kMasked;
  out.masked = true;
  for (Hit& h : out.hits) h.matched = kMasked;
  return out;
}

const RuleConfig* RuleSet::terminatingKeyRule(std::string_view line) const {
  if (rules_.empty()) return nullptr;
  std::vector<char> cand;
  const bool filtered = prefilter_ && prefilter_->candidates(EventKind::Key, line, cand);
  const re2::StringPiece whole(line.data(), line.size());
  for (const auto& r : rules_) {
    if (r->config.action != RuleAction::Terminate || !r->applies(EventKind::Key)) continue;
    if (filtered && !cand[r->id]) continue;
    if (r->re->Match(whole, 0, line.size(), RE2::UNANCHORED, nullptr, 0)) return &r->config;
  }
  return nullptr;
}

}  // namespace vigil::gateway::rules
