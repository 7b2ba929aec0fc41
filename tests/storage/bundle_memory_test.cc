// writeBundle streams the recording into the zip: a sealed recording of
// 96 MiB is bundled (hashed, verified against its chain, zipped) with the
// process's peak RSS growing by far less than the recording's size, and the
// bundle still verifies offline with the recording intact.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <random>

#include "storage/evidence_bundle.h"
#include "storage/key_ring.h"
#include "storage/memory_store.h"
#include "storage/sealed_file.h"
#include "storage/session_evidence.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

long peakRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

TEST(BundleMemory, A96MiBSealedRecordingBundlesInBoundedMemory) {
  char tmpl[] = "/tmp/vigil_bundle_mem_XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  fs::create_directories(dir + "/rec");
  auto keys = KeyRing::loadOrCreate(dir + "/state", dir + "/rec");
  ASSERT_TRUE(keys.ok()) << keys.message();
  const auto signer = SigningKey::fromSeed(std::array<std::uint8_t, 32>{5});
  MemoryStore store;
  SessionRecord rec;
  rec.id = "big";
  rec.user = "vendor1";
  rec.target = "dc01";
  rec.protocol = "rdp";
  rec.state = "ended";
  rec.video_path = "big.mp4";
  ASSERT_TRUE(store.putSession(rec).ok());

  // 96 one-MiB fragments sealed to disk and chained as a session would;
  // written piece by piece so the test itself holds little.
  constexpr std::size_t kPiece = 1 << 20, kPieces = 96;
  {
    auto w = SealedWriter::create(*keys->current());
    ASSERT_TRUE(w.ok());
    std::ofstream out(dir + "/rec/big.mp4", std::ios::binary);
    out << (*w)->header();
    SessionEvidence ev(store, signer, "big", [] { return Millis{1000}; },
                       chainSidecarPath(dir + "/rec/big.mp4"));
    std::mt19937 rng(3);
    std::string piece(kPiece, '\0'), sealed;
    const std::string init = "init-segment";
    sealed.clear();
    (*w)->seal(reinterpret_cast<const std::uint8_t*>(init.data()), init.size(), false, sealed);
    out << sealed;
    for (std::size_t i = 0; i < kPieces; ++i) {
      std::fill(piece.begin(), piece.end(), static_cast<char>(rng()));
      piece.replace(0, 8, std::to_string(10000000 + i));  // every fragment differs
      sealed.clear();
      (*w)->seal(reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size(), false, sealed);
      out << sealed;
      ev.onFragment(init, reinterpret_cast<const std::uint8_t*>(piece.data()), piece.size());
    }
    sealed.clear();
    (*w)->seal(reinterpret_cast<const std::uint8_t*>("mfra"), 4, true, sealed);
    out << sealed;
    ASSERT_TRUE(ev.finish("mfra").ok());
  }

  const long before = peakRssKb();
  const std::string zip = dir + "/big.zip";
  ASSERT_TRUE(writeBundle(store, store, dir + "/rec", "big", signer, zip, "", *keys).ok());
  const long growth_mb = (peakRssKb() - before) / 1024;
  std::cout << "[ measured ] peak RSS before the bundle " << before / 1024 << " MB, growth while bundling "
            << growth_mb << " MB for a " << (kPieces * kPiece) / (1 << 20) << " MiB recording; zip "
            << fs::file_size(zip) / (1 << 20) << " MiB\n";
  EXPECT_LT(growth_mb, 32);
  EXPECT_GT(fs::file_size(zip), kPieces * kPiece);

  auto r = verifyBundle(zip, &signer.publicKey());
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE(r->verified) << r->detail;
  EXPECT_TRUE(r->complete) << r->detail;
  EXPECT_EQ(r->fragment_bytes, kPieces * kPiece + 12 + 4);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vigil::storage
