// `vigil rotate-recording-key`: adds a recording key-encryption key that
// new sessions are sealed with from then on; the old keys stay, so every
// recording sealed before still opens (docs/security.md, "Recordings at
// rest"). Needs no Redis: only the config's state_dir and recordings dir.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli.h"
#include "storage/key_ring.h"

namespace vigil::cli {

int rotateRecordingKey(const Common& c) {
  Config config;
  try {
    config = Config::load(c.config_path);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }
  auto id = storage::KeyRing::rotate(config.state_dir, config.recordings_dir);
  if (!id) return fail(id.message());
  const std::string folder = storage::KeyRing::folder(config.state_dir);
  if (c.json) {
    std::cout << nlohmann::json{{"key_id", *id}, {"folder", folder}}.dump() << "\n";
  } else {
    std::printf("recording key %u is now current for new sessions (%s); older keys are kept for "
                "reading\n",
                *id, folder.c_str());
    std::fprintf(stderr,
                 "copy %s/%08u.key to every gateway node and to where exports and bundles are "
                 "made, and back it up\n",
                 folder.c_str(), *id);
  }
  return 0;
}

}  // namespace vigil::cli
