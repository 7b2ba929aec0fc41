// The start-up check of secret-holding paths' modes, the owner-only folders
// serve and the key store make, and the keys derived for the control bus.
#include "gateway/auth/file_modes.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "gateway/auth/access_codes.h"
#include "tests/gateway/auth/test_util.h"

namespace vigil::gateway::auth {
namespace {

using testing::TempDir;

unsigned modeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string makeFile(const std::string& path, unsigned mode) {
  std::ofstream(path) << "password = \"x\"\n";
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

// Sets the umask for a test's duration.
class Umask {
 public:
  explicit Umask(mode_t m) : old_(::umask(m)) {}
  ~Umask() { ::umask(old_); }

 private:
  mode_t old_;
};

TEST(FileModes, OwnerOnlyPathsPass) {
  TempDir dir;
  const std::string conf = makeFile(dir.path() + "/vigil.toml", 0600);
  const std::string ro = makeFile(dir.path() + "/ro.toml", 0400);
  const std::string sub = dir.path() + "/var";
  ASSERT_EQ(::mkdir(sub.c_str(), 0700), 0);
  EXPECT_TRUE(findLooseModes({conf, ro, sub, dir.path() + "/missing"}).empty());
}

TEST(FileModes, FilesOpenToGroupOrOthersAreFound) {
  TempDir dir;
  const std::string world = makeFile(dir.path() + "/world.toml", 0644);
  const std::string group = makeFile(dir.path() + "/group.toml", 0640);
  const std::string others_w = makeFile(dir.path() + "/ow.toml", 0602);
  const std::string exec_only = makeFile(dir.path() + "/x.toml", 0611);  // x alone opens no file
  auto found = findLooseModes({world, group, others_w, exec_only});
  ASSERT_EQ(found.size(), 3u);
  EXPECT_EQ(found[0].path, world);
  EXPECT_EQ(found[0].mode, 0644u);
  EXPECT_FALSE(found[0].is_dir);
  EXPECT_EQ(found[0].open_to, "group and others");
  EXPECT_EQ(found[0].fix, "chmod 600 " + world);
  EXPECT_EQ(found[1].open_to, "group");
  EXPECT_EQ(found[2].open_to, "others");
}

TEST(FileModes, FoldersOpenToGroupOrOthersAreFound) {
  TempDir dir;
  const std::string var = dir.path() + "/var";
  const std::string rec = dir.path() + "/rec dir";
  ASSERT_EQ(::mkdir(var.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(rec.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(var.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(rec.c_str(), 0701), 0);  // entering is enough to open known names
  auto found = findLooseModes({var, rec});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_TRUE(found[0].is_dir);
  EXPECT_EQ(found[0].fix, "chmod 700 " + var);
  EXPECT_EQ(found[1].fix, "chmod 700 '" + rec + "'");  // quoted for the shell
}

TEST(FileModes, WarnsOneStructuredLinePerPath) {
  TempDir dir;
  const std::string conf = makeFile(dir.path() + "/vigil.toml", 0644);
  const std::string key = makeFile(dir.path() + "/gateway.key", 0600);
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto logger = std::make_shared<spdlog::logger>("capture", sink);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  warnLooseModes({conf, key});
  spdlog::set_default_logger(previous);
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_NE(text.find("[warning]"), std::string::npos) << text;
  EXPECT_NE(text.find("event=loose_permissions path=" + conf + " mode=0644"), std::string::npos) << text;
  EXPECT_NE(text.find("fix=\"chmod 600 " + conf + "\""), std::string::npos) << text;
  EXPECT_EQ(text.find("password"), std::string::npos) << text;  // names the file, not its content
}

TEST(FileModes, PrivateDirectoriesAreOwnerOnlyWhateverTheUmask) {
  Umask loose(022);
  TempDir dir;
  std::string err;
  const std::string deep = dir.path() + "/var/recordings";
  ASSERT_TRUE(createPrivateDirectories(deep, err)) << err;
  EXPECT_EQ(modeOf(dir.path() + "/var"), 0700u);
  EXPECT_EQ(modeOf(deep), 0700u);
  // An existing folder keeps its mode (the warning names it instead).
  ASSERT_EQ(::chmod(deep.c_str(), 0750), 0);
  ASSERT_TRUE(createPrivateDirectories(deep, err)) << err;
  EXPECT_EQ(modeOf(deep), 0750u);
  // A file in the way is an error naming the folder.
  makeFile(dir.path() + "/file", 0600);
  EXPECT_FALSE(createPrivateDirectories(dir.path() + "/file/sub", err));
  EXPECT_NE(err.find(dir.path() + "/file/sub"), std::string::npos) << err;
}

TEST(SecretKeyFiles, StateDirIsOwnerOnlyAndLoadDoesNotCreate) {
  Umask loose(022);
  TempDir dir;
  const std::string state = dir.path() + "/state";
  auto missing = SecretKey::load(state);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("no gateway key at " + state + "/gateway.key"), std::string::npos)
      << missing.message();
  EXPECT_FALSE(std::filesystem::exists(state));
  auto made = SecretKey::loadOrCreate(state);
  ASSERT_TRUE(made.ok()) << made.message();
  EXPECT_EQ(modeOf(state), 0700u);
  EXPECT_EQ(modeOf(state + "/gateway.key"), 0600u);
  auto loaded = SecretKey::load(state);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  EXPECT_EQ(loaded->bytes(), made->bytes());
}

TEST(SecretKeyFiles, ControlBusKeyIsDerivedAndStable) {
  TempDir a, b;
  auto ka = SecretKey::loadOrCreate(a.path());
  auto kb = SecretKey::loadOrCreate(b.path());
  ASSERT_TRUE(ka.ok() && kb.ok());
  EXPECT_NE(ka->controlBusKey(), ka->bytes());  // not the master key itself
  EXPECT_EQ(ka->controlBusKey(), SecretKey::load(a.path())->controlBusKey());
  EXPECT_NE(ka->controlBusKey(), kb->controlBusKey());
}

}  // namespace
}  // namespace vigil::gateway::auth
