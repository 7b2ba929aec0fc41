// The sealed recording format and its reader (storage/sealed_file.h,
// storage/recording_reader.h), and the key ring's files and rotation.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "storage/key_ring.h"
#include "storage/recording_reader.h"
#include "storage/sealed_file.h"

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "vigil-sealed-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

RecordingKey testKey(std::uint32_t id, std::uint8_t fill) {
  RecordingKey k;
  k.id = id;
  k.bytes.fill(fill);
  return k;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void writeAll(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// Units of assorted sizes (an init segment, fragments, a trailer).
std::vector<std::string> makeUnits(std::mt19937& rng, int count) {
  std::vector<std::string> units;
  std::uniform_int_distribution<int> size(1, 70000), byte(0, 255);
  for (int i = 0; i < count; ++i) {
    std::string u(static_cast<std::size_t>(i == 3 ? 1 : size(rng)), '\0');
    for (char& c : u) c = static_cast<char>(byte(rng));
    units.push_back(std::move(u));
  }
  return units;
}

// Writes a sealed file of `units` (the last one final when `finished`);
// returns the plaintext and, through `ends`, where each record ends on disk.
std::string writeSealed(const std::string& path, const RecordingKey& kek,
                        const std::vector<std::string>& units, bool finished,
                        std::vector<std::size_t>* ends = nullptr) {
  auto w = SealedWriter::create(kek);
  EXPECT_TRUE(w.ok());
  std::string file = (*w)->header(), plain;
  for (std::size_t i = 0; i < units.size(); ++i) {
    (*w)->seal(reinterpret_cast<const std::uint8_t*>(units[i].data()), units[i].size(),
               finished && i + 1 == units.size(), file);
    plain += units[i];
    if (ends) ends->push_back(file.size());
  }
  writeAll(path, file);
  return plain;
}

std::string readRange(RecordingReader& r, std::uint64_t off, std::size_t n) {
  std::string out(n, '\0');
  auto got = r.readAt(off, out.data(), n);
  EXPECT_TRUE(got.ok()) << got.message();
  out.resize(got.ok() ? *got : 0);
  return out;
}

TEST(SealedFile, RoundTripGivesThePlaintextAndCostsTwentyBytesARecord) {
  TempDir dir;
  std::mt19937 rng(1);
  KeyRing ring;
  ring.add(testKey(1, 0x11));
  const auto units = makeUnits(rng, 12);
  const std::string plain = writeSealed(dir.file("a.mp4"), *ring.current(), units, true);
  EXPECT_EQ(fs::file_size(dir.file("a.mp4")),
            plain.size() + sealed::kHeaderSize + units.size() * sealed::kRecordOverhead);
  // The plaintext appears nowhere on disk.
  EXPECT_EQ(readAll(dir.file("a.mp4")).find(units[0].substr(0, 64)), std::string::npos);

  auto r = RecordingReader::open(dir.file("a.mp4"), ring);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_TRUE((*r)->sealed());
  EXPECT_TRUE((*r)->complete());
  EXPECT_EQ((*r)->records(), units.size());
  EXPECT_EQ((*r)->keyId(), 1u);
  ASSERT_EQ((*r)->size(), plain.size());
  EXPECT_EQ(readRange(**r, 0, plain.size() + 100), plain);
  EXPECT_EQ(readRange(**r, plain.size(), 10), "");
}

TEST(SealedFile, RandomReadsMatchThePlaintext) {
  TempDir dir;
  std::mt19937 rng(2);
  KeyRing ring;
  ring.add(testKey(4, 0x44));
  const std::string plain = writeSealed(dir.file("a.mp4"), *ring.current(), makeUnits(rng, 20), true);
  auto r = RecordingReader::open(dir.file("a.mp4"), ring);
  ASSERT_TRUE(r.ok()) << r.message();
  std::uniform_int_distribution<std::size_t> off(0, plain.size() - 1), len(1, 150000);
  for (int i = 0; i < 500; ++i) {
    const std::size_t o = off(rng), n = len(rng);
    ASSERT_EQ(readRange(**r, o, n), plain.substr(o, n)) << "offset " << o << " length " << n;
  }
}

TEST(SealedFile, ATornLastRecordIsLeftOutAndThePrefixReads) {
  TempDir dir;
  std::mt19937 rng(3);
  KeyRing ring;
  ring.add(testKey(1, 0x11));
  std::vector<std::size_t> ends;
  const auto units = makeUnits(rng, 6);
  const std::string plain = writeSealed(dir.file("a.mp4"), *ring.current(), units, false, &ends);
  const std::string whole = readAll(dir.file("a.mp4"));
  // Cut anywhere inside the last record, its length word included.
  const std::size_t last_start = ends[ends.size() - 2];
  const std::size_t prefix = plain.size() - units.back().size();
  for (std::size_t cut : {last_start, last_start + 1, last_start + 3, last_start + 4,
                          last_start + 100, whole.size() - 1}) {
    writeAll(dir.file("cut.mp4"), whole.substr(0, cut));
    auto r = RecordingReader::open(dir.file("cut.mp4"), ring);
    ASSERT_TRUE(r.ok()) << "cut at " << cut << ": " << r.message();
    EXPECT_FALSE((*r)->complete());
    EXPECT_EQ((*r)->records(), units.size() - 1);
    ASSERT_EQ((*r)->size(), prefix) << "cut at " << cut;
    EXPECT_EQ(readRange(**r, 0, prefix), plain.substr(0, prefix));
  }
  // Only the header: an empty recording, not an error.
  writeAll(dir.file("head.mp4"), whole.substr(0, sealed::kHeaderSize));
  auto r = RecordingReader::open(dir.file("head.mp4"), ring);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ((*r)->size(), 0u);
}

TEST(SealedFile, AFlippedByteInAnyRecordIsAReadErrorNamingTheRecord) {
  TempDir dir;
  std::mt19937 rng(5);
  KeyRing ring;
  ring.add(testKey(1, 0x11));
  std::vector<std::size_t> ends;
  const auto units = makeUnits(rng, 5);
  const std::string plain = writeSealed(dir.file("a.mp4"), *ring.current(), units, true, &ends);
  const std::string whole = readAll(dir.file("a.mp4"));
  std::size_t start = sealed::kHeaderSize, plain_at = 0;
  for (std::size_t i = 0; i < units.size(); ++i) {
    std::string bad = whole;
    bad[start + 4 + (ends[i] - start - 4) / 2] ^= 0x01;  // inside record i's ciphertext
    writeAll(dir.file("bad.mp4"), bad);
    auto r = RecordingReader::open(dir.file("bad.mp4"), ring);
    ASSERT_TRUE(r.ok()) << r.message();
    std::string buf(units[i].size(), '\0');
    auto got = (*r)->readAt(plain_at, buf.data(), buf.size());
    ASSERT_FALSE(got.ok()) << "record " << i;
    EXPECT_NE(got.message().find("record " + std::to_string(i) + " of"), std::string::npos)
        << got.message();
    EXPECT_NE(got.message().find("does not authenticate"), std::string::npos) << got.message();
    // The other records still read.
    if (i > 0) {
      EXPECT_EQ(readRange(**r, 0, 10), plain.substr(0, 10));
    }
    start = ends[i];
    plain_at += units[i].size();
  }
  // A flipped byte in the header: the key does not unwrap.
  for (std::size_t pos : {std::size_t{12}, std::size_t{20}, std::size_t{60}}) {
    std::string bad = whole;
    bad[pos] ^= 0x01;
    writeAll(dir.file("bad.mp4"), bad);
    auto r = RecordingReader::open(dir.file("bad.mp4"), ring);
    EXPECT_FALSE(r.ok()) << "header byte " << pos;
  }
}

TEST(SealedFile, RecordsSwappedOrDroppedFromTheMiddleDoNotAuthenticate) {
  TempDir dir;
  KeyRing ring;
  ring.add(testKey(1, 0x11));
  const std::vector<std::string> units = {std::string(100, 'a'), std::string(100, 'b'),
                                          std::string(100, 'c')};
  std::vector<std::size_t> ends;
  writeSealed(dir.file("a.mp4"), *ring.current(), units, false, &ends);
  const std::string whole = readAll(dir.file("a.mp4"));
  const std::string head = whole.substr(0, sealed::kHeaderSize);
  const std::string r0 = whole.substr(sealed::kHeaderSize, ends[0] - sealed::kHeaderSize);
  const std::string r1 = whole.substr(ends[0], ends[1] - ends[0]);
  const std::string r2 = whole.substr(ends[1], ends[2] - ends[1]);
  for (const std::string& bad : {head + r1 + r0 + r2, head + r0 + r2}) {
    writeAll(dir.file("bad.mp4"), bad);
    auto r = RecordingReader::open(dir.file("bad.mp4"), ring);
    ASSERT_TRUE(r.ok());
    std::string buf(300, '\0');
    EXPECT_FALSE((*r)->readAt(0, buf.data(), buf.size()).ok());
  }
}

TEST(SealedFile, AWrongOrMissingKeyIsAClearError) {
  TempDir dir;
  std::mt19937 rng(6);
  KeyRing ring;
  ring.add(testKey(3, 0x33));
  writeSealed(dir.file("a.mp4"), *ring.current(), makeUnits(rng, 2), true);

  KeyRing wrong;
  wrong.add(testKey(3, 0x34));
  auto r = RecordingReader::open(dir.file("a.mp4"), wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("recording key 3 does not open"), std::string::npos) << r.message();

  KeyRing other;
  other.add(testKey(2, 0x33));
  r = RecordingReader::open(dir.file("a.mp4"), other);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("sealed with recording key 3"), std::string::npos) << r.message();

  r = RecordingReader::open(dir.file("a.mp4"), KeyRing{});
  EXPECT_FALSE(r.ok());
  r = RecordingReader::open(dir.file("none.mp4"), ring);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("does not exist"), std::string::npos);
}

TEST(SealedFile, APlainFileReadsAsItIs) {
  TempDir dir;
  const std::string data = std::string("\0\0\0\x20" "ftypisom", 12) + std::string(5000, 'x');
  writeAll(dir.file("plain.mp4"), data);
  auto r = RecordingReader::open(dir.file("plain.mp4"), KeyRing{});
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_FALSE((*r)->sealed());
  EXPECT_EQ((*r)->size(), data.size());
  EXPECT_EQ(readRange(**r, 10, 100), data.substr(10, 100));
}

TEST(KeyRing, IsCreatedOwnerOnlyAndRotationKeepsOldSessionsReadable) {
  TempDir dir;
  const std::string state = dir.file("state"), recordings = dir.file("recordings");
  fs::create_directories(recordings);
  auto ring = KeyRing::loadOrCreate(state, recordings);
  ASSERT_TRUE(ring.ok()) << ring.message();
  ASSERT_NE(ring->current(), nullptr);
  EXPECT_EQ(ring->current()->id, 1u);
  const std::string key1 = KeyRing::folder(state) + "/00000001.key";
  struct stat st {};
  ASSERT_EQ(::stat(key1.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  ASSERT_EQ(::stat(KeyRing::folder(state).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Loading again gives the same key, not a new one.
  auto again = KeyRing::loadOrCreate(state, recordings);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ids(), std::vector<std::uint32_t>{1});
  EXPECT_EQ(again->current()->bytes, ring->current()->bytes);

  std::mt19937 rng(7);
  const std::string old_plain =
      writeSealed(recordings + "/old.mp4", *ring->current(), makeUnits(rng, 3), true);

  auto id = KeyRing::rotate(state, recordings);
  ASSERT_TRUE(id.ok()) << id.message();
  EXPECT_EQ(*id, 2u);
  auto rotated = KeyRing::load(state);
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(rotated->ids(), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(rotated->current()->id, 2u);
  EXPECT_NE(rotated->current()->bytes, ring->current()->bytes);
  const std::string new_plain =
      writeSealed(recordings + "/new.mp4", *rotated->current(), makeUnits(rng, 3), true);

  for (auto [name, plain, key_id] : {std::tuple{"old.mp4", old_plain, 1u},
                                     std::tuple{"new.mp4", new_plain, 2u}}) {
    auto r = RecordingReader::open(recordings + "/" + name, *rotated);
    ASSERT_TRUE(r.ok()) << name << ": " << r.message();
    EXPECT_EQ((*r)->keyId(), key_id);
    EXPECT_EQ(readRange(**r, 0, plain.size()), plain);
  }
  // The old ring (before the rotation) cannot read the new session.
  EXPECT_FALSE(RecordingReader::open(recordings + "/new.mp4", *ring).ok());
}

TEST(KeyRing, RefusesAStateDirInsideTheRecordingsDir) {
  TempDir dir;
  const std::string recordings = dir.file("rec");
  fs::create_directories(recordings);
  for (const std::string& state : {recordings, recordings + "/state", recordings + "/./x/.."}) {
    auto ring = KeyRing::loadOrCreate(state, recordings);
    ASSERT_FALSE(ring.ok()) << state;
    EXPECT_NE(ring.message().find("inside the recordings dir"), std::string::npos) << ring.message();
    EXPECT_FALSE(KeyRing::rotate(state, recordings).ok());
  }
  EXPECT_FALSE(fs::exists(recordings + "/recording-keys"));
  // Beside it is fine.
  EXPECT_TRUE(KeyRing::loadOrCreate(dir.file("state"), recordings).ok());
}

TEST(KeyRing, AnEmptyOrMissingFolderLoadsAsAnEmptyRing) {
  TempDir dir;
  auto ring = KeyRing::load(dir.file("nothing"));
  ASSERT_TRUE(ring.ok());
  EXPECT_TRUE(ring->empty());
  EXPECT_EQ(ring->current(), nullptr);
}

}  // namespace
}  // namespace vigil::storage
