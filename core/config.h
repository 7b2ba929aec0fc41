// The one TOML file (CONTRACT.md "Config"). Loaded once at startup and passed
// down; nothing reads it from a global. Loading throws ConfigError with the
// file, the key and what to do.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/event.h"

namespace vigil {

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
  std::string str() const;
  // "127.0.0.1:3389", "[::1]:3389", "localhost:0". Throws ConfigError.
  static HostPort parse(const std::string& s, const std::string& key);
};

enum class Role { Vendor, Auditor, Security, Admin };
std::string_view toString(Role r);

struct UserConfig {
  std::string name;
  std::string password_hash;  // argon2id, from `vigil hash-password`
  std::vector<Role> roles;
  bool hasRole(Role r) const;
};

enum class Protocol { Rdp, Vnc };
std::string_view toString(Protocol p);

struct TargetConfig {
  std::string name;
  Protocol protocol = Protocol::Rdp;
  std::string host;
  std::uint16_t port = 0;
  std::string username;  // vaulted: never shown to a user, never logged
  std::string password;  // vaulted
  std::optional<HostPort> vnc_listen;  // vnc targets: the gateway port serving it
  std::string keyboard_layout;         // rdp: overrides the client's announced layout
  // rdp: SHA-256 of the server's TLS certificate, "AB:CD:..." (normalized).
  // Empty: the first certificate seen is trusted and kept (state_dir).
  std::string tls_fingerprint;
};

// "ab:cd:...", "ABCD..." or "sha256:..." → "AB:CD:..." (32 bytes); nullopt
// if it is not a SHA-256 fingerprint.
std::optional<std::string> normalizeFingerprint(std::string_view text);

struct GrantConfig {
  std::string user;
  std::string target;
  std::optional<EpochMillis> not_before;
  std::optional<EpochMillis> not_after;
};

struct Config {
  std::string path;        // the file it came from
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string recordings_dir = "var/recordings";
  // [recordings] qp: the video's quantizer (lower = sharper, larger); unset,
  // the recorder's own default (codecs::RecorderOptions::qp).
  std::optional<int> recordings_qp;
  std::string state_dir = "var";  // keys, self-signed certs
  std::string node_id;            // defaults to the host name
  std::string log_level = "info";

  HostPort web_listen{"127.0.0.1", 8080};
  std::string web_tls_cert, web_tls_key;
  HostPort rdp_listen{"127.0.0.1", 3389};
  std::string rdp_tls_cert, rdp_tls_key;

  std::vector<UserConfig> users;
  std::vector<TargetConfig> targets;
  std::vector<GrantConfig> grants;

  const UserConfig* findUser(std::string_view name) const;
  const TargetConfig* findTarget(std::string_view name) const;

  // Relative paths in the file are taken relative to the working directory
  // (scripts/run starts vigil from the repository root).
  static Config load(const std::string& path);
  static Config parse(const std::string& toml_text, const std::string& path_for_errors);
};

}  // namespace vigil
