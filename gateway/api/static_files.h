// The web player's files, read into memory at start (nothing is read from
// disk per request, and nothing outside the web root is reachable).
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace vigil::gateway::api {

class StaticFiles {
 public:
  struct File {
    std::string content;
    std::string mime;
  };
  // Loads every regular file under `root` (no symlinks, ≤ 8 MiB each).
  // Fails if root has no index.html or login.html.
  [[nodiscard]] Status load(const std::string& root);
  const File* find(const std::string& path) const;  // "/js/app.js"
  // Served before sign-in: the sign-in page and what it needs.
  static bool isPublic(const std::string& path);

 private:
  std::map<std::string, File> files_;
};

}  // namespace vigil::gateway::api
