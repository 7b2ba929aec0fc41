#include "gateway/auth/file_modes.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace vigil::gateway::auth {
namespace {

// A path as a shell would need it: quoted only when it must be.
std::string shellWord(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789/._-+:@%,") == std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

std::vector<LooseMode> findLooseModes(const std::vector<std::string>& paths) {
  std::vector<LooseMode> out;
  for (const std::string& path : paths) {
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0) continue;
    const bool dir = S_ISDIR(st.st_mode);
    const unsigned bits = st.st_mode & 07777;
    const unsigned loose = bits & (dir ? 077u : 066u);
    if (loose == 0) continue;
    LooseMode m;
    m.path = path;
    m.mode = bits;
    m.is_dir = dir;
    const bool group = loose & 070u, others = loose & 007u;
    m.open_to = group && others ? "group and others" : group ? "group" : "others";
    m.fix = std::string(dir ? "chmod 700 " : "chmod 600 ") + shellWord(path);
    out.push_back(std::move(m));
  }
  return out;
}

void warnLooseModes(const std::vector<std::string>& paths) {
  for (const LooseMode& m : findLooseModes(paths)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", m.mode);
    spdlog::warn("event=loose_permissions path={} mode={} open_to=\"{}\" fix=\"{}\"", m.path, mode,
                 m.open_to, m.fix);
  }
}

bool createPrivateDirectories(const std::string& dir, std::string& error) {
  namespace fs = std::filesystem;
  std::vector<fs::path> made;
  for (fs::path p = fs::path(dir); !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p, ec) || ec) break;
    made.push_back(p);
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  for (const fs::path& p : made) {
    if (::chmod(p.c_str(), 0700) != 0) {
      error = "cannot chmod 700 " + p.string() + ": " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

}  // namespace vigil::gateway::auth
