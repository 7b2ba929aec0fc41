// Redis connection URLs: parsing, and a form safe to log. Public (no
// hiredis): `vigil serve` logs the redacted URL.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace vigil::storage::redis {

// redis://[[user]:password@]host[:port][/db]  (user: a Redis 6 ACL user;
// "redis://secret@host" means the password "secret")  or
// unix:///path/to.sock[?db=N][&user=U][&password=P]. Percent-escapes are
// decoded in the user and password.
struct Url {
  bool is_unix = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string path;      // unix socket
  int db = 0;
  std::string user;      // empty: AUTH password (the "default" user)
  std::string password;  // never logged
  std::string where() const;  // "127.0.0.1:6379" or the socket path, for messages
};
Result<Url> parseUrl(std::string_view url);

// `url` with its password replaced by "***", for logs and messages; the rest
// as written. Works on malformed URLs too (anything between "://" and the
// last '@' of the authority, and a password= option, are hidden).
std::string redactUrl(std::string_view url);

}  // namespace vigil::storage::redis
