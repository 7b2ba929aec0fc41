// The default masks that config/vigil.example.toml ships: each on the example
// line it is there for.
#include <gtest/gtest.h>

#include "gateway/rules/rule_set.h"

namespace vigil::gateway::rules {
namespace {

const RuleSet& exampleRules() {
  static const RuleSet set = [] {
    const Config c = Config::load(VIGIL_EXAMPLE_CONFIG);
    auto s = RuleSet::compile(c.rules);
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? std::move(s.value()) : RuleSet{};
  }();
  return set;
}

std::string masked(const std::string& line, EventKind kind = EventKind::Key) {
  return exampleRules().evaluate(kind, line).text;
}

TEST(DefaultMasks, MysqlDashP) {
  EXPECT_EQ(masked("mysql -u root -pHunter2 prod"), "mysql -u root -p[masked] prod");
  EXPECT_EQ(masked("mkdir -p /tmp/x"), "mkdir -p /tmp/x");  // no value attached: nothing
}

TEST(DefaultMasks, DashDashPassword) {
  EXPECT_EQ(masked("mysql --user=root --password=Hunter2 db"),
            "mysql --user=root --password=[masked] db");
  EXPECT_EQ(masked("tool --PASS=x1y2", EventKind::Clipboard), "tool --PASS=[masked]");
}

TEST(DefaultMasks, NetUserPassword) {
  EXPECT_EQ(masked("net user eve S3cret! /add"), "net user eve [masked] /add");
  EXPECT_EQ(masked("net user eve /delete"), "net user eve /delete");
}

TEST(DefaultMasks, ConvertToSecureString) {
  EXPECT_EQ(masked("$p = ConvertTo-SecureString 'S3cret!' -AsPlainText -Force"),
            "$p = ConvertTo-SecureString [masked] -AsPlainText -Force");
  EXPECT_EQ(masked("ConvertTo-SecureString -String \"S3cret!\" -AsPlainText -Force"),
            "ConvertTo-SecureString -String [masked] -AsPlainText -Force");
}

TEST(DefaultMasks, NewPassword) {
  EXPECT_EQ(masked("Set-ADAccountPassword eve -Reset -NewPassword S3cret!"),
            "Set-ADAccountPassword eve -Reset -NewPassword [masked]");
  EXPECT_EQ(masked("Set-LocalUser eve -NewPassword (ConvertTo-SecureString 'S3cret!' -AsPlainText -Force)"),
            "Set-LocalUser eve -NewPassword (ConvertTo-SecureString [masked] -AsPlainText -Force)");
}

TEST(DefaultMasks, TheExampleAlertShowsNoSecret) {
  const Outcome o = exampleRules().evaluate(EventKind::Key, "net user eve S3cret! /add");
  ASSERT_EQ(o.hits.size(), 1u);
  EXPECT_EQ(o.hits[0].rule, "local account created");
  EXPECT_EQ(o.hits[0].matched, "net user eve [masked] /add");
}

}  // namespace
}  // namespace vigil::gateway::rules
