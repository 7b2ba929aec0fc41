#include "gateway/api/recording_files.h"

#include <sys/stat.h>

#include <algorithm>

namespace vigil::gateway::api {
namespace fs = std::filesystem;

RecordingFiles::RecordingFiles(const std::string& recordings_dir) {
  std::error_code ec;
  root_ = fs::weakly_canonical(recordings_dir, ec);
  if (ec) root_ = fs::absolute(recordings_dir);
}

std::optional<fs::path> RecordingFiles::pathOf(const storage::SessionRecord& s) const {
  if (s.video_path.empty()) return std::nullopt;
  fs::path rel(s.video_path);
  if (rel.is_absolute()) return std::nullopt;
  for (const auto& part : rel)
    if (part == "..") return std::nullopt;
  std::error_code ec;
  fs::path full = fs::weakly_canonical(root_ / rel, ec);
  if (ec) return std::nullopt;
  // Symlinks may not lead outside the recordings directory either.
  auto [root_end, _] = std::mismatch(root_.begin(), root_.end(), full.begin(), full.end());
  if (root_end != root_.end()) return std::nullopt;
  return full;
}

long long RecordingFiles::liveBytes(const storage::SessionRecord& s) const {
  if (s.state != "live") return 0;
  auto p = pathOf(s);
  if (!p) return 0;
  struct stat st{};
  return ::stat(p->c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : 0;
}

}  // namespace vigil::gateway::api
