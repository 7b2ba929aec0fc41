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

// The host of a peer address: "10.0.0.7" of "10.0.0.7:51234", "::1" of
// "[::1]:51234"; a bare host or bare IPv6 address as it is.
std::string addressHost(const std::string& addr);

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
  // Empty: the gateway refuses to send credentials until an operator trusts
  // the server's certificate (`vigil trust-target NAME`, kept in state_dir).
  std::string tls_fingerprint;
  // rdp: the session starts only once the target confirmed the logon (NLA,
  // or its Save Session Info). false is for targets that never confirm
  // (xrdp 0.9 with Xorg/Xvnc sessions): the session then starts with the
  // target's first screen, and a refused vaulted password shows the target's
  // own logon screen to the client (docs/compatibility.md).
  bool logon_confirmation = true;
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

// [[rules]] (CONTRACT.md "Events and search", Rules): checked against every
// `key`, `title` and `clipboard` event; validated at load (gateway/rules/
// compiles them for use).
enum class RuleAction { Alert, Terminate, Mask };
enum class Severity { Info, Low, Medium, High, Critical };
std::string_view toString(RuleAction a);
std::string_view toString(Severity s);

struct RuleConfig {
  std::string name;                   // unique; named in alerts and end reasons
  std::string match;                  // RE2 syntax (linear time)
  std::vector<EventKind> kinds;       // key | title | clipboard; default all three
  std::vector<std::string> users;     // globs (* and ?); empty: every user
  std::vector<std::string> targets;   // globs; empty: every target
  RuleAction action = RuleAction::Alert;
  Severity severity = Severity::Medium;
};

// [masking] (docs/rules.md "Password windows"): a `key` line finished while
// the window in front has a title matching `password_window_titles` is
// stored as "[masked]", whole. On unless `password_windows = false`.
inline constexpr const char* kDefaultPasswordWindowTitles =
    R"((?i)password|passwort|mot de passe|credential|\bsign ?in\b|\blog ?[io]n\b|authenticat|passphrase|unlock|\bsudo\b|windows security|\bpin\b)";
struct MaskingConfig {
  bool password_windows = true;
  std::string password_window_titles = kDefaultPasswordWindowTitles;  // RE2
};

// [gateway]: the front door's deadlines and caps (docs/security.md).
struct FrontDoorConfig {
  // A connection not authenticated within this is cut (its socket shut down).
  int handshake_timeout_ms = 10'000;
  // Connections still handshaking, per client address and in all.
  int max_unauthenticated_per_address = 8;
  int max_unauthenticated = 64;
  // Every open connection (handshaking or relaying), per listener.
  int max_connections = 256;
  // A target (or client) announcing a larger desktop is refused.
  int max_desktop_width = 8192;
  int max_desktop_height = 8192;
};

// [siem] (CONTRACT.md "SIEM", docs/siem.md): where session events go besides
// the store. Validated at load; gateway/siem/ sends them.
enum class SiemTransport { Udp, Tcp, Tls };
enum class SiemFormat { Cef, Json };
struct SiemConfig {
  // syslog = "udp://H:P" | "tcp://H:P" | "tls://H:P"; absent: no syslog.
  std::optional<SiemTransport> syslog_transport;
  HostPort syslog_addr;
  SiemFormat format = SiemFormat::Cef;
  std::vector<EventKind> kinds{EventKind::Lifecycle, EventKind::Alert};
  // webhook = "http://H:P/PATH" | "https://...": one HTTP POST (JSON) per event.
  std::string webhook;  // empty: none
  std::vector<EventKind> webhook_kinds{EventKind::Alert};
  std::string ca_file;  // tls:// and https://: the receiver's CA (PEM), verified with its name
  std::uint64_t spool_max = 64ull << 20;  // each output's on-disk spool under state_dir/siem/
  int facility = 13;  // RFC 5424 facility (13: log audit)
};

struct Config {
  std::string path;        // the file it came from
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string recordings_dir = "var/recordings";
  // [recordings] qp: the video's quantizer (lower = sharper, larger); unset,
  // the recorder's own default (codecs::RecorderOptions::qp).
  std::optional<int> recordings_qp;
  // [recordings] min_free: a session is refused (before its target is
  // contacted) when the recordings disk has less room than this.
  std::uint64_t recordings_min_free = 1ull << 30;
  // [recordings] encrypt: recordings are sealed at rest under a key in
  // state_dir (docs/security.md); true unless set to false.
  bool recordings_encrypt = true;
  // [retention] refused_days: refusal records expire after this many days.
  int retention_refused_days = 30;
  // [retention] audit_days: audit log entries older than this are dropped
  // from the log's oldest end (the rest still verifies); never by count.
  int retention_audit_days = 365;
  FrontDoorConfig front_door;
  std::string state_dir = "var";  // keys, self-signed certs
  std::string node_id;            // defaults to the host name
  std::string log_level = "info";

  HostPort web_listen{"127.0.0.1", 8080};
  std::string web_tls_cert, web_tls_key;
  // [web] public_url: the address users type (behind a proxy or a DNS name);
  // its host is accepted in the Host header besides the listen address.
  std::string web_public_url;
  HostPort rdp_listen{"127.0.0.1", 3389};
  std::string rdp_tls_cert, rdp_tls_key;
  // [rdp] avc420: offer clients the graphics pipeline with H.264 (AVC420):
  // ~0.06x RemoteFX's bytes, but x264 costs CPU and ~40-75 MiB per session.
  bool rdp_avc420 = true;
  // [rdp] pass_remotefx: send a RemoteFX client the target's own RemoteFX
  // messages (once the gateway decoded them cleanly) instead of re-encoding
  // the screen: about twice the pictures per second. false: the client never
  // gets a byte the target encoded.
  bool rdp_pass_remotefx = true;

  std::vector<UserConfig> users;
  std::vector<TargetConfig> targets;
  std::vector<GrantConfig> grants;
  std::vector<RuleConfig> rules;  // in file order
  std::optional<SiemConfig> siem;
  MaskingConfig masking;

  const UserConfig* findUser(std::string_view name) const;
  const TargetConfig* findTarget(std::string_view name) const;

  // Relative paths in the file are taken relative to the working directory
  // (scripts/run starts vigil from the repository root).
  static Config load(const std::string& path);
  static Config parse(const std::string& toml_text, const std::string& path_for_errors);
};

}  // namespace vigil
