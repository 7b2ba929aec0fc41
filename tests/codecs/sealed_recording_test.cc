// Recordings encrypted at rest (docs/recording.md, "Encryption at rest"): on
// disk no tool can read them; through storage::RecordingReader (the API, the
// player, export, bundles) they are the same fragmented MP4 as ever, also
// when the recorder was killed mid-session.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "codecs/exporter.h"
#include "codecs/recorder.h"
#include "codecs/video_reader.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"
#include "tests/codecs/fake_terminal.h"
#include "tests/codecs/test_util.h"

namespace vigil::codecs {
namespace {

using testing::FakeTerminal;
using testing::TempDir;
using testing::publishAndWait;

std::shared_ptr<const storage::KeyRing> testKeys(std::uint8_t fill = 0x5a) {
  auto ring = std::make_shared<storage::KeyRing>();
  storage::RecordingKey k;
  k.id = 7;
  k.bytes.fill(fill);
  ring->add(k);
  return ring;
}

RecorderOptions sealedOptions() {
  RecorderOptions o;
  o.seal_keys = testKeys();
  o.keyframe_interval_ms = 2000;
  o.keyframe_bytes_ratio = 0;
  o.keyframe_fresh_share = 0;
  return o;
}

// Records `seconds` of typing with a page of output every 3 s; returns the
// final screen. `tap` gets every live fragment's bytes.
Frame record(const std::string& path, Millis seconds, RecorderOptions o, std::string* tap = nullptr) {
  auto rec = Recorder::open(path, o);
  EXPECT_TRUE(rec.ok()) << rec.message();
  if (!rec.ok()) return {};
  bool init_seen = false;
  if (tap)
    (*rec)->setFragmentListener([&](const LiveFragment& f) {
      if (!init_seen) *tap += f.init_segment;
      init_seen = true;
      tap->append(reinterpret_cast<const char*>(f.data), f.size);
    });
  FakeTerminal term(960, 540);
  publishAndWait(**rec, term.frame(), DirtyRegion(term.frame().bounds()), 0);
  for (Millis t = 150; t <= seconds * 1000; t += 150) {
    DirtyRegion d = (t % 3000 == 0) ? term.output(4) : term.type(term.randomChar());
    publishAndWait(**rec, term.frame(), d, t);
  }
  (*rec)->close();
  EXPECT_TRUE((*rec)->healthy()) << (*rec)->lastError();
  return term.frame();
}

// The reader's plaintext, written out as a file other tools can open.
std::string decryptTo(const std::string& sealed, const storage::KeyRing& keys, const std::string& out) {
  auto r = storage::RecordingReader::open(sealed, keys);
  EXPECT_TRUE(r.ok()) << r.message();
  if (!r.ok()) return {};
  std::string plain((*r)->size(), '\0');
  auto n = (*r)->readAt(0, plain.data(), plain.size());
  EXPECT_TRUE(n.ok()) << n.message();
  std::ofstream(out, std::ios::binary) << plain;
  return plain;
}

// ffprobe's frame count of `path`, or -1 when ffprobe cannot read it.
long ffprobeFrames(const std::string& path) {
  int rc = 0;
  const std::string out = testing::run("ffprobe -v error -count_frames -select_streams v:0 "
                                       "-show_entries stream=nb_read_frames -of csv=p=0 '" +
                                           path + "' 2>&1",
                                       &rc);
  if (rc != 0) return -1;
  return std::atol(out.c_str());
}

TEST(SealedRecording, UnreadableOnDiskDecodesThroughTheReader) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  std::string tap;
  RecorderOptions o = sealedOptions();
  const Frame final_screen = record(path, 6, o, &tap);
  const auto& keys = *o.seal_keys;

  // On disk: no MP4 box ffprobe (or anything) can find.
  EXPECT_EQ(ffprobeFrames(path), -1);
  const std::string disk = testing::readFile(path);
  EXPECT_EQ(disk.find("ftyp"), std::string::npos);
  EXPECT_EQ(disk.find("moof"), std::string::npos);
  EXPECT_EQ(disk.find("avc1"), std::string::npos);

  auto info = probe(path, keys);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_GE(info->frame_count, 30);
  EXPECT_GE(info->keyframe_count, 3);

  const std::string plain = decryptTo(path, keys, dir.file("plain.mp4"));
  EXPECT_EQ(ffprobeFrames(dir.file("plain.mp4")), info->frame_count);
  // The live tap (what the evidence chain hashes) is the plaintext as
  // recorded, up to the trailer.
  ASSERT_FALSE(tap.empty());
  EXPECT_EQ(plain.substr(0, tap.size()), tap);
  // Overhead: an 88-byte header and 20 bytes per record.
  auto r = storage::RecordingReader::open(path, keys);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->complete());
  EXPECT_EQ(disk.size(), plain.size() + 88 + 20 * (*r)->records());

  auto last = decodeLastFrame(path, keys);
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GT(psnr(*last, final_screen), 30.0);
  auto mid = decodeFrameAt(path, 3100, keys);
  ASSERT_TRUE(mid.ok()) << mid.message();

  // Without the key: a clear error, not a short video.
  auto no_key = probe(path);
  ASSERT_FALSE(no_key.ok());
  EXPECT_NE(no_key.message().find("recording key 7"), std::string::npos) << no_key.message();
}

TEST(SealedRecording, ExportOfAnEncryptedRecordingPlays) {
  TempDir dir;
  const std::string in = dir.file("rec.mp4"), out = dir.file("export.mp4");
  RecorderOptions o = sealedOptions();
  const Frame final_screen = record(in, 6, o);
  auto src = probe(in, *o.seal_keys);
  ASSERT_TRUE(src.ok()) << src.message();
  Status st = exportMp4(in, out, nullptr, *o.seal_keys);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(ffprobeFrames(out), src->frame_count);
  int rc = 0;
  const std::string dur = testing::run(
      "ffprobe -v error -show_entries format=duration -of csv=p=0 '" + out + "'", &rc);
  ASSERT_EQ(rc, 0) << dur;
  EXPECT_NEAR(std::atof(dur.c_str()), src->duration_ms / 1000.0, 0.2);
  auto last = decodeLastFrame(out);  // the export is a plain MP4
  ASSERT_TRUE(last.ok()) << last.message();
  EXPECT_GT(psnr(*last, final_screen), 30.0);
}

TEST(SealedRecording, AnAlteredFragmentFailsExportAndProbeNamingTheRecord) {
  TempDir dir;
  const std::string in = dir.file("rec.mp4");
  RecorderOptions o = sealedOptions();
  record(in, 4, o);
  std::string disk = testing::readFile(in);
  disk[disk.size() / 2] ^= 0x20;
  std::ofstream(in, std::ios::binary | std::ios::trunc) << disk;
  Status st = exportMp4(in, dir.file("out.mp4"), nullptr, *o.seal_keys);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("does not authenticate"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("record "), std::string::npos) << st.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.mp4")));
  EXPECT_FALSE(probe(in, *o.seal_keys).ok());
}

TEST(SealedRecording, NoKeyNoRecording) {
  TempDir dir;
  RecorderOptions o;
  o.seal_keys = std::make_shared<const storage::KeyRing>();  // encryption on, no key
  auto rec = Recorder::open(dir.file("rec.mp4"), o);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.message().find("no recording key"), std::string::npos) << rec.message();
  EXPECT_FALSE(std::filesystem::exists(dir.file("rec.mp4")));
}

// kill -9 in the middle of a session: every record flushed before it opens,
// decodes and plays; the torn one is left out.
TEST(SealedRecording, AfterKillNineThePrefixDecryptsAndPlays) {
  TempDir dir;
  const std::string path = dir.file("rec.mp4");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child records until it is killed; it never returns to gtest.
    ::close(ready[0]);
    RecorderOptions o = sealedOptions();
    o.flush_interval_ms = 200;
    auto rec = Recorder::open(path, o);
    if (!rec.ok()) ::_exit(3);
    FakeTerminal term(960, 540);
    (*rec)->onFrame(term.frame(), DirtyRegion(term.frame().bounds()), 0);
    const auto start = std::chrono::steady_clock::now();
    bool told = false;
    for (Millis t = 120;; t += 120) {
      std::this_thread::sleep_for(std::chrono::milliseconds(120));
      DirtyRegion d = (t % 1200 == 0) ? term.output(6) : term.type(term.randomChar());
      (*rec)->onFrame(term.frame(), d, t);
      if (!told && std::chrono::steady_clock::now() - start > std::chrono::milliseconds(2500) &&
          (*rec)->stats().fragments >= 3) {
        const char c = 'r';
        if (::write(ready[1], &c, 1) != 1) ::_exit(4);
        told = true;
      }
    }
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the recording child died";
  ::close(ready[0]);
  std::this_thread::sleep_for(std::chrono::milliseconds(330));  // mid-fragment, likely mid-frame
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  const auto keys = testKeys();
  EXPECT_EQ(ffprobeFrames(path), -1);  // still unreadable on disk
  auto r = storage::RecordingReader::open(path, *keys);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE((*r)->complete());  // no trailer: it was killed
  EXPECT_GE((*r)->records(), 4u);  // init segment + ≥ 3 fragments
  auto info = probe(path, *keys);
  ASSERT_TRUE(info.ok()) << info.message();
  EXPECT_GE(info->frame_count, 15);
  EXPECT_GE(info->duration_ms, 2000);
  auto last = decodeLastFrame(path, *keys);
  ASSERT_TRUE(last.ok()) << last.message();
  decryptTo(path, *keys, dir.file("prefix.mp4"));
  int rc = 0;
  const std::string err =
      testing::run("ffmpeg -v error -i '" + dir.file("prefix.mp4") + "' -f null - 2>&1", &rc);
  EXPECT_EQ(rc, 0) << err;
  EXPECT_GE(ffprobeFrames(dir.file("prefix.mp4")), info->frame_count);
  Status st = exportMp4(path, dir.file("export.mp4"), nullptr, *keys);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(ffprobeFrames(dir.file("export.mp4")), info->frame_count);
}

}  // namespace
}  // namespace vigil::codecs
