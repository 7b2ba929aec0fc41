#include "storage/redis_client.h"

#include <pthread.h>
#include <sys/time.h>

namespace vigil::storage::redis {
namespace {

timeval toTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

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
  if (url.password.empty())
    hello.push_back({"PING"});
  else if (url.user.empty())
    hello.push_back({"AUTH", url.password});
  else
    hello.push_back({"AUTH", url.user, url.password});
  if (url.db != 0) hello.push_back({"SELECT", std::to_string(url.db)});
  auto replies = pipeline(c.get(), url, hello);
  if (!replies) return replies.status();
  for (std::size_t i = 0; i < replies->size(); ++i) {
    const redisReply* r = (*replies)[i].get();
    if (r->type != REDIS_REPLY_ERROR) continue;
    // Redis's own error texts never echo the password; ours name the user only.
    const std::string why(text(r));
    if (hello[i][0] == "PING" && why.starts_with("NOAUTH"))
      return Status::Error("Redis at " + url.where() +
                           " wants a password and [redis] url has none (" + why +
                           ") — write it as redis://:PASSWORD@host:port/db");
    if (hello[i][0] == "AUTH")
      return Status::Error("Redis at " + url.where() + " refused the password" +
                           (url.user.empty() ? std::string() : " of user " + url.user) + " (" + why +
                           ") — check the password in [redis] url");
    if (hello[i][0] == "PING") continue;  // another error: let the first real command say it
    return Status::Error("Redis at " + url.where() + " refused SELECT " + std::to_string(url.db) +
                         " (" + why + ") — check the db in [redis] url");
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
