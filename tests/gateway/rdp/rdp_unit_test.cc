#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/rdp/clipboard.h"
#include "gateway/rdp/rdp_client.h"
#include "gateway/rdp/rdp_listener.h"
#include "gateway/rdp/tls_files.h"

namespace vigil::gateway::rdp {
namespace {

TEST(RdpUsername, Parses) {
  auto a = parseRdpUsername("vendor1#demo");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->user, "vendor1");
  EXPECT_EQ(a->target, "demo");
  auto b = parseRdpUsername("CORP\\vendor1#dc01");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->user, "vendor1");
  EXPECT_EQ(b->target, "dc01");
  auto c = parseRdpUsername("vendor1#demo#x");  // target names may hold '#'
  ASSERT_TRUE(c);
  EXPECT_EQ(c->target, "demo#x");
  EXPECT_FALSE(parseRdpUsername("vendor1"));
  EXPECT_FALSE(parseRdpUsername("#demo"));
  EXPECT_FALSE(parseRdpUsername("vendor1#"));
  EXPECT_FALSE(parseRdpUsername(""));
}

TEST(TlsFiles, SelfSignedMadeOnceAndKept) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("vigil-rdp-tls-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Config cfg;
  cfg.state_dir = dir.string();
  auto files = ensureTlsFiles(cfg);
  ASSERT_TRUE(files.ok()) << files.message();
  EXPECT_EQ(files->cert_pem_path, (dir / "rdp" / "server.crt").string());
  const auto perms = std::filesystem::status(files->key_pem_path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::group_read, std::filesystem::perms::none);
  std::ifstream in(files->cert_pem_path);
  std::stringstream pem;
  pem << in.rdbuf();
  auto fp1 = certificateFingerprint(pem.str());
  ASSERT_TRUE(fp1.ok());
  EXPECT_EQ(fp1->size(), 32u * 3 - 1);
  // Second start reuses the pair.
  auto again = ensureTlsFiles(cfg);
  ASSERT_TRUE(again.ok());
  std::ifstream in2(again->cert_pem_path);
  std::stringstream pem2;
  pem2 << in2.rdbuf();
  EXPECT_EQ(pem.str(), pem2.str());
  std::filesystem::remove_all(dir);
}

TEST(TlsFiles, ConfiguredPairMustExist) {
  Config cfg;
  cfg.rdp_tls_cert = "/nonexistent/cert.pem";
  cfg.rdp_tls_key = "/nonexistent/key.pem";
  auto files = ensureTlsFiles(cfg);
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.message().find("/nonexistent/cert.pem"), std::string::npos);
  cfg.rdp_tls_key.clear();
  EXPECT_FALSE(ensureTlsFiles(cfg).ok());
}

TEST(Clipboard, Utf16RoundTrip) {
  const std::string text = "héllo €\nline2 😀";
  const std::string wide = utf8ToUtf16le(text);
  // CRLF on the wire, plain LF back.
  EXPECT_EQ(utf16leToUtf8(reinterpret_cast<const std::uint8_t*>(wide.data()), wide.size()), text);
}

// A target's announced desktop is bounded before anything is allocated for
// it (65535x65535 once made a resize throw through FreeRDP's C callbacks).
TEST(DesktopSize, BoundedByMaxDesktop) {
  EXPECT_TRUE(checkDesktopSize(1280, 800, 8192, 8192).ok());
  EXPECT_TRUE(checkDesktopSize(8192, 8192, 8192, 8192).ok());
  EXPECT_TRUE(checkDesktopSize(1, 1, 8192, 8192).ok());
  const Status huge = checkDesktopSize(65535, 65535, 8192, 8192);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.message(), "target desktop 65535x65535 exceeds max_desktop 8192x8192");
  EXPECT_FALSE(checkDesktopSize(8193, 600, 8192, 8192).ok());
  EXPECT_FALSE(checkDesktopSize(800, 8193, 8192, 8192).ok());
  EXPECT_FALSE(checkDesktopSize(0, 600, 8192, 8192).ok());
  EXPECT_FALSE(checkDesktopSize(800, -1, 8192, 8192).ok());
  EXPECT_FALSE(checkDesktopSize(4294967295LL, 600, 8192, 8192).ok());
  EXPECT_EQ(checkDesktopSize(1920, 1080, 1280, 800).message(),
            "target desktop 1920x1080 exceeds max_desktop 1280x800");
}

TEST(DesktopSize, OptionDefaultsMatchTheConfigDefaults) {
  const RdpClientOptions o;
  const FrontDoorConfig fd;
  EXPECT_EQ(o.max_width, fd.max_desktop_width);
  EXPECT_EQ(o.max_height, fd.max_desktop_height);
  EXPECT_FALSE(o.require_logon_confirmation);  // only the gateway's target leg asks
  EXPECT_EQ(o.logon_timeout_ms, 20000);
}

TEST(TlsFiles, SubjectOfACertificate) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("vigil-rdp-subject-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(makeSelfSignedPair((dir / "c.pem").string(), (dir / "k.pem").string(),
                                 "dc01.example").ok());
  std::ifstream in(dir / "c.pem");
  std::stringstream pem;
  pem << in.rdbuf();
  auto subject = certificateSubject(pem.str());
  ASSERT_TRUE(subject.ok()) << subject.message();
  EXPECT_NE(subject->find("CN = dc01.example"), std::string::npos) << *subject;
  EXPECT_FALSE(certificateSubject("not a certificate").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::gateway::rdp
