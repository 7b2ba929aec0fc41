// GET /api/sessions/{id}/video on a recording encrypted at rest: the API
// serves the plaintext MP4 with the same Range/206 behaviour as a plain file.
#include <fstream>

#include "storage/key_ring.h"
#include "storage/sealed_file.h"
#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

class SealedVideoTest : public ApiServerTest {
 protected:
  void configure(Config& c) override { c.state_dir = (dir_ / "state").string(); }

  // Replaces s1's recording with video_ sealed in records of 7 000 bytes.
  void sealS1() {
    auto keys = storage::KeyRing::loadOrCreate((dir_ / "state").string(), (dir_ / "rec").string());
    ASSERT_TRUE(keys.ok()) << keys.message();
    auto w = storage::SealedWriter::create(*keys->current());
    ASSERT_TRUE(w.ok());
    std::string file = (*w)->header();
    for (std::size_t at = 0; at < video_.size(); at += 7000) {
      const std::size_t n = std::min<std::size_t>(7000, video_.size() - at);
      (*w)->seal(reinterpret_cast<const std::uint8_t*>(video_.data() + at), n,
                 at + n == video_.size(), file);
    }
    std::ofstream(dir_ / "rec/s1.mp4", std::ios::binary | std::ios::trunc) << file;
  }
};

TEST_F(SealedVideoTest, ServesThePlaintextWithRange) {
  sealS1();
  const std::string c = login("aud1", "audpw");
  Resp full = get(c, "/api/sessions/s1/video");
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.header("content-length"), std::to_string(video_.size()));
  EXPECT_EQ(full.body, video_);

  // Ranges inside one record, across records, at the end.
  Resp r1 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=6990-7019"}});
  EXPECT_EQ(r1.status, 206);
  EXPECT_EQ(r1.body, video_.substr(6990, 30));
  EXPECT_EQ(r1.header("content-range"), "bytes 6990-7019/100000");
  Resp r2 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=-5"}});
  EXPECT_EQ(r2.status, 206);
  EXPECT_EQ(r2.body, video_.substr(99995));
  Resp r3 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=12345-80000"}});
  EXPECT_EQ(r3.status, 206);
  EXPECT_EQ(r3.body, video_.substr(12345, 80000 - 12345 + 1));
  Resp bad = get(c, "/api/sessions/s1/video", {{"Range", "bytes=100000-"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("content-range"), "bytes */100000");
}

TEST_F(SealedVideoTest, WithoutItsKeyTheRecordingIsAServerErrorNotBytes) {
  sealS1();
  fs::remove_all(dir_ / "state/recording-keys");
  const std::string c = login("aud1", "audpw");
  Resp r = get(c, "/api/sessions/s1/video");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find(video_.substr(0, 100)), std::string::npos);
  EXPECT_EQ(r.body.find(dir_.string()), std::string::npos) << "no server paths in errors";
}

}  // namespace
}  // namespace vigil::gateway::api::testing
