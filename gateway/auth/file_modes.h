// Secrets at rest: the config (vaulted target passwords), the state dir
// (gateway.key, TLS keys) and the recordings must be open to their owner
// only. `vigil serve` warns at start about any that are not. Thread-safe
// (no state).
#pragma once

#include <string>
#include <vector>

namespace vigil::gateway::auth {

struct LooseMode {
  std::string path;
  unsigned mode = 0;    // permission bits, e.g. 0644
  bool is_dir = false;
  std::string open_to;  // "group", "others" or "group and others"
  std::string fix;      // what to run: "chmod 600 config/vigil.toml"
};

// The paths (files or folders) whose mode lets group or others in: a file
// readable or writable by them (mask 066), a folder with any of their bits
// (077: listing or entering it is enough to learn session ids). Paths that do
// not exist are skipped (they are made later, owner-only); symlinks are
// followed.
std::vector<LooseMode> findLooseModes(const std::vector<std::string>& paths);

// One structured warning line per entry of findLooseModes(): event=loose_permissions.
void warnLooseModes(const std::vector<std::string>& paths);

// create_directories, and chmod 700 on each folder it made (the process's
// umask may be 022). Error text names the folder.
bool createPrivateDirectories(const std::string& dir, std::string& error);

}  // namespace vigil::gateway::auth
