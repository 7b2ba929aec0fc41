#include "storage/redis_client.h"

#include <pthread.h>
#include <sys/time.h>

#include <charconv>

namespace vigil::storage::redis {
namespace {

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int v = 0;
      auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec == std::errc() && p == s.data() + i + 3) {
        out.push_back(static_cast<char>(v));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

bool parseInt(std::string_view s, int& out, int lo, int hi) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

Status bad(std::string_view url, std::string_view why) {
  // The URL may hold a password: name the problem, not the URL.
  (void)url;
  return Status::Error("bad [redis] url: " + std::string(why) +
                       " (expected redis://[:password@]host:port/db or unix:///path.sock?db=N)");
}

}  // namespace

std::string Url::where() const {
  if (is_unix) return path;
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Url> parseUrl(std::string_view url) {
  Url u;
  auto query = [&](std::string_view q) -> Status {
    while (!q.empty()) {
      const std::size_t amp = q.find('&');
      std::string_view kv = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      const std::size_t eq = kv.find('=');
      std::string_view k = kv.substr(0, eq);
      std::string_view v = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
      if (k == "db") {
        if (!parseInt(v, u.db, 0, 1 << 20)) return bad(url, "db must be a number");
      } else if (k == "password") {
        u.password = percentDecode(v);
      } else {
        return bad(url, "unknown option '" + std::string(k) + "'");
      }
    }
    return Status::Ok();
  };
  if (url.starts_with("unix://")) {
    u.is_unix = true;
    std::string_view rest = url.substr(7);
    const std::size_t qm = rest.find('?');
    u.path = std::string(rest.substr(0, qm));
    if (u.path.empty() || u.path[0] != '/') return bad(url, "unix socket path must be absolute");
    if (qm != std::string_view::npos)
      if (Status st = query(rest.substr(qm + 1)); !st.ok()) return st;
    return u;
  }
  if (url.starts_with("rediss://")) return bad(url, "TLS (rediss://) is not supported");
  if (!url.starts_with("redis://")) return bad(url, "unknown scheme");
  std::string_view rest = url.substr(8);
  const std::size_t qm = rest.find('?');
  if (qm != std::string_view::npos) {
    if (Status st = query(rest.substr(qm + 1)); !st.ok()) return st;
    rest = rest.substr(0, qm);
  }
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos && slash + 1 < rest.size())
    if (!parseInt(rest.substr(slash + 1), u.db, 0, 1 << 20)) return bad(url, "db must be a number");
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    // Only the password part is used (AUTH password); a user name is ignored.
    u.password = percentDecode(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(url, "unclosed [ in host");
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad(url, "junk after ]");
      port = authority.substr(close + 2);
    }
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (!host.empty()) u.host = std::string(host);
  if (!port.empty() && !parseInt(port, u.port, 1, 65535)) return bad(url, "port must be 1..65535");
  return u;
}

Result<ContextPtr> open(const Url& url) {
  const timeval tv = toTimeval(kConnectTimeout);
  ContextPtr c(url.is_unix ? redisConnectUnixWithTimeout(url.path.c_str(), tv)
                           : redisConnectWithTimeout(url.host.c_str(), url.port, tv));
  if (!c) return Status::Error("cannot allocate a Redis connection");
  if (c->err)
    return Status::Error("cannot reach Redis at " + url.where() + ": " + c->errstr +
                         " — is redis-server running? see [redis] url");
  if (redisSetTimeout(c.get(), toTimeval(kCommandTimeout)) != REDIS_OK)
    return Status::Error("cannot set a timeout on the Redis connection to " + url.where());
  if (!url.is_unix) redisEnableKeepAlive(c.get());
  std::vector<Command> hello;
  if (!url.password.empty()) hello.push_back({"AUTH", url.password});
  if (url.db != 0) hello.push_back({"SELECT", std::to_string(url.db)});
  if (!hello.empty()) {
    auto replies = pipeline(c.get(), url, hello);
    if (!replies) return replies.status();
    for (std::size_t i = 0; i < replies->size(); ++i) {
      const redisReply* r = (*replies)[i].get();
      if (r->type != REDIS_REPLY_ERROR) continue;
      if (hello[i][0] == "AUTH")
        return Status::Error("Redis at " + url.where() + " refused the password (" +
                             std::string(text(r)) + ") — check the password in [redis] url");
      return Status::Error("Redis at " + url.where() + " refused SELECT " + std::to_string(url.db) +
                           " (" + std::string(text(r)) + ") — check the db in [redis] url");
    }
  }
  return c;
}

SigpipeGuard::SigpipeGuard() {
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigpending(&pending);
  pending_before_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe, &old_);
}

SigpipeGuard::~SigpipeGuard() {
  if (!pending_before_) {
    sigset_t pipe, pending;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{};
      sigtimedwait(&pipe, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

Result<std::vector<ReplyPtr>> pipeline(redisContext* ctx, const Url& url,
                                       const std::vector<Command>& cmds) {
  SigpipeGuard no_sigpipe;
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const Command& cmd : cmds) {
    argv.clear();
    lens.clear();
    for (const std::string& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK)
      return Status::Error("cannot queue a Redis command: " + std::string(ctx->errstr));
  }
  std::vector<ReplyPtr> out;
  out.reserve(cmds.size());
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr) {
      const std::string err = ctx->errstr[0] ? ctx->errstr : "no reply";
      const bool timeout = err.find("temporarily unavailable") != std::string::npos ||
                           err.find("timed out") != std::string::npos;
      return Status::Error("Redis at " + url.where() + ": " +
                           (timeout ? "no answer within " +
                                          std::to_string(kCommandTimeout.count() / 1000) + " s"
                                    : "connection lost (" + err + ")") +
                           " — is redis-server running? see [redis] url");
    }
    out.emplace_back(static_cast<redisReply*>(raw));
  }
  return out;
}

std::string_view text(const redisReply* r) {
  if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
            r->type == REDIS_REPLY_ERROR))
    return {r->str, r->len};
  return {};
}

bool isNil(const redisReply* r) { return r == nullptr || r->type == REDIS_REPLY_NIL; }

Status replyStatus(const redisReply* r, std::string_view what) {
  if (r && r->type == REDIS_REPLY_ERROR)
    return Status::Error("Redis refused " + std::string(what) + ": " + std::string(text(r)));
  return Status::Ok();
}

Result<std::vector<ReplyPtr>> Pool::run(const std::vector<Command>& cmds) {
  for (int attempt = 0;; ++attempt) {
    ContextPtr c;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        c = std::move(idle_.back());
        idle_.pop_back();
      }
    }
    const bool pooled = c != nullptr;
    if (!c) {
      auto opened = open(url_);
      if (!opened) return opened.status();
      c = std::move(*opened);
    }
    auto replies = pipeline(c.get(), url_, cmds);
    if (replies) {
      std::lock_guard lock(mu_);
      if (idle_.size() < max_idle_) idle_.push_back(std::move(c));
      return replies;
    }
    // A pooled connection may be stale (server restarted): retry once fresh.
    if (!pooled || attempt > 0) return replies.status();
    std::lock_guard lock(mu_);
    idle_.clear();
  }
}

Command eval(std::string_view script, const std::vector<std::string>& args) {
  Command c;
  c.reserve(args.size() + 3);
  c.emplace_back("EVAL");
  c.emplace_back(script);
  c.emplace_back("0");
  c.insert(c.end(), args.begin(), args.end());
  return c;
}

}  // namespace vigil::storage::redis
