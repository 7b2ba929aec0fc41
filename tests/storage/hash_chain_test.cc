// HashChain, Checkpoint and SigningKey: the primitives of issue 17's evidence.
// Signatures are checked by openssl too (what a bundle's VERIFY.txt relies on).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "storage/hash_chain.h"
#include "storage/signing_key.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

fs::path tempDir() {
  char tmpl[] = "/tmp/vigil_chain_XXXXXX";
  return fs::path(::mkdtemp(tmpl));
}

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(HashChain, KnownAnswerForTheFirstStep) {
  // SHA-256 of "abc" is the FIPS 180-2 test vector.
  EXPECT_EQ(toHex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  HashChain c(ChainKind::Event);
  c.appendBytes("abc");
  std::string buf(32, '\0');
  buf += 'E';
  buf += std::string(8, '\0');
  const Digest item = sha256("abc");
  buf.append(reinterpret_cast<const char*>(item.data()), 32);
  EXPECT_EQ(c.head(), sha256(buf));
  EXPECT_EQ(c.count(), 1u);
}

TEST(HashChain, AnyChangeOfAnItemOrItsPlaceChangesTheHead) {
  auto headOf = [](std::vector<std::string> items, ChainKind k = ChainKind::Fragment) {
    HashChain c(k);
    for (auto& i : items) c.appendBytes(i);
    return c.head();
  };
  const Digest base = headOf({"a", "b", "c"});
  EXPECT_EQ(base, headOf({"a", "b", "c"}));
  EXPECT_NE(base, headOf({"a", "x", "c"}));
  EXPECT_NE(base, headOf({"a", "c", "b"}));
  EXPECT_NE(base, headOf({"a", "b"}));
  EXPECT_NE(base, headOf({"a", "b", "b", "c"}));
  EXPECT_NE(base, headOf({"a", "b", "c"}, ChainKind::Event));
  // Resuming from a head and count continues the same chain.
  HashChain a(ChainKind::Fragment);
  a.appendBytes("a");
  HashChain r(ChainKind::Fragment, a.count(), a.head());
  r.appendBytes("b");
  r.appendBytes("c");
  EXPECT_EQ(r.head(), base);
}

TEST(HashChain, EventBytesSeparateEveryField) {
  Event a{5, EventKind::Key, "ab", "c"};
  Event b{5, EventKind::Key, "a", "bc"};
  Event c{6, EventKind::Key, "ab", "c"};
  Event d{5, EventKind::Title, "ab", "c"};
  EXPECT_NE(eventDigest(a), eventDigest(b));
  EXPECT_NE(eventDigest(a), eventDigest(c));
  EXPECT_NE(eventDigest(a), eventDigest(d));
  EXPECT_EQ(eventDigest(a), eventDigest(Event{5, EventKind::Key, "ab", "c"}));
}

TEST(SigningKey, IsCreatedOnceWith0600AndLoadedAgain) {
  const fs::path dir = tempDir();
  EXPECT_FALSE(SigningKey::load(dir.string()).ok());
  auto k1 = SigningKey::loadOrCreate(dir.string());
  ASSERT_TRUE(k1.ok()) << k1.message();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  EXPECT_EQ(st.st_size, 32);
  auto k2 = SigningKey::loadOrCreate(dir.string());
  auto k3 = SigningKey::load(dir.string());
  ASSERT_TRUE(k2.ok() && k3.ok());
  EXPECT_EQ(k1->publicKey(), k2->publicKey());
  EXPECT_EQ(k1->publicKey(), k3->publicKey());
  fs::resize_file(dir / "signing.key", 10);
  EXPECT_FALSE(SigningKey::load(dir.string()).ok());
  fs::remove_all(dir);
}

TEST(SigningKey, SignaturesVerifyAndPemRoundTrips) {
  const auto key = SigningKey::fromSeed(std::array<std::uint8_t, 32>{7});
  const Signature sig = key.sign("hello");
  EXPECT_TRUE(verifySignature(key.publicKey(), "hello", sig));
  EXPECT_FALSE(verifySignature(key.publicKey(), "hellO", sig));
  const std::string pem = publicKeyPem(key.publicKey());
  auto back = publicKeyFromPem(pem);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(*back, key.publicKey());
  EXPECT_FALSE(publicKeyFromPem("garbage").ok());
  EXPECT_EQ(keyFingerprint(key.publicKey()).size(), 7u + 64u);
}

TEST(SigningKey, OpensslVerifiesTheRawSignatureWithThePem) {
  const fs::path dir = tempDir();
  const auto key = SigningKey::fromSeed(std::array<std::uint8_t, 32>{1, 2, 3});
  const std::string msg = "{\"manifest\":true}\n";
  const Signature sig = key.sign(msg);
  std::ofstream(dir / "signer.pem") << publicKeyPem(key.publicKey());
  std::ofstream(dir / "m.json", std::ios::binary) << msg;
  std::ofstream(dir / "m.sig", std::ios::binary)
      .write(reinterpret_cast<const char*>(sig.data()), sig.size());
  const std::string cmd = "cd " + dir.string() +
                          " && openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in m.json"
                          " -sigfile m.sig >out.txt 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << readAll(dir / "out.txt");
  std::ofstream(dir / "m.json", std::ios::binary) << msg << "x";
  EXPECT_NE(std::system(cmd.c_str()), 0);
  // And openssl reads the PEM as an ED25519 key.
  const std::string show = "openssl pkey -pubin -in " + (dir / "signer.pem").string() +
                           " -noout -text > " + (dir / "t.txt").string() + " 2>&1";
  EXPECT_EQ(std::system(show.c_str()), 0);
  EXPECT_NE(readAll(dir / "t.txt").find("ED25519"), std::string::npos) << readAll(dir / "t.txt");
  fs::remove_all(dir);
}

TEST(Checkpoint, SignsEveryFieldAndRoundTripsThroughJson) {
  const auto key = SigningKey::fromSeed(std::array<std::uint8_t, 32>{9});
  Checkpoint c;
  c.subject = "s1";
  c.fragments = 3;
  c.fragment_bytes = 12345;
  c.events = 7;
  c.t_ms = 10000;
  c.signed_at = 1700000000000;
  c.fragment_head = sha256("f");
  c.event_head = sha256("e");
  c.sign(key);
  EXPECT_TRUE(c.verify(key.publicKey()));
  auto back = Checkpoint::fromJson(c.toJson());
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_TRUE(back->verify(key.publicKey()));
  EXPECT_EQ(back->signedBytes(), c.signedBytes());
  for (int field = 0; field < 8; ++field) {
    Checkpoint t = c;
    switch (field) {
      case 0: t.subject = "s2"; break;
      case 1: t.fragments++; break;
      case 2: t.fragment_bytes--; break;
      case 3: t.events++; break;
      case 4: t.t_ms++; break;
      case 5: t.final = true; break;
      case 6: t.fragment_head[0] ^= 1; break;
      case 7: t.event_head[31] ^= 1; break;
    }
    EXPECT_FALSE(t.verify(key.publicKey())) << "field " << field;
  }
  EXPECT_FALSE(Checkpoint::fromJson("{}").ok());
  EXPECT_FALSE(Checkpoint::fromJson("nope").ok());
}

}  // namespace
}  // namespace vigil::storage
