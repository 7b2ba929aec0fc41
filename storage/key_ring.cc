#include "storage/key_ring.h"

#include "core/unique_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

namespace vigil::storage {
namespace {

namespace fs = std::filesystem;

using Fd = UniqueFd;

std::string errnoText(int e) { return std::strerror(e); }

std::string keyName(std::uint32_t id) {
  char name[32];
  std::snprintf(name, sizeof name, "%08u.key", id);
  return name;
}

// "00000003.key" → 3; anything else (temporary files, strays) → 0.
std::uint32_t idOf(const std::string& name) {
  if (name.size() != 12 || name.substr(8) != ".key") return 0;
  std::uint32_t id = 0;
  for (int i = 0; i < 8; ++i) {
    if (name[i] < '0' || name[i] > '9') return 0;
    id = id * 10 + static_cast<std::uint32_t>(name[i] - '0');
  }
  return id;
}

// True when `inner` is `outer` or lies under it (after resolving symlinks
// and `..` as far as the paths exist).
bool within(const std::string& inner, const std::string& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner, ec), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer, ec), ec);
  auto ai = a.begin();
  for (auto bi = b.begin(); bi != b.end(); ++bi, ++ai) {
    if (bi->empty()) continue;  // a trailing separator
    if (ai == a.end() || *ai != *bi) return false;
  }
  return true;
}

Status checkPlace(const std::string& state_dir, const std::string& recordings_dir) {
  if (state_dir.empty())
    return Status::Error("the state directory is empty: set [gateway] state_dir in the config");
  if (!recordings_dir.empty() && within(KeyRing::folder(state_dir), recordings_dir))
    return Status::Error("the recording keys would be inside the recordings dir (" +
                         KeyRing::folder(state_dir) + " is under " + recordings_dir +
                         "): set [gateway] state_dir outside [recordings] dir");
  return Status::Ok();
}

// create_directories; folders it made are chmod 700 (the umask may be 022).
Status makePrivateFolder(const std::string& dir) {
  std::vector<fs::path> made;
  for (fs::path p = fs::path(dir); !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p, ec) || ec) break;
    made.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create " + dir + ": " + ec.message());
  for (const fs::path& p : made)
    if (::chmod(p.c_str(), 0700) != 0)
      return Status::Error("cannot chmod 700 " + p.string() + ": " + errnoText(errno));
  return Status::Ok();
}

Result<RecordingKey> readKey(const std::string& path, std::uint32_t id) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok())
    return Status::Error("cannot read the recording key " + path + ": " + errnoText(errno) +
                         " (run vigil as the user that owns it)");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 32)
    return Status::Error("the recording key " + path +
                         " is not a 32-byte file: restore it from a backup or another gateway "
                         "node (recordings sealed with it cannot be read without it)");
  if (st.st_mode & 077)
    spdlog::warn("event=loose_permissions path={} fix=\"chmod 600 {}\"", path, path);
  RecordingKey key;
  key.id = id;
  std::size_t got = 0;
  while (got < key.bytes.size()) {
    const ssize_t n = ::read(fd.get(), key.bytes.data() + got, key.bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      sodium_memzero(key.bytes.data(), key.bytes.size());
      return Status::Error("cannot read the recording key " + path);
    }
    got += static_cast<std::size_t>(n);
  }
  return key;
}

// Writes a fresh key under a temporary name and links it into place, so a
// concurrent creator never sees half a key: link() fails with EEXIST for
// the loser, which then reports whether it lost (created = false).
Result<bool> createKey(const std::string& folder, std::uint32_t id) {
  const std::string path = folder + "/" + keyName(id);
  std::array<std::uint8_t, 8> rnd{};
  randombytes_buf(rnd.data(), rnd.size());
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, rnd.data(), rnd.size());
  const std::string tmp = path + ".tmp-" + hex;
  RecordingKey key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd.ok()) return Status::Error("cannot create a recording key in " + folder + ": " + errnoText(errno));
    std::size_t put = 0;
    while (put < key.bytes.size()) {
      const ssize_t n = ::write(fd.get(), key.bytes.data() + put, key.bytes.size() - put);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      put += static_cast<std::size_t>(n);
    }
    sodium_memzero(key.bytes.data(), key.bytes.size());
    if (put != key.bytes.size() || ::fsync(fd.get()) != 0) {
      const int e = errno;
      ::unlink(tmp.c_str());
      return Status::Error("cannot write the recording key " + tmp + ": " + errnoText(e));
    }
  }
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int e = errno;
  ::unlink(tmp.c_str());
  if (linked != 0) {
    if (e == EEXIST) return false;
    return Status::Error("cannot create the recording key " + path + ": " + errnoText(e));
  }
  // The folder entry must survive a crash as well as the file.
  if (Fd dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dir.ok())
    (void)::fsync(dir.get());
  spdlog::info("event=recording_key_created path={} key_id={}", path, id);
  return true;
}

Result<KeyRing> loadFolder(const std::string& folder) {
  KeyRing ring;
  std::error_code ec;
  if (!fs::exists(folder, ec)) return ring;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::uint32_t id = idOf(it->path().filename().string());
    if (id == 0) continue;
    auto key = readKey(it->path().string(), id);
    if (!key) return key.status();
    ring.add(*key);
    sodium_memzero(key->bytes.data(), key->bytes.size());
  }
  if (ec) return Status::Error("cannot list the recording keys in " + folder + ": " + ec.message());
  return ring;
}

}  // namespace

KeyRing::~KeyRing() {
  for (RecordingKey& k : keys_) sodium_memzero(k.bytes.data(), k.bytes.size());
}

std::string KeyRing::folder(const std::string& state_dir) {
  return (fs::path(state_dir) / "recording-keys").string();
}

void KeyRing::add(const RecordingKey& key) {
  auto it = std::lower_bound(keys_.begin(), keys_.end(), key.id,
                             [](const RecordingKey& k, std::uint32_t id) { return k.id < id; });
  if (it != keys_.end() && it->id == key.id) *it = key;
  else keys_.insert(it, key);
}

const RecordingKey* KeyRing::current() const { return keys_.empty() ? nullptr : &keys_.back(); }

const RecordingKey* KeyRing::find(std::uint32_t id) const {
  for (const RecordingKey& k : keys_)
    if (k.id == id) return &k;
  return nullptr;
}

std::vector<std::uint32_t> KeyRing::ids() const {
  std::vector<std::uint32_t> out;
  for (const RecordingKey& k : keys_) out.push_back(k.id);
  return out;
}

Result<KeyRing> KeyRing::load(const std::string& state_dir) {
  if (sodium_init() < 0) return Status::Error("libsodium cannot start (no random source)");
  return loadFolder(folder(state_dir));
}

Result<KeyRing> KeyRing::loadOrCreate(const std::string& state_dir,
                                      const std::string& recordings_dir) {
  if (sodium_init() < 0) return Status::Error("libsodium cannot start (no random source)");
  if (Status st = checkPlace(state_dir, recordings_dir); !st.ok()) return st;
  const std::string dir = folder(state_dir);
  if (Status st = makePrivateFolder(dir); !st.ok()) return st;
  auto ring = loadFolder(dir);
  if (!ring || !ring->empty()) return ring;
  auto made = createKey(dir, 1);  // a concurrent starter may win: read theirs
  if (!made) return made.status();
  return loadFolder(dir);
}

Result<std::uint32_t> KeyRing::rotate(const std::string& state_dir,
                                      const std::string& recordings_dir) {
  if (sodium_init() < 0) return Status::Error("libsodium cannot start (no random source)");
  if (Status st = checkPlace(state_dir, recordings_dir); !st.ok()) return st;
  const std::string dir = folder(state_dir);
  if (Status st = makePrivateFolder(dir); !st.ok()) return st;
  for (int attempt = 0; attempt < 16; ++attempt) {
    auto ring = loadFolder(dir);
    if (!ring) return ring.status();
    const std::uint32_t id = ring->empty() ? 1 : ring->current()->id + 1;
    auto made = createKey(dir, id);
    if (!made) return made.status();
    if (*made) return id;
  }
  return Status::Error("cannot add a recording key: another process keeps adding them");
}

}  // namespace vigil::storage
