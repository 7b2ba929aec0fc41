// The `vigil` subcommands (CONTRACT.md "The vigil binary"). Each returns the
// process exit code: 0 success, 1 failure (one clear line on stderr), 2 bad usage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "storage/metadata_store.h"

namespace vigil::cli {

struct Common {
  std::string config_path = "config/vigil.toml";
  bool json = false;
};

// Prints "vigil: <message>" on stderr and returns 1.
int fail(const std::string& message);

// Loads the config and connects to its Redis; on failure prints why and
// returns null (exit 1).
struct Env {
  Config config;
  std::unique_ptr<storage::MetadataStore> store;
};
std::unique_ptr<Env> openEnv(const Common& c);
// Who runs the command, for the audit log: "cli:<login>".
std::string cliActor();

int hashPassword(const Common& c);
int grant(const Common& c, const std::string& user, const std::string& target, const std::string& ttl);
// refused: list refused connections (kept apart from sessions) instead.
int sessions(const Common& c, bool live_only, bool refused, const std::string& user,
             const std::string& target, std::size_t limit);
int events(const Common& c, const std::string& session, const std::string& kinds);
int search(const Common& c, const std::string& query, const std::string& user,
           const std::string& target, std::size_t limit);
// since: an RFC 3339 time or a duration back from now ("2h"); empty: all kept.
int alerts(const Common& c, const std::string& since, std::size_t limit);
int exportVideo(const Common& c, const std::string& session, const std::string& out);
int terminate(const Common& c, const std::string& session);
int serve(const Common& c);
// Shows an RDP target's TLS certificate and, confirmed on stdin (or `yes`),
// records it as trusted in state_dir/rdp/known_targets. Sends no credentials.
int trustTarget(const Common& c, const std::string& name, bool yes);
// Verifies a session (config + Redis) or a bundle zip (offline); pubkey_file
// ("" = none) pins the signing key.
int verify(const Common& c, const std::string& what, const std::string& pubkey_file);
int bundle(const Common& c, const std::string& session, const std::string& out);
int pubkey(const Common& c);
// Adds a recording key that becomes current for new sessions; old keys are
// kept for reading (gateway/cli/rotate_recording_key.cc).
int rotateRecordingKey(const Common& c);

}  // namespace vigil::cli
