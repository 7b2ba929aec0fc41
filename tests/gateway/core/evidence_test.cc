// Issue 17 evidence, end to end: real sessions (SessionImpl with the real
// recorder) on a real Redis, their hash chains and signatures, `vigil
// verify` / `bundle` / `pubkey`, and tampering of every kind being caught.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/config.h"
#include "gateway/rules/rule_set.h"
#include "gateway/session_impl.h"
#include "storage/evidence_bundle.h"
#include "storage/evidence_verify.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"
#include "storage/redis_store.h"
#include "storage/session_evidence.h"
#include "storage/signing_key.h"
#include "tests/storage/redis_server.h"
#include "tests/testbed/testbed.h"

namespace vigil::gateway {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string readFile(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& p, const std::string& data) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

// Runs a shell command; returns its exit code and fills `out` with stdout+stderr.
int run(const std::string& cmd, std::string* out = nullptr) {
  std::string full = "(" + cmd + ") 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) text.append(buf, n);
  const int st = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// The screen changes every 50 ms (noise in a moving band, so fragments carry
// real bytes) and a lifecycle event is added every 5 frames.
void drive(SessionImpl& s, std::chrono::milliseconds how_long, int seed = 1) {
  Frame f(320, 240);
  s.resized(320, 240);
  std::mt19937 rng(static_cast<unsigned>(seed));
  const auto end = std::chrono::steady_clock::now() + how_long;
  for (int i = 0; std::chrono::steady_clock::now() < end; ++i) {
    const int y0 = (i * 16) % 224;
    for (int y = y0; y < y0 + 16; ++y) {
      auto* row = reinterpret_cast<std::uint32_t*>(f.row(y));
      for (int x = 0; x < 320; ++x) row[x] = rng() & 0xffffff;
    }
    s.frame(f, DirtyRegion(Rect{0, y0, 320, 16}));
    if (i % 5 == 0) s.lifecycle("step " + std::to_string(i));
    std::this_thread::sleep_for(50ms);
  }
}

class EvidenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testbed::makeTempDir("vigil-evidence-test");
    fs::create_directories(dir_ + "/rec");
    target_.name = "dc01";
    ASSERT_EQ(redis_.start(), "");
    auto s = storage::RedisStore::connect(redis_.url());
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(*s);
    auto k = storage::SigningKey::loadOrCreate(dir_ + "/var");
    ASSERT_TRUE(k.ok()) << k.message();
    key_ = *k;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::shared_ptr<SessionImpl> open(const std::string& id, std::chrono::milliseconds sign = 10s) {
    storage::SessionRecord rec;
    rec.id = id;
    rec.user = "vendor1";
    rec.target = "dc01";
    rec.protocol = "vnc";
    rec.state = "live";
    rec.started_at = epochNowMs();
    rec.video_path = id + ".mp4";
    SessionDeps deps{*store_, nullptr, dir_ + "/rec", {}, {}, store_.get(), &key_, sign};
    deps.recording.seal_keys = seal_keys_;
    auto s = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? *s : nullptr;
  }

  // A whole session: ~3 s of frames and events, ended normally.
  void record(const std::string& id, std::chrono::milliseconds sign = 10s) {
    auto s = open(id, sign);
    ASSERT_TRUE(s);
    drive(*s, 3s);
    s->finish("client disconnected");
  }

  storage::VerifyReport verify(const std::string& id) {
    auto r = storage::verifySession(*store_, *store_, dir_ + "/rec", id, key_.publicKey(),
                                    seal_keys_ ? *seal_keys_ : storage::KeyRing{});
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : storage::VerifyReport{};
  }

  std::string video(const std::string& id) { return dir_ + "/rec/" + id + ".mp4"; }

  std::string config() {
    const std::string path = dir_ + "/vigil.toml";
    writeFile(path, "[redis]\nurl = \"" + redis_.url() + "\"\n[recordings]\ndir = \"" + dir_ +
                        "/rec\"\n[gateway]\nstate_dir = \"" + dir_ + "/var\"\n");
    return path;
  }

  // Recordings sealed at rest (the gateway's default) under the state dir's
  // key ring, as `vigil serve` does; null: plain MP4 files.
  void sealRecordings() {
    auto ring = storage::KeyRing::loadOrCreate(dir_ + "/var", dir_ + "/rec");
    ASSERT_TRUE(ring.ok()) << ring.message();
    seal_keys_ = std::make_shared<const storage::KeyRing>(std::move(*ring));
  }

  std::string dir_;
  std::shared_ptr<const storage::KeyRing> seal_keys_;
  TargetConfig target_;
  storage::testing::RedisServer redis_;
  std::unique_ptr<storage::RedisStore> store_;
  storage::SigningKey key_;
};

TEST_F(EvidenceTest, AnIntactSessionVerifiesWithAFinalSignature) {
  record("s-ok", 700ms);
  const auto r = verify("s-ok");
  EXPECT_TRUE(r.verified) << r.detail;
  EXPECT_TRUE(r.complete) << r.detail;
  EXPECT_EQ(r.detail.rfind("verified: ", 0), 0u) << r.detail;
  // Every byte of the recording is covered: init, fragments, trailer.
  EXPECT_EQ(r.fragment_bytes, fs::file_size(video("s-ok")));
  EXPECT_GE(r.fragments, 4u);
  auto events = store_->eventsInAppendOrder("s-ok");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(r.events, events->size());
  EXPECT_GE(r.events, 10u);
  // Signed while live (700 ms here) and at the end: several records, in
  // Redis and in the sidecar alike.
  auto cps = store_->checkpoints("s-ok");
  ASSERT_TRUE(cps.ok());
  EXPECT_GE(cps->size(), 3u);
  EXPECT_EQ(storage::readChainSidecar(video("s-ok")).size(), cps->size());
  std::cout << "[ measured ] " << r.detail << "\n";
}

TEST_F(EvidenceTest, ByteFlipsAtTwentyRandomOffsetsAreEachCaught) {
  record("s-flip");
  const std::string path = video("s-flip");
  const std::string original = readFile(path);
  ASSERT_GT(original.size(), 1000u);
  std::mt19937 rng(17);
  std::vector<std::size_t> offsets;
  for (int i = 0; i < 18; ++i) offsets.push_back(rng() % original.size());
  offsets.push_back(0);                    // ftyp
  offsets.push_back(original.size() - 1);  // the trailer's last byte
  for (std::size_t off : offsets) {
    std::string bad = original;
    bad[off] = static_cast<char>(bad[off] ^ (1 + rng() % 255));
    writeFile(path, bad);
    const auto r = verify("s-flip");
    EXPECT_FALSE(r.verified) << "byte " << off << " flipped, yet: " << r.detail;
    EXPECT_NE(r.detail.find("fragment"), std::string::npos) << r.detail;
  }
  writeFile(path, original);
  EXPECT_TRUE(verify("s-flip").verified);
  // Truncation and appended bytes are named as such.
  writeFile(path, original.substr(0, original.size() / 2));
  auto r = verify("s-flip");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("truncated"), std::string::npos) << r.detail;
  writeFile(path, original + "extra");
  r = verify("s-flip");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("appended"), std::string::npos) << r.detail;
  fs::remove(path);
  r = verify("s-flip");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("missing"), std::string::npos) << r.detail;
}

TEST_F(EvidenceTest, EventsEditedDeletedReorderedOrInsertedInRedisAreCaught) {
  record("s-ev");
  const std::string key = "vigil:ev:s-ev";
  auto raw = [&](const std::string& idx) { return redis_.command({"LINDEX", key, idx}); };
  const std::string e3 = raw("2"), e4 = raw("3");
  ASSERT_FALSE(e3.empty());
  ASSERT_NE(e3, e4);
  auto restore = [&](std::vector<std::string> list) {
    redis_.command({"DEL", key});
    list.insert(list.begin(), {"RPUSH", key});
    redis_.command(list);
  };
  std::vector<std::string> original;
  for (int i = 0;; ++i) {
    std::string v = raw(std::to_string(i));
    if (v.empty()) break;
    original.push_back(v);
  }
  ASSERT_TRUE(verify("s-ev").verified);

  std::string edited = e3;
  edited.replace(edited.find("step"), 4, "STEP");
  redis_.command({"LSET", key, "2", edited});
  auto r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("event 3 changed"), std::string::npos) << r.detail;
  restore(original);

  redis_.command({"LREM", key, "1", e3});
  r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("event 3 missing"), std::string::npos) << r.detail;
  restore(original);

  redis_.command({"LSET", key, "2", e4});
  redis_.command({"LSET", key, "3", e3});
  r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("events 3 and 4 were reordered"), std::string::npos) << r.detail;
  restore(original);

  redis_.command({"LINSERT", key, "BEFORE", e3, "[1234,\"key\",\"net user x y /add\"]"});
  r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("inserted before event 3"), std::string::npos) << r.detail;
  restore(original);

  redis_.command({"RPUSH", key, "[99999,\"lifecycle\",\"late\"]"});
  r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("after the session's signed end"), std::string::npos) << r.detail;
  restore(original);

  // A checkpoint record altered or removed in Redis.
  const std::string ck = "vigil:ck:s-ev";
  const std::string first = redis_.command({"LINDEX", ck, "0"});
  redis_.command({"LSET", ck, "0", std::string(first).replace(first.find("\"t_ms\":") + 7, 1, "9")});
  r = verify("s-ev");
  EXPECT_FALSE(r.verified);
  EXPECT_NE(r.detail.find("checkpoint"), std::string::npos) << r.detail;
  redis_.command({"LSET", ck, "0", first});
  EXPECT_TRUE(verify("s-ev").verified);
}

// kill -9 in the middle of a session: what was signed verifies, the rest is
// reported as an unsigned tail, not as tampering.
class KilledGatewayTest : public EvidenceTest {
 protected:
  void killMidSessionAndVerify(const std::string& id) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(ready[0]);
      auto store = storage::RedisStore::connect(redis_.url());
      if (!store) ::_exit(3);
      storage::SessionRecord rec;
      rec.id = id;
      rec.user = "vendor1";
      rec.target = "dc01";
      rec.protocol = "vnc";
      rec.state = "live";
      rec.started_at = epochNowMs();
      rec.video_path = id + ".mp4";
      SessionDeps deps{**store, nullptr, dir_ + "/rec", {}, {}, store->get(), &key_, 10s};
      deps.recording.seal_keys = seal_keys_;
      auto s = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
      if (!s) ::_exit(4);
      drive(**s, 2500ms);
      (void)::write(ready[1], "r", 1);
      drive(**s, 60s, 2);  // killed in here
      ::_exit(5);
    }
    ::close(ready[1]);
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    std::this_thread::sleep_for(1800ms);
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ::close(ready[0]);
    ASSERT_TRUE(WIFSIGNALED(status));
    // As recoverInterrupted() would mark it.
    auto rec = store_->getSession(id);
    ASSERT_TRUE(rec.ok() && rec->has_value());
    storage::SessionRecord ended = **rec;
    ended.state = "ended";
    ended.ended_at = epochNowMs();
    ended.end_reason = "gateway stopped unexpectedly (recording kept up to the crash)";
    ASSERT_TRUE(store_->putSession(ended).ok());

    const auto r = verify(id);
    EXPECT_TRUE(r.verified) << r.detail;
    EXPECT_FALSE(r.complete);
    EXPECT_NE(r.detail.find("signed up to t="), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("unsigned tail of"), std::string::npos) << r.detail;
    EXPECT_GT(r.fragments, 0u);
    EXPECT_GT(r.events, 0u);
    // Signed once the first fragment is (~2 s in), next due 10 s later, killed
    // at ~4.3 s: a few seconds unsigned.
    EXPECT_GT(r.tail_fragments, 0u) << r.detail;
    EXPECT_GE(r.unsigned_tail_s, 1.0) << r.detail;
    EXPECT_LE(r.unsigned_tail_s, 6.0) << r.detail;
    std::cout << "[ measured ] " << r.detail << "\n";

    // Tampering within the signed prefix is still caught after a crash.
    const std::string path = video(id);
    const std::string original = readFile(path);
    std::string bad = original;
    bad[r.fragment_bytes / 2] ^= 0x20;
    writeFile(path, bad);
    EXPECT_FALSE(verify(id).verified);
    writeFile(path, original);

    // A bundle of the crash-ended session verifies the same way.
    const std::string zip = dir_ + "/" + id + ".zip";
    ASSERT_TRUE(storage::writeBundle(*store_, *store_, dir_ + "/rec", id, key_, zip, "",
                                        seal_keys_ ? *seal_keys_ : storage::KeyRing{}).ok());
    auto b = storage::verifyBundle(zip);
    ASSERT_TRUE(b.ok()) << b.message();
    EXPECT_TRUE(b->verified) << b->detail;
    EXPECT_NE(b->detail.find("unsigned tail of"), std::string::npos) << b->detail;
  }
};

TEST_F(KilledGatewayTest, APlainRecordingLeavesASignedPrefixAndAReportedTail) {
  killMidSessionAndVerify("s-crash");
}

// The same on a recording sealed at rest (the default): the torn last record
// is left out, every whole record up to the kill decrypts and is checked.
TEST_F(KilledGatewayTest, ASealedRecordingLeavesASignedPrefixAndAReportedTail) {
  sealRecordings();
  killMidSessionAndVerify("s-crash-sealed");
  auto reader = storage::RecordingReader::open(video("s-crash-sealed"), *seal_keys_);
  ASSERT_TRUE(reader.ok()) << reader.message();
  EXPECT_TRUE((*reader)->sealed());
  EXPECT_FALSE((*reader)->complete());  // no trailer: it was killed
  // The real `vigil verify` says the same (it reads the key ring from the state dir).
  std::string out;
  EXPECT_EQ(run(std::string(VIGIL_BIN) + " verify s-crash-sealed --config " + config(), &out), 0) << out;
  EXPECT_NE(out.find("unsigned tail of"), std::string::npos) << out;
}

// Issue 17's flip test on what the gateway writes by default: a sealed
// recording (encrypted at rest) of a real session with its evidence chain.
// One byte flipped at a time at 20 random offsets of the file on disk (and
// restored): the real `vigil verify` exits 1 naming what differs each time.
TEST_F(EvidenceTest, SealedRecordingByteFlipsAtTwentyRandomOffsetsAreEachNamedByVigilVerify) {
  sealRecordings();
  record("s-sflip");
  const std::string path = video("s-sflip");
  const std::string original = readFile(path);
  {
    auto reader = storage::RecordingReader::open(path, *seal_keys_);
    ASSERT_TRUE(reader.ok()) << reader.message();
    ASSERT_TRUE((*reader)->sealed());
    ASSERT_TRUE((*reader)->complete());
  }
  ASSERT_GT(original.size(), 10000u);
  const std::string cmd = std::string(VIGIL_BIN) + " verify s-sflip --config " + config();
  std::string out;
  ASSERT_EQ(run(cmd, &out), 0) << out;  // intact: no false alarm
  ASSERT_EQ(out.rfind("verified: ", 0), 0u) << out;
  const auto intact = verify("s-sflip");
  ASSERT_TRUE(intact.verified && intact.complete) << intact.detail;
  EXPECT_LT(intact.fragment_bytes, original.size());  // the plaintext is what was chained

  std::mt19937 rng(1717);
  std::vector<std::size_t> offsets;
  for (int i = 0; i < 20; ++i) offsets.push_back(rng() % original.size());
  int caught = 0;
  for (std::size_t off : offsets) {
    std::string bad = original;
    bad[off] = static_cast<char>(bad[off] ^ (1 + rng() % 255));
    writeFile(path, bad);
    const int code = run(cmd, &out);
    EXPECT_EQ(code, 1) << "byte " << off << " flipped, yet: " << out;
    const bool named = out.find("fragment ") != std::string::npos ||
                       out.find("truncated") != std::string::npos;
    EXPECT_TRUE(named) << "byte " << off << ": " << out;
    if (code == 1 && named) ++caught;
    std::cout << "[ caught   ] byte " << off << ": " << out;
    writeFile(path, original);
  }
  EXPECT_EQ(caught, 20);
  // The sealed header (magic, key id, wrapped key) and a record's length word
  // are named too, not reported as a missing file.
  for (std::size_t off : {std::size_t{0}, std::size_t{12}, std::size_t{60}, std::size_t{88}}) {
    std::string bad = original;
    bad[off] = static_cast<char>(bad[off] ^ 0x01);
    writeFile(path, bad);
    EXPECT_EQ(run(cmd, &out), 1) << "byte " << off << ": " << out;
    EXPECT_NE(out.find("fragment 0"), std::string::npos) << "byte " << off << ": " << out;
    writeFile(path, original);
  }
  // Restored: verifies again, 0 false alarms.
  EXPECT_EQ(run(cmd, &out), 0) << out;
  // Cut short: named as truncation (mid-file, and inside the last record).
  for (std::size_t keep : {original.size() / 2, original.size() - 3}) {
    writeFile(path, original.substr(0, keep));
    EXPECT_EQ(run(cmd, &out), 1) << out;
    EXPECT_NE(out.find("truncated"), std::string::npos) << "kept " << keep << ": " << out;
    std::cout << "[ caught   ] cut to " << keep << " bytes: " << out;
  }
  // Bytes appended after the final record are never read, yet named.
  writeFile(path, original + "appended");
  EXPECT_EQ(run(cmd, &out), 1) << out;
  EXPECT_NE(out.find("8 bytes after its final record"), std::string::npos) << out;
  writeFile(path, original);
  EXPECT_EQ(run(cmd, &out), 0) << out;
}

// Replaces one entry of a zip with `data`.
void replaceInZip(const std::string& zip, const std::string& name, const std::string& data) {
  int err = 0;
  zip_t* z = zip_open(zip.c_str(), 0, &err);
  ASSERT_TRUE(z);
  const zip_int64_t idx = zip_name_locate(z, name.c_str(), 0);
  ASSERT_GE(idx, 0) << name;
  auto* copy = new std::string(data);
  zip_source_t* src = zip_source_buffer(z, copy->data(), copy->size(), 0);
  ASSERT_EQ(zip_file_replace(z, static_cast<zip_uint64_t>(idx), src, 0), 0);
  ASSERT_EQ(zip_close(z), 0);
  delete copy;
}

// Issue 18: masked text exists nowhere, evidence bundles included. A line a
// mask rule rewrites is in the bundle's events as masked, and the bundle
// still verifies (the chain holds the masked text, as stored).
TEST_F(EvidenceTest, ABundleHoldsOnlyMaskedText) {
  Config c = Config::parse(R"(
[[rules]]
name = "mysql password"
match = '-p(\S+)'
kinds = ["key"]
action = "mask"
)", "rules.toml");
  auto rules = rules::RuleSet::compile(c.rules);
  ASSERT_TRUE(rules.ok()) << rules.message();
  storage::SessionRecord rec;
  rec.id = "s-masked";
  rec.user = "vendor1";
  rec.target = "dc01";
  rec.protocol = "vnc";
  rec.state = "live";
  rec.started_at = epochNowMs();
  rec.video_path = "s-masked.mp4";
  SessionDeps deps{*store_, nullptr, dir_ + "/rec", {}, {}, store_.get(), &key_, 10s};
  deps.rules = &*rules;
  auto opened = SessionImpl::open(std::move(deps), rec, AccessGrant{"vendor1", &target_, "password", {}});
  ASSERT_TRUE(opened.ok()) << opened.message();
  SessionImpl& s = **opened;
  drive(s, 1s);
  for (char ch : std::string("mysql -u root -pHunter2 prod")) {
    (void)s.input(KeyInput{static_cast<unsigned char>(ch), true});
    (void)s.input(KeyInput{static_cast<unsigned char>(ch), false});
  }
  (void)s.input(KeyInput{0xff0d, true});
  (void)s.input(KeyInput{0xff0d, false});
  drive(s, 1s);
  s.finish("client disconnected");

  const std::string zip = dir_ + "/masked.zip";
  ASSERT_TRUE(storage::writeBundle(*store_, *store_, dir_ + "/rec", "s-masked", key_, zip).ok());
  auto ok = storage::verifyBundle(zip);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_TRUE(ok->verified) << ok->detail;
  std::string events;
  ASSERT_EQ(run("unzip -p " + zip + " events.jsonl manifest.json VERIFY.txt", &events), 0);
  EXPECT_NE(events.find("-p[masked] prod"), std::string::npos) << events;
  EXPECT_EQ(events.find("Hunter2"), std::string::npos) << events;
}

TEST_F(EvidenceTest, ABundleChecksWithOpensslAndSha256sumAndEveryEditedFileIsCaught) {
  record("s-bundle");
  const std::string zip = dir_ + "/b.zip";
  ASSERT_TRUE(storage::writeBundle(*store_, *store_, dir_ + "/rec", "s-bundle", key_, zip).ok());
  auto ok = storage::verifyBundle(zip);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_TRUE(ok->verified) << ok->detail;
  EXPECT_TRUE(ok->complete);

  // VERIFY.txt's commands, exactly as written, in the extracted folder.
  const std::string x = dir_ + "/x";
  ASSERT_EQ(run("unzip -q " + zip + " -d " + x), 0);
  EXPECT_EQ(readFile(x + "/recording.mp4"), readFile(video("s-bundle")));
  EXPECT_EQ(readFile(x + "/manifest.sig").size(), 64u);
  std::vector<std::string> commands;
  {
    std::istringstream in(readFile(x + "/VERIFY.txt"));
    for (std::string line; std::getline(in, line);)
      if (line.rfind("  openssl ", 0) == 0 || line.rfind("  sha256sum ", 0) == 0) commands.push_back(line.substr(2));
  }
  ASSERT_EQ(commands.size(), 3u);
  EXPECT_EQ(commands[0],
            "openssl pkeyutl -verify -pubin -inkey signer.pem -rawin -in manifest.json -sigfile manifest.sig");
  for (const std::string& cmd : commands) {
    std::string out;
    EXPECT_EQ(run("cd " + x + " && " + cmd, &out), 0) << cmd << "\n" << out;
  }
  // The recording plays as it is: ffprobe reads its video stream.
  std::string probe;
  EXPECT_EQ(run("ffprobe -v error -show_entries stream=codec_name -of csv=p=0 " + x + "/recording.mp4", &probe), 0);
  EXPECT_NE(probe.find("h264"), std::string::npos) << probe;

  // The openssl/sha256sum route catches edits too.
  {
    const std::string m = readFile(x + "/manifest.json");
    writeFile(x + "/manifest.json", std::string(m).replace(m.find("vendor1"), 7, "vendorX"));
    EXPECT_NE(run("cd " + x + " && " + commands[0]), 0);
    writeFile(x + "/manifest.json", m);
    const std::string ev = readFile(x + "/events.jsonl");
    writeFile(x + "/events.jsonl", ev + "{}\n");
    EXPECT_NE(run("cd " + x + " && " + commands[2]), 0);
    writeFile(x + "/events.jsonl", ev);
  }

  // Each file of the bundle edited: `vigil verify BUNDLE.zip` catches it.
  const std::string pristine = readFile(zip);
  for (const char* name : {"recording.mp4", "events.jsonl", "chain.jsonl", "manifest.json", "manifest.sig",
                           "signer.pem", "VERIFY.txt", "SHA256SUMS", "SHA256SUMS.sig"}) {
    std::string data = readFile(x + "/" + name);
    ASSERT_FALSE(data.empty()) << name;
    std::size_t at = data.size() / 2;
    if (std::string(name) == "signer.pem") at = 40;  // inside the key's base64
    data[at] = static_cast<char>(data[at] == 'A' ? 'B' : 'A');
    writeFile(zip, pristine);
    replaceInZip(zip, name, data);
    auto r = storage::verifyBundle(zip);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_FALSE(r->verified) << name << " edited, yet: " << r->detail;
    std::cout << "[ caught   ] " << name << ": " << r->detail << "\n";
  }
  writeFile(zip, pristine);
  EXPECT_TRUE(storage::verifyBundle(zip)->verified);
  // Pinning another key refuses the bundle.
  const auto other = storage::SigningKey::fromSeed(std::array<std::uint8_t, 32>{42});
  auto pinned = storage::verifyBundle(zip, &other.publicKey());
  ASSERT_TRUE(pinned.ok());
  EXPECT_FALSE(pinned->verified);
}

TEST_F(EvidenceTest, TheVigilCommandsVerifyBundleAndPrintTheKey) {
  record("s-cli");
  const std::string cfg = config();
  const std::string vigil = VIGIL_BIN;
  std::string out;
  // pubkey: PEM that openssl reads, equal to the signing key.
  ASSERT_EQ(run(vigil + " pubkey --config " + cfg + " > " + dir_ + "/pub.pem"), 0);
  EXPECT_EQ(readFile(dir_ + "/pub.pem"), storage::publicKeyPem(key_.publicKey()));
  EXPECT_EQ(run("openssl pkey -pubin -in " + dir_ + "/pub.pem -noout -text", &out), 0) << out;
  EXPECT_NE(out.find("ED25519"), std::string::npos) << out;

  EXPECT_EQ(run(vigil + " verify s-cli --config " + cfg, &out), 0) << out;
  EXPECT_EQ(out.rfind("verified: ", 0), 0u) << out;
  EXPECT_EQ(run(vigil + " verify s-cli --json --config " + cfg, &out), 0) << out;
  EXPECT_NE(out.find("\"verified\":true"), std::string::npos) << out;

  const std::string zip = dir_ + "/cli.zip";
  EXPECT_EQ(run(vigil + " bundle s-cli " + zip + " --config " + cfg, &out), 0) << out;
  // Offline: from a folder with no config, Redis stopped.
  redis_.kill();
  EXPECT_EQ(run("cd / && " + vigil + " verify " + zip, &out), 0) << out;
  EXPECT_EQ(out.rfind("verified: ", 0), 0u) << out;
  EXPECT_EQ(run("cd / && " + vigil + " verify " + zip + " --pubkey " + dir_ + "/pub.pem", &out), 0) << out;

  // A changed recording: exit 1 and the first difference.
  const std::string path = video("s-cli");
  std::string bad = readFile(path);
  bad[bad.size() / 2] ^= 1;
  replaceInZip(zip, "recording.mp4", bad);
  EXPECT_EQ(run("cd / && " + vigil + " verify " + zip, &out), 1) << out;
  EXPECT_NE(out.find("fragment"), std::string::npos) << out;
  EXPECT_EQ(run(vigil + " verify", &out), 2) << out;
}

TEST_F(EvidenceTest, NoFalseAlarmsOverManySessions) {
  for (int i = 0; i < 4; ++i) {
    const std::string id = "s-many-" + std::to_string(i);
    auto s = open(id, 400ms);
    ASSERT_TRUE(s);
    drive(*s, std::chrono::milliseconds(300 + 400 * i), i + 3);
    s->finish("client disconnected");
    const auto r = verify(id);
    EXPECT_TRUE(r.verified) << id << ": " << r.detail;
    EXPECT_TRUE(r.complete) << id;
  }
  // A session that never showed a frame: events only, still signed.
  auto s = open("s-noframe");
  s->lifecycle("target unreachable");
  s->finish("target dc01 unreachable");
  const auto r = verify("s-noframe");
  EXPECT_TRUE(r.verified) << r.detail;
  EXPECT_EQ(r.fragments, 0u);
}

}  // namespace
}  // namespace vigil::gateway
