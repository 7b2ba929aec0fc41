#include "storage/recording_reader.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "storage/sealed_file.h"

namespace vigil::storage {
namespace {

std::uint32_t getU32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// Reads exactly n bytes at `off` unless the file ends first; returns the count.
Result<std::size_t> preadFull(int fd, void* buf, std::size_t n, std::uint64_t off,
                              const std::string& path) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, static_cast<char*>(buf) + got, n - got,
                              static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::Error("cannot read recording " + path + ": " + std::strerror(errno));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace

RecordingReader::~RecordingReader() {
  sodium_memzero(key_.data(), key_.size());
  if (!cache_.empty()) sodium_memzero(cache_.data(), cache_.size());
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<RecordingReader>> RecordingReader::open(const std::string& path,
                                                               const KeyRing& keys) {
  if (sodium_init() < 0) return Status::Error("libsodium cannot start (no random source)");
  std::unique_ptr<RecordingReader> r(new RecordingReader());
  r->path_ = path;
  // Never through a symlink: a recording is a plain file the recorder made.
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (r->fd_ < 0) {
    if (errno == ENOENT) return Status::Error("recording " + path + " does not exist");
    return Status::Error("cannot open recording " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(r->fd_, &st) != 0)
    return Status::Error("cannot open recording " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Status::Error("recording " + path + " is not a regular file");
  r->file_size_ = static_cast<std::uint64_t>(st.st_size);

  std::uint8_t h[sealed::kHeaderSize];
  auto got = preadFull(r->fd_, h, sizeof h, 0, path);
  if (!got) return got.status();
  if (!sealed::hasMagic(h, *got)) {  // plain MP4 (encryption off, or older)
    r->size_ = r->file_size_;
    return r;
  }
  r->sealed_ = true;
  r->complete_ = false;
  if (*got < sizeof h)
    return Status::Error("recording " + path + " has a cut sealed header (" + std::to_string(*got) +
                         " of " + std::to_string(sizeof h) + " bytes): nothing was recorded");
  if (h[8] != 1 || h[9] != 1)
    return Status::Error("recording " + path + " is sealed in format version " +
                         std::to_string(h[8]) + "/" + std::to_string(h[9]) +
                         ", which this vigil cannot read: use a newer vigil");
  r->key_id_ = getU32(h + 12);
  const RecordingKey* kek = keys.find(r->key_id_);
  if (!kek)
    return Status::Error("recording " + path + " is sealed with recording key " +
                         std::to_string(r->key_id_) +
                         ", which is not in this gateway's state dir (recording-keys/): copy it "
                         "there from the node or backup that has it");
  unsigned long long klen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(r->key_.data(), &klen, nullptr, h + 40, 48, h, 16,
                                                 h + 16, kek->bytes.data()) != 0 ||
      klen != r->key_.size())
    return Status::Error("recording key " + std::to_string(r->key_id_) + " does not open " + path +
                         ": it is a different key with the same id, or the file's header is damaged");
  if (Status s = r->scan(); !s.ok()) return s;
  return r;
}

Status RecordingReader::scan() {
  std::uint64_t off = sealed::kHeaderSize;
  std::uint64_t plain = 0;
  while (off + 4 <= file_size_) {
    std::uint8_t w[4];
    auto got = preadFull(fd_, w, 4, off, path_);
    if (!got) return got.status();
    if (*got < 4) break;
    const std::uint32_t word = getU32(w);
    const std::uint32_t clen = word & ~sealed::kFinalBit;
    if (clen < sealed::kTagSize || clen > sealed::kMaxCipherLen)
      return Status::Error("record " + std::to_string(index_.size()) + " of " + path_ +
                           " has a damaged length: the file was damaged or altered");
    if (off + 4 + clen > file_size_) break;  // torn by a crash: the prefix stands
    index_.push_back({off + 4, plain, clen - static_cast<std::uint32_t>(sealed::kTagSize),
                      (word & sealed::kFinalBit) != 0});
    plain += clen - sealed::kTagSize;
    off += 4 + clen;
    if (index_.back().final) {
      complete_ = true;
      after_end_ = file_size_ - off;  // not part of the recording; verify names it
      break;
    }
  }
  size_ = plain;
  return Status::Ok();
}

Status RecordingReader::loadRecord(std::size_t i) {
  if (cache_index_ == i) return Status::Ok();
  const Record& rec = index_[i];
  const std::size_t clen = rec.plain_len + sealed::kTagSize;
  scratch_.resize(clen);
  auto got = preadFull(fd_, scratch_.data(), clen, rec.file_offset, path_);
  if (!got) return got.status();
  if (*got != clen)
    return Status::Error("record " + std::to_string(i) + " of " + path_ +
                         " is shorter than when it was opened: the file was truncated");
  cache_index_ = SIZE_MAX;
  cache_.resize(rec.plain_len);
  std::uint8_t nonce[24] = {};
  std::uint8_t ad[9] = {};
  for (int b = 0; b < 8; ++b)
    nonce[b] = ad[b] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(i) >> (8 * b));
  ad[8] = rec.final ? 1 : 0;
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(cache_.data(), &plen, nullptr, scratch_.data(),
                                                 clen, ad, sizeof ad, nonce, key_.data()) != 0)
    return Status::Error("record " + std::to_string(i) + " of " + path_ +
                         " does not authenticate: the file was damaged or altered");
  cache_index_ = i;
  return Status::Ok();
}

Result<std::size_t> RecordingReader::readAt(std::uint64_t offset, void* buf, std::size_t n) {
  if (offset >= size_ || n == 0) return std::size_t{0};
  n = static_cast<std::size_t>(std::min<std::uint64_t>(n, size_ - offset));
  if (!sealed_) return preadFull(fd_, buf, n, offset, path_);
  std::lock_guard lock(mu_);
  // The record holding `offset`: the last one starting at or before it.
  auto it = std::upper_bound(index_.begin(), index_.end(), offset,
                             [](std::uint64_t o, const Record& r) { return o < r.plain_offset; });
  std::size_t i = static_cast<std::size_t>(it - index_.begin()) - 1;
  std::size_t done = 0;
  while (done < n && i < index_.size()) {
    if (Status s = loadRecord(i); !s.ok()) return s;
    const Record& rec = index_[i];
    const std::uint64_t in_rec = offset + done - rec.plain_offset;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(n - done, rec.plain_len - in_rec));
    std::memcpy(static_cast<char*>(buf) + done, cache_.data() + in_rec, take);
    done += take;
    ++i;
  }
  return done;
}

}  // namespace vigil::storage
