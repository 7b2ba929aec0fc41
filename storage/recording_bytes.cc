#include "storage/recording_bytes.h"

#include <cstring>

#include "storage/recording_reader.h"

namespace vigil::storage {

namespace {

// A recording through RecordingReader: exact reads, an error past the end.
class ReaderBytes final : public RecordingBytes {
 public:
  explicit ReaderBytes(std::unique_ptr<RecordingReader> r) : r_(std::move(r)) {}
  std::uint64_t size() const override { return r_->size(); }
  std::uint64_t bytesAfterEnd() const override { return r_->bytesAfterEnd(); }
  Status readAt(std::uint64_t offset, void* buf, std::size_t n) override {
    auto* p = static_cast<char*>(buf);
    std::size_t got = 0;
    while (got < n) {
      auto r = r_->readAt(offset + got, p + got, n - got);
      if (!r.ok()) return r.status();
      if (*r == 0)
        return Status::Error("the recording ends before byte " + std::to_string(offset + n));
      got += *r;
    }
    return Status::Ok();
  }

 private:
  std::unique_ptr<RecordingReader> r_;
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

Result<std::unique_ptr<RecordingBytes>> openRecordingBytes(const std::string& path,
                                                           const KeyRing& keys) {
  auto reader = RecordingReader::open(path, keys);
  if (!reader) return reader.status();
  return std::unique_ptr<RecordingBytes>(new ReaderBytes(std::move(*reader)));
}

std::unique_ptr<RecordingBytes> recordingBytesFromString(std::string bytes) {
  return std::make_unique<StringBytes>(std::move(bytes));
}

}  // namespace vigil::storage
