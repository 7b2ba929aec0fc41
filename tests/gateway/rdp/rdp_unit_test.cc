#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gateway/rdp/clipboard.h"
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

}  // namespace
}  // namespace vigil::gateway::rdp
