#include "gateway/api/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vigil::gateway::api {
namespace fs = std::filesystem;
namespace {

std::string mimeFor(const fs::path& p) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".svg", "image/svg+xml"},
      {".png", "image/png"},                 {".ico", "image/x-icon"},
      {".json", "application/json"},         {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"}};
  auto it = kTypes.find(p.extension().string());
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

}  // namespace

Status StaticFiles::load(const std::string& root_dir) {
  std::error_code ec;
  fs::path root = fs::weakly_canonical(root_dir, ec);
  if (ec || !fs::is_regular_file(root / "index.html"))
    return Status::Error("web player not found: " + root_dir +
                         " has no index.html (set the web-player directory)");
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file()) continue;  // nothing outside the tree
    if (it->file_size() > 8 * 1024 * 1024) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    files_["/" + fs::relative(it->path(), root).generic_string()] =
        File{ss.str(), mimeFor(it->path())};
  }
  if (!files_.count("/login.html"))
    return Status::Error("web player incomplete: " + root_dir + " has no login.html");
  return Status::Ok();
}

const StaticFiles::File* StaticFiles::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

bool StaticFiles::isPublic(const std::string& path) {
  return path == "/login.html" || path == "/js/login.js" || path == "/favicon.svg" ||
         path.rfind("/css/", 0) == 0;
}

}  // namespace vigil::gateway::api
