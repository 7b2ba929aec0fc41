#include "gateway/siem/spool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace vigil::siem {
namespace {

// A record longer than this is not one we wrote: the file is damaged there.
constexpr std::uint32_t kMaxRecord = 16u << 20;
constexpr std::size_t kReadChunk = 256u << 10;

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

void closeFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::uint32_t readLen(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // host order: the spool is local to this machine
  return v;
}

}  // namespace

Result<std::unique_ptr<Spool>> Spool::open(const std::string& dir, std::uint64_t max_bytes,
                                           std::uint64_t segment_bytes) {
  std::unique_ptr<Spool> s(new Spool(dir, max_bytes, std::max<std::uint64_t>(segment_bytes, 4096)));
  if (Status st = s->load(); !st.ok()) return st;
  return s;
}

Spool::~Spool() {
  closeFd(tail_fd_);
  closeFd(head_fd_);
  closeFd(pos_fd_);
}

std::string Spool::segmentPath(std::uint64_t n) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.seg", static_cast<unsigned long long>(n));
  return dir_ + "/" + name;
}

Status Spool::load() {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return Status::Error("cannot create the SIEM spool " + dir_ + ": " + ec.message());
  std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
  pos_fd_ = ::open((dir_ + "/head").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (pos_fd_ < 0) return Status::Error(errnoText("cannot open the SIEM spool head " + dir_ + "/head"));
  std::uint64_t head[2] = {0, 0};
  if (::pread(pos_fd_, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head)) head[0] = head[1] = 0;

  std::vector<std::uint64_t> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 24 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 20, [](char c) { return c >= '0' && c <= '9'; }))
      found.push_back(std::stoull(name.substr(0, 20)));
  }
  if (ec) return Status::Error("cannot list the SIEM spool " + dir_ + ": " + ec.message());
  std::sort(found.begin(), found.end());
  for (std::uint64_t n : found) {
    if (n < head[0]) {  // delivered before the last stop
      std::filesystem::remove(segmentPath(n), ec);
      continue;
    }
    segments_.push_back({n, 0});
  }
  head_offset_ = !segments_.empty() && segments_.front().n == head[0] ? head[1] : 0;

  // Count the records; cut a segment where a record is torn (a crash mid-write).
  std::string buf;
  for (Segment& seg : segments_) {
    const int fd = ::open(segmentPath(seg.n).c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Status::Error(errnoText("cannot open " + segmentPath(seg.n)));
    struct stat st{};
    fstat(fd, &st);
    const std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
    std::uint64_t off = &seg == &segments_.front() ? std::min(head_offset_, size) : 0;
    if (&seg == &segments_.front()) head_offset_ = off;
    std::uint64_t good = off;
    while (off + 4 <= size) {
      char len_bytes[4];
      if (::pread(fd, len_bytes, 4, static_cast<off_t>(off)) != 4) break;
      const std::uint32_t len = readLen(len_bytes);
      if (len > kMaxRecord || off + 4 + len > size) break;
      off += 4 + len;
      good = off;
      ++count_;
    }
    if (good < size && ftruncate(fd, static_cast<off_t>(good)) != 0) {
      ::close(fd);
      return Status::Error(errnoText("cannot repair " + segmentPath(seg.n)));
    }
    seg.size = good;
    ::close(fd);
  }
  for (const Segment& seg : segments_) bytes_ += seg.size;
  bytes_ -= head_offset_;
  if (!segments_.empty()) return openTail(segments_.back().n);
  return Status::Ok();
}

Status Spool::openTail(std::uint64_t n) {
  closeFd(tail_fd_);
  tail_fd_ = ::open(segmentPath(n).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (tail_fd_ < 0) return Status::Error(errnoText("cannot open " + segmentPath(n)));
  return Status::Ok();
}

Result<Spool::Append> Spool::append(std::string_view record, bool over_limit) {
  if (record.size() > kMaxRecord) record = record.substr(0, kMaxRecord);
  const std::uint64_t need = 4 + record.size();
  if (!over_limit && bytes_ + need > max_bytes_) return Append::Full;
  if (segments_.empty() || segments_.back().size >= segment_bytes_) {
    const std::uint64_t n = segments_.empty() ? 1 : segments_.back().n + 1;
    if (Status st = openTail(n); !st.ok()) return st;
    segments_.push_back({n, 0});
  }
  const std::uint32_t len = static_cast<std::uint32_t>(record.size());
  iovec iov[2] = {{const_cast<std::uint32_t*>(&len), 4},
                  {const_cast<char*>(record.data()), record.size()}};
  const ssize_t n = ::writev(tail_fd_, iov, 2);
  Segment& tail = segments_.back();
  if (n != static_cast<ssize_t>(need)) {
    const std::string why = n < 0 ? std::strerror(errno) : "short write";
    if (ftruncate(tail_fd_, static_cast<off_t>(tail.size)) != 0) {}  // best effort: drop the torn record
    return Status::Error("cannot write the SIEM spool " + dir_ + ": " + why);
  }
  tail.size += need;
  bytes_ += need;
  ++count_;
  return Append::Ok;
}

Result<std::vector<std::string>> Spool::peek(std::size_t max) {
  std::vector<std::string> out;
  while (segments_.size() > 1 && head_offset_ >= segments_.front().size) {  // an empty file left by a crash
    std::error_code ec;
    closeFd(head_fd_);
    std::filesystem::remove(segmentPath(segments_.front().n), ec);
    segments_.pop_front();
    head_offset_ = 0;
  }
  if (segments_.empty() || count_ == 0) return out;
  const Segment& front = segments_.front();
  if (head_fd_ < 0 || head_fd_n_ != front.n) {
    closeFd(head_fd_);
    head_fd_ = ::open(segmentPath(front.n).c_str(), O_RDONLY | O_CLOEXEC);
    if (head_fd_ < 0) return Status::Error(errnoText("cannot read " + segmentPath(front.n)));
    head_fd_n_ = front.n;
  }
  std::uint64_t off = head_offset_;
  std::string chunk;
  std::uint64_t chunk_at = 0;
  while (out.size() < max && off + 4 <= front.size) {
    // Records are read out of one chunk when they fit in it.
    if (off < chunk_at || off + 4 > chunk_at + chunk.size()) {
      chunk.resize(static_cast<std::size_t>(std::min<std::uint64_t>(kReadChunk, front.size - off)));
      const ssize_t n = ::pread(head_fd_, chunk.data(), chunk.size(), static_cast<off_t>(off));
      if (n < 4) return Status::Error(errnoText("cannot read " + segmentPath(front.n)));
      chunk.resize(static_cast<std::size_t>(n));
      chunk_at = off;
    }
    const std::uint32_t len = readLen(chunk.data() + (off - chunk_at));
    if (off + 4 + len > front.size) return Status::Error("SIEM spool " + segmentPath(front.n) + " is damaged");
    if (off + 4 + len <= chunk_at + chunk.size()) {
      out.emplace_back(chunk.data() + (off - chunk_at) + 4, len);
    } else {
      std::string rec(len, '\0');
      if (::pread(head_fd_, rec.data(), len, static_cast<off_t>(off + 4)) != static_cast<ssize_t>(len))
        return Status::Error(errnoText("cannot read " + segmentPath(front.n)));
      out.push_back(std::move(rec));
    }
    off += 4 + len;
  }
  return out;
}

Status Spool::pop(std::size_t n) {
  if (n == 0) return Status::Ok();
  auto recs = peek(n);  // the lengths, again: cheap (page cache), and keeps pop honest
  if (!recs) return recs.status();
  for (const std::string& r : *recs) {
    head_offset_ += 4 + r.size();
    bytes_ -= 4 + r.size();
    --count_;
  }
  Segment& front = segments_.front();
  if (head_offset_ >= front.size) {
    if (segments_.size() == 1) {
      // Everything delivered: start the same file over.
      if (ftruncate(tail_fd_, 0) != 0) return Status::Error(errnoText("cannot reset the SIEM spool"));
      front.size = 0;
    } else {
      std::error_code ec;
      closeFd(head_fd_);
      std::filesystem::remove(segmentPath(front.n), ec);
      segments_.pop_front();
    }
    head_offset_ = 0;
  }
  return saveHead();
}

Status Spool::saveHead() {
  const std::uint64_t head[2] = {segments_.empty() ? 0 : segments_.front().n, head_offset_};
  if (::pwrite(pos_fd_, head, sizeof head, 0) != static_cast<ssize_t>(sizeof head))
    return Status::Error(errnoText("cannot save the SIEM spool head"));
  return Status::Ok();
}

Status Spool::sync() {
  if (tail_fd_ >= 0 && fdatasync(tail_fd_) != 0) return Status::Error(errnoText("cannot sync the SIEM spool"));
  if (fdatasync(pos_fd_) != 0) return Status::Error(errnoText("cannot sync the SIEM spool head"));
  return Status::Ok();
}

}  // namespace vigil::siem
