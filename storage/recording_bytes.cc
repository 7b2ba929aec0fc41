#include "storage/recording_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil::storage {

namespace {

class FileBytes final : public RecordingBytes {
 public:
  FileBytes(int fd, std::uint64_t size, std::string path) : fd_(fd), size_(size), path_(std::move(path)) {}
  ~FileBytes() override { ::close(fd_); }
  std::uint64_t size() const override { return size_; }
  Status readAt(std::uint64_t offset, void* buf, std::size_t n) override {
    auto* p = static_cast<char*>(buf);
    std::size_t got = 0;
    while (got < n) {
      const ssize_t r = ::pread(fd_, p + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return Status::Error("cannot read recording " + path_ + ": " + std::strerror(errno));
      if (r == 0) return Status::Error("recording " + path_ + " ends before byte " + std::to_string(offset + n));
      got += static_cast<std::size_t>(r);
    }
    return Status::Ok();
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string path_;
};

class StringBytes final : public RecordingBytes {
 public:
  explicit StringBytes(std::string b) : b_(std::move(b)) {}
  std::uint64_t size() const override { return b_.size(); }
  Status readAt(std::uint64_t offset, void* buf, std::size_t n) override {
    if (offset > b_.size() || n > b_.size() - offset) return Status::Error("read past the end of the recording");
    std::memcpy(buf, b_.data() + offset, n);
    return Status::Ok();
  }

 private:
  std::string b_;
};

}  // namespace

Result<std::unique_ptr<RecordingBytes>> openRecordingBytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Error("cannot open recording " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return Status::Error("cannot open recording " + path + ": " + std::strerror(e));
  }
  return std::unique_ptr<RecordingBytes>(new FileBytes(fd, static_cast<std::uint64_t>(st.st_size), path));
}

std::unique_ptr<RecordingBytes> recordingBytesFromString(std::string bytes) {
  return std::make_unique<StringBytes>(std::move(bytes));
}

}  // namespace vigil::storage
