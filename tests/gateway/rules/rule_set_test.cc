#include "gateway/rules/rule_set.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vigil::gateway::rules {
namespace {

RuleConfig rule(std::string name, std::string match, RuleAction action,
                std::vector<EventKind> kinds = {EventKind::Key, EventKind::Title,
                                                EventKind::Clipboard}) {
  RuleConfig r;
  r.name = std::move(name);
  r.match = std::move(match);
  r.action = action;
  r.kinds = std::move(kinds);
  return r;
}

RuleSet compiled(const std::vector<RuleConfig>& rules) {
  auto set = RuleSet::compile(rules);
  EXPECT_TRUE(set.ok()) << set.message();
  return set.ok() ? std::move(set.value()) : RuleSet{};
}

TEST(RuleGlob, StarAndQuestionMark) {
  EXPECT_TRUE(globMatch("vendor*", "vendor1"));
  EXPECT_TRUE(globMatch("vendor*", "vendor"));
  EXPECT_FALSE(globMatch("vendor*", "avendor1"));
  EXPECT_TRUE(globMatch("dc?", "dc1"));
  EXPECT_FALSE(globMatch("dc?", "dc10"));
  EXPECT_TRUE(globMatch("*-prod-*", "db-prod-01"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_FALSE(globMatch("a*b*c", "aXbXd"));
  EXPECT_TRUE(globMatch("exact", "exact"));
  EXPECT_FALSE(globMatch("exact", "exactly"));
}

// [masking] password_windows: the default titles that ask for a secret, and
// ones that do not.
TEST(RuleSet, PasswordWindowTitles) {
  const RuleSet set = compiled({});
  for (const char* t : {"Windows Security", "Enter network credentials", "Sign in to your account",
                        "sudo password for eve", "Login - Oracle SQL Developer", "Unlock Keyring",
                        "Authentication Required", "Enter passphrase for key '/root/.ssh/id_rsa'",
                        "PASSWORD", "Enter PIN", "Remote Desktop Connection - Log on"})
    EXPECT_TRUE(set.passwordWindow(t)) << t;
  for (const char* t : {"Administrator: Command Prompt", "Registry Editor", "Blog Index - Firefox",
                        "Design interview notes", "Pinned items", ""})
    EXPECT_FALSE(set.passwordWindow(t)) << t;
}

TEST(RuleSet, LineInPasswordWindowIsMaskedWholeAlsoInHits) {
  const RuleSet set = compiled({rule("mysql root", "mysql -u root", RuleAction::Alert, {EventKind::Key})});
  Outcome o = set.evaluateLine("mysql -u root S3cret!", "Windows Security");
  EXPECT_EQ(o.text, "[masked]");
  EXPECT_TRUE(o.masked);
  ASSERT_EQ(o.hits.size(), 1u);  // the rule still acts
  EXPECT_EQ(o.hits[0].matched, "[masked]");
  o = set.evaluateLine("mysql -u root S3cret!", "Administrator: Command Prompt");
  EXPECT_EQ(o.text, "mysql -u root S3cret!");
  EXPECT_FALSE(o.masked);
  // Off, or a site's own titles.
  auto off = RuleSet::compile({}, MaskingConfig{false, kDefaultPasswordWindowTitles});
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->inert());
  EXPECT_EQ(off->evaluateLine("S3cret!", "Windows Security").text, "S3cret!");
  auto own = RuleSet::compile({}, MaskingConfig{true, "(?i)kennwort"});
  ASSERT_TRUE(own.ok());
  EXPECT_FALSE(own->inert());
  EXPECT_EQ(own->evaluateLine("S3cret!", "Kennwort eingeben").text, "[masked]");
  EXPECT_EQ(own->evaluateLine("S3cret!", "Windows Security").text, "S3cret!");
  // forSession keeps it.
  EXPECT_TRUE(set.forSession("vendor1", "dc01").passwordWindow("Windows Security"));
}

// The RE2::Set prefilter never drops a rule: with many rules of every kind
// and action, the hits of the whole set are those of each rule on its own,
// in rule order, and the terminate rule found is the first that matches.
TEST(RuleSet, PrefilterFindsWhatEachRuleFindsAlone) {
  std::vector<RuleConfig> rules;
  const std::vector<std::string> pats = {
      "(?i)net\\s+user\\s+\\S+\\s+\\S+\\s+/add", "mimikatz", "(?i)\\bpsexec\\b", "x*", "^$", "(a|b)+c",
      "(?i)shutdown\\s+/[sr]", "tok_[A-Za-z0-9]{4,}", "\\d{3}-\\d{4}", "(?:^|\\s)-p(\\S+)", "é+", "Registry",
      "\\bdir\\b", "[[:upper:]]{3}", "(?s).{40,}", "(?i)SELECT .* FROM", "\\\\\\\\srv", "z$"};
  const RuleAction acts[] = {RuleAction::Alert, RuleAction::Terminate, RuleAction::Mask};
  const std::vector<std::vector<EventKind>> kinds = {
      {EventKind::Key}, {EventKind::Title}, {EventKind::Clipboard}, {EventKind::Key, EventKind::Title, EventKind::Clipboard}};
  for (std::size_t i = 0; i < pats.size() * 3; ++i)
    rules.push_back(rule("r" + std::to_string(i), pats[i % pats.size()], acts[i % 3], kinds[i % 4]));
  const RuleSet all = compiled(rules);
  const std::vector<std::string> texts = {
      "", "net user eve S3cret! /add", "mimikatz sekurlsa::logonpasswords", "PSEXEC \\\\srv-01 cmd", "abbac",
      "shutdown /r /t 0", "copy tok_abcdef12 here", "call 555-1234", "mysql -u root -pHunter2", "ééé", "Registry Editor",
      "dir C:\\ ABC", "select name from users", "a line that is long enough to pass forty characters easily z",
      "nothing to see"};
  for (EventKind k : {EventKind::Key, EventKind::Title, EventKind::Clipboard}) {
    for (const std::string& t : texts) {
      std::vector<std::string> want;
      const RuleConfig* first_term = nullptr;
      for (const RuleConfig& r : rules) {
        const RuleSet one = compiled({r});
        for (const Hit& h : one.evaluate(k, t).hits) want.push_back(h.rule);
        if (k == EventKind::Key && !first_term && one.terminatingKeyRule(t)) first_term = &r;
      }
      std::vector<std::string> got;
      for (const Hit& h : all.evaluate(k, t).hits) got.push_back(h.rule);
      EXPECT_EQ(got, want) << "kind " << static_cast<int>(k) << " text \"" << t << "\"";
      if (k == EventKind::Key) {
        const RuleConfig* term = all.terminatingKeyRule(t);
        EXPECT_EQ(term ? term->name : "", first_term ? first_term->name : "") << t;
      }
    }
  }
  // A session's subset keeps the prefilter's numbering.
  rules[0].users = {"alice"};  // r0 and r12: alerts on key lines
  const RuleSet sub = compiled(rules).forSession("bob", "dc01");
  EXPECT_EQ(sub.size(), rules.size() - 1);
  std::vector<std::string> got;
  for (const Hit& h : sub.evaluate(EventKind::Key, "net user eve x /add; dir").hits) got.push_back(h.rule);
  EXPECT_NE(std::find(got.begin(), got.end(), "r12"), got.end());
  EXPECT_EQ(std::find(got.begin(), got.end(), "r0"), got.end());
}

TEST(RuleSet, CompileErrorNamesTheRule) {
  auto set = RuleSet::compile({rule("bad one", "(x", RuleAction::Alert)});
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.message().find("rule \"bad one\""), std::string::npos) << set.message();
}

TEST(RuleSet, UsersAndTargetsGlobsPickTheSessionsRules) {
  RuleConfig r = rule("r", "x", RuleAction::Alert);
  r.users = {"vendor*", "contractor"};
  r.targets = {"dc*"};
  RuleConfig any = rule("any", "y", RuleAction::Alert);
  const RuleSet all = compiled({r, any});
  EXPECT_EQ(all.forSession("vendor1", "dc01").size(), 2u);
  EXPECT_EQ(all.forSession("contractor", "dc9").size(), 2u);
  EXPECT_EQ(all.forSession("alice", "dc01").size(), 1u);    // user not matched
  EXPECT_EQ(all.forSession("vendor1", "web01").size(), 1u);  // target not matched
  EXPECT_EQ(all.forSession("vendor1", "web01").evaluate(EventKind::Key, "x").hits.size(), 0u);
  EXPECT_EQ(all.forSession("vendor1", "dc01").evaluate(EventKind::Key, "x").hits.size(), 1u);
}

TEST(RuleSet, KindsSelectEvents) {
  const RuleSet set = compiled({rule("titles only", "(?i)password", RuleAction::Alert, {EventKind::Title})});
  EXPECT_EQ(set.evaluate(EventKind::Title, "Enter Password").hits.size(), 1u);
  EXPECT_TRUE(set.evaluate(EventKind::Key, "password").hits.empty());
  EXPECT_TRUE(set.evaluate(EventKind::Clipboard, "password").hits.empty());
  EXPECT_TRUE(set.evaluate(EventKind::Lifecycle, "password").hits.empty());
  EXPECT_TRUE(set.evaluate(EventKind::Alert, "password").hits.empty());
}

TEST(RuleSet, AlertAndTerminateHitsInRuleOrder) {
  RuleConfig a = rule("account", R"((?i)net\s+user\s+\S+\s+\S+\s+/add)", RuleAction::Terminate);
  a.severity = Severity::High;
  const RuleSet set = compiled({a, rule("net", R"(\bnet\b)", RuleAction::Alert)});
  const Outcome o = set.evaluate(EventKind::Key, "cmd> NET user eve pw /add; net stop x");
  ASSERT_EQ(o.hits.size(), 2u);
  EXPECT_EQ(o.hits[0].rule, "account");
  EXPECT_EQ(o.hits[0].action, RuleAction::Terminate);
  EXPECT_EQ(o.hits[0].severity, Severity::High);
  EXPECT_EQ(o.hits[0].matched, "NET user eve pw /add");
  EXPECT_EQ(o.hits[1].rule, "net");
  EXPECT_EQ(o.hits[1].matched, "net");  // case-sensitive: the later, lower-case one
  EXPECT_EQ(o.text, "cmd> NET user eve pw /add; net stop x");
  EXPECT_FALSE(o.masked);
}

TEST(RuleSet, MaskReplacesTheFirstGroupOrTheWholeMatchEveryTime) {
  const RuleSet set = compiled({rule("grp", R"(pw=(\S+))", RuleAction::Mask),
                                rule("whole", R"(tok_[a-z0-9]+)", RuleAction::Mask)});
  const Outcome o = set.evaluate(EventKind::Clipboard, "a pw=one b pw=two c tok_abc d");
  EXPECT_TRUE(o.masked);
  EXPECT_EQ(o.text, "a pw=[masked] b pw=[masked] c [masked] d");
}

TEST(RuleSet, OverlappingMasksMergeAndAlertsShowMaskedText) {
  RuleConfig alert = rule("login", R"(login \S+ \S+)", RuleAction::Alert);
  const RuleSet set = compiled({rule("m1", R"(login \S+ (\S+))", RuleAction::Mask),
                                rule("m2", R"(S3c\S+)", RuleAction::Mask), alert});
  const Outcome o = set.evaluate(EventKind::Key, "login eve S3cret!x tail");
  EXPECT_EQ(o.text, "login eve [masked] tail");
  ASSERT_EQ(o.hits.size(), 1u);
  // Alerts match the text as typed, but never carry the secret.
  EXPECT_EQ(o.hits[0].matched, "login eve [masked]");
  EXPECT_EQ(o.hits[0].matched.find("S3cret"), std::string::npos);
}

TEST(RuleSet, EmptyMatchesDoNotLoopOrMask) {
  const RuleSet set = compiled({rule("empty", "x*", RuleAction::Mask)});
  EXPECT_EQ(set.evaluate(EventKind::Key, "abc").text, "abc");
  EXPECT_EQ(set.evaluate(EventKind::Key, "axxb").text, "a[masked]b");
}

TEST(RuleSet, TerminatingKeyRuleOnlyForTerminateOnKeys) {
  const RuleSet set = compiled({rule("alert only", "rm -rf", RuleAction::Alert),
                                rule("titles", "shutdown", RuleAction::Terminate, {EventKind::Title}),
                                rule("stop", R"(\bshutdown\b)", RuleAction::Terminate, {EventKind::Key})});
  EXPECT_EQ(set.terminatingKeyRule("rm -rf /"), nullptr);
  const RuleConfig* r = set.terminatingKeyRule("shutdown /s /t 0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->name, "stop");
  EXPECT_EQ(set.terminatingKeyRule("echo shutdownx"), nullptr);
}

TEST(RuleSet, LinearTimeOnHostileInput) {
  // (a+)+$ is catastrophic for backtracking engines; RE2 stays linear.
  const RuleSet set = compiled({rule("evil", "(a+)+$", RuleAction::Alert)});
  const std::string text = std::string(4000, 'a') + "!";
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(set.evaluate(EventKind::Key, text).hits.empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

}  // namespace
}  // namespace vigil::gateway::rules
