// hiredis behind owners, a URL parser and a small connection pool. Internal
// to vigil_storage (RedisStore, ControlBus): hiredis stays out of public headers.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "storage/redis_url.h"

namespace vigil::storage::redis {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

inline constexpr std::chrono::milliseconds kConnectTimeout{2000};
inline constexpr std::chrono::milliseconds kCommandTimeout{5000};

using Command = std::vector<std::string>;

// Opens a connection (connect timeout 2 s, command timeout 5 s), sends AUTH
// (or, without a password, a PING, so that a server that wants one is an
// error here) and SELECT. The error says what to check and never holds the
// password.
Result<ContextPtr> open(const Url& url);

// Sends all commands in one write and reads every reply (pipelining). A
// connection-level failure is an error; a command's own error comes back as
// a REDIS_REPLY_ERROR reply. `ctx` must not be used again after an error.
Result<std::vector<ReplyPtr>> pipeline(redisContext* ctx, const Url& url,
                                       const std::vector<Command>& cmds);

// Blocks SIGPIPE on this thread for its lifetime and swallows one raised
// meanwhile: a write to a server that just went away must be an error value,
// not the death of the process (hiredis uses plain write()).
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool pending_before_ = false;
};

// A reply's text for REDIS_REPLY_STRING/STATUS/ERROR; empty otherwise.
std::string_view text(const redisReply* r);
bool isNil(const redisReply* r);
// An error Status when `r` is an error reply, naming `what` was attempted.
Status replyStatus(const redisReply* r, std::string_view what);

// A few connections shared by threads. run() borrows one, pipelines, and on a
// connection failure drops it and tries once more on a fresh one (a pooled
// connection may have died with a server restart). Thread-safe.
class Pool {
 public:
  explicit Pool(Url url, std::size_t max_idle = 8) : url_(std::move(url)), max_idle_(max_idle) {}
  Result<std::vector<ReplyPtr>> run(const std::vector<Command>& cmds);
  const Url& url() const { return url_; }

 private:
  Url url_;
  std::size_t max_idle_;
  std::mutex mu_;
  std::vector<ContextPtr> idle_;
};

// EVAL of a Lua script. Always EVAL (not EVALSHA): the body is small, the
// server caches it by hash, and a restarted server needs no reload step.
Command eval(std::string_view script, const std::vector<std::string>& args);

}  // namespace vigil::storage::redis
