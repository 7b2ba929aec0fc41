#include "gateway/rdp/target_pins.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vigil::gateway::rdp {
namespace {

constexpr char kFirst[] = "11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00";
constexpr char kOther[] = "AA:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00";

std::string tempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-pins-XXXXXX").string();
  return mkdtemp(tmpl.data());
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TargetConfig target(const std::string& name, std::uint16_t port) {
  TargetConfig t;
  t.name = name;
  t.host = "10.0.0.5";
  t.port = port;
  return t;
}

// No trust on first use: an unknown certificate is refused, nothing is
// recorded, and the message names the command that trusts it.
TEST(TargetPins, UnknownCertificateIsRefusedNamingTrustTarget) {
  const std::string path = tempDir() + "/rdp/known_targets";
  TargetPins pins(path);
  const Status st = pins.check(target("dc01", 3389), kFirst);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("run `vigil trust-target dc01` on the gateway to check and trust it"),
            std::string::npos) << st.message();
  EXPECT_NE(st.message().find(kFirst), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(path)) << "a refused certificate was recorded";
  EXPECT_FALSE(pins.check(target("dc01", 3389), kFirst).ok()) << "trusted on second use";
}

TEST(TargetPins, TrustedCertificateIsAcceptedAndAChangedOneRefused) {
  const std::string path = tempDir() + "/rdp/known_targets";
  TargetPins pins(path);
  ASSERT_TRUE(pins.trust(target("dc01", 3389), kFirst).ok());
  EXPECT_EQ(slurp(path), std::string("10.0.0.5:3389 ") + kFirst + "\n");
  EXPECT_TRUE(pins.check(target("dc01", 3389), kFirst).ok());
  auto known = pins.trusted(target("dc01", 3389));
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(*known, kFirst);

  // Another certificate from the same server is refused, by any name, and
  // the message says what is trusted, where, and what to do.
  const Status st = pins.check(target("dc01-admin", 3389), kOther);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(kOther), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(kFirst), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(path), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("certificate changed"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("vigil trust-target dc01-admin"), std::string::npos) << st.message();

  // Another port is another server: unknown. A new TargetPins (another
  // process, e.g. the gateway after the CLI wrote) reads the file.
  TargetPins again(path);
  EXPECT_FALSE(again.check(target("dc01-alt", 3390), kOther).ok());
  EXPECT_TRUE(again.check(target("dc01", 3389), kFirst).ok());
}

TEST(TargetPins, TrustReplacesTheLineOfThatServerOnly) {
  const std::string path = tempDir() + "/known_targets";
  std::ofstream(path) << "# kept by vigil trust-target\n10.0.0.5:3390 " << kOther << "\n10.0.0.5:3389 "
                      << kFirst << "\n";
  TargetPins pins(path);
  ASSERT_TRUE(pins.trust(target("dc01", 3389), kOther).ok());
  EXPECT_EQ(slurp(path), std::string("# kept by vigil trust-target\n10.0.0.5:3390 ") + kOther +
                             "\n10.0.0.5:3389 " + kOther + "\n");
  EXPECT_TRUE(pins.check(target("dc01", 3389), kOther).ok());
  EXPECT_FALSE(pins.check(target("dc01", 3389), kFirst).ok());
}

TEST(TargetPins, ConfiguredFingerprintDecidesAndNothingIsRecorded) {
  const std::string path = tempDir() + "/known_targets";
  TargetPins pins(path);
  TargetConfig t = target("dc01", 3389);
  t.tls_fingerprint = kFirst;
  EXPECT_TRUE(pins.check(t, kFirst).ok());
  const Status st = pins.check(t, kOther);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("tls_fingerprint"), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(TargetPins, UnwritableRecordFailsToTrust) {
  TargetPins pins("/proc/vigil-no-such-dir/known_targets");
  EXPECT_FALSE(pins.trust(target("dc01", 3389), kFirst).ok());
  EXPECT_FALSE(pins.check(target("dc01", 3389), kFirst).ok());
}

}  // namespace
}  // namespace vigil::gateway::rdp
