// The HTTP/WebSocket API and web player of CONTRACT.md "HTTP API", served on
// `[web] listen` (TLS when web_tls_cert/web_tls_key are set). Boost.Beast on
// its own threads: nothing here runs on a relay thread, and live view reaches
// sessions only through Session::subscribe() sinks that never block.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "gateway/auth/access_codes.h"
#include "gateway/session_manager.h"
#include "storage/metadata_store.h"

namespace vigil::gateway::api {

// What the API needs from the rest of the gateway. The references must
// outlive the ApiServer. The functions are called on the API's worker
// threads, possibly concurrently.
struct ApiDeps {
  storage::MetadataStore& store;
  SessionManager& sessions;
  // Issues a one-time access code: bind auth::AccessCodes::issue (see
  // issueWith()). The API has already checked that user, target and a grant
  // for them exist in the Config.
  std::function<Result<auth::IssuedCode>(const std::string& user, const std::string& target,
                                         long long ttl_ms)>
      issue_code;
  // Checks a password against a config hash: pass &auth::verifyPassword.
  std::function<bool(const std::string& hash, const std::string& password)> verify_password;
  std::string recordings_dir;  // [recordings] dir; SessionRecord::video_path is relative to it
  std::string web_root;        // the web-player/ directory (index.html, login.html, js/, css/)
};

// Binds ApiDeps::issue_code to an AccessCodes (which must outlive the server).
inline auto issueWith(auth::AccessCodes& codes) {
  return [&codes](const std::string& user, const std::string& target, long long ttl_ms) {
    return codes.issue(user, target, ttl_ms);
  };
}

// Tunables; the defaults suit production. Tests shorten them.
struct ApiOptions {
  int io_threads = 2;      // network I/O
  int worker_threads = 4;  // request handlers (may block on Redis, argon2)
  std::chrono::seconds header_timeout{10};   // TLS handshake + a request's headers
  std::chrono::seconds keepalive_idle{5};    // an idle keep-alive connection is closed
  std::chrono::seconds request_timeout{30};  // a request's body / one write step
  std::chrono::seconds login_ttl{8 * 3600};  // a cookie session's lifetime
  std::chrono::seconds login_idle{30 * 60};  // ... and its idle limit
  int max_failures_per_user = 5;             // failed sign-ins of a user from one address
  int max_failures_per_address = 20;         // ... from an address, any user
  int max_failures_global = 300;             // ... everywhere, before failing addresses wait
  std::chrono::seconds throttle_window{300};
  // Repeated looks at one session (replay ranges, thumbnails) by one viewer:
  // one audit entry per interval plus a count of the rest.
  std::chrono::seconds view_audit_interval{300};
  int live_fps = 10;
  int jpeg_quality = 70;
  std::size_t max_connections = 512;
  std::size_t max_connections_per_address = 32;
};

class ApiServer {
 public:
  // Binds config.web_listen (port 0 picks a free port), loads the web-player
  // files, starts the threads. Fails with a message if the address is taken,
  // the TLS files cannot be read or web_root has no index.html. `config` must
  // outlive the server (users, roles and grants are read from it).
  static Result<std::unique_ptr<ApiServer>> start(const Config& config, ApiDeps deps,
                                                  ApiOptions options = {});
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  std::uint16_t port() const;  // the bound port
  bool tls() const;
  // Closes the listener and every connection (live views unsubscribe from
  // their sessions), joins the threads. Idempotent; any thread but the API's.
  void stop();

  class Impl;

 private:
  explicit ApiServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::gateway::api
