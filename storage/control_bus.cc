#include "storage/control_bus.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/thread_name.h"
#include "storage/redis_client.h"

namespace vigil::storage {
namespace {

const std::string kChannel = "vigil:control";
constexpr std::size_t kMaxMessageBytes = 64 * 1024;
std::string nodeKey(const std::string& node) { return "vigil:node:" + node; }

}  // namespace

ControlBus::ControlBus(std::unique_ptr<redis::Url> url)
    : url_(std::move(url)), pool_(std::make_unique<redis::Pool>(*url_, 2)) {}

ControlBus::~ControlBus() { stop(); }

Result<std::unique_ptr<ControlBus>> ControlBus::connect(const std::string& url) {
  auto parsed = redis::parseUrl(url);
  if (!parsed) return parsed.status();
  std::unique_ptr<ControlBus> bus(new ControlBus(std::make_unique<redis::Url>(*parsed)));
  auto r = bus->pool_->run({{"PING"}});
  if (!r) return r.status();
  return bus;
}

Status ControlBus::publishTerminate(const std::string& session_id, const std::string& by) {
  const nlohmann::json j = {{"op", "terminate"}, {"session", session_id}, {"by", by}};
  auto r = pool_->run(
      {{"PUBLISH", kChannel, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)}});
  if (!r) return r.status();
  const redisReply* rep = (*r)[0].get();
  if (Status st = redis::replyStatus(rep, "PUBLISH"); !st.ok()) return st;
  if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 0)
    return Status::Error("no gateway node is listening on Redis at " + url_->where() +
                         " — is `vigil serve` running with the same [redis] url?");
  return Status::Ok();
}

void ControlBus::onTerminate(TerminateHandler handler) {
  std::lock_guard lock(handler_mu_);
  handler_ = std::move(handler);
}

void ControlBus::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void ControlBus::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  subscribed_ = false;
}

Status ControlBus::heartbeat(const std::string& node, int ttl_s) {
  if (node.empty() || ttl_s <= 0) return Status::Error("heartbeat needs a node name and a ttl > 0");
  auto r = pool_->run({{"SET", nodeKey(node), std::to_string(epochNowMs()), "EX", std::to_string(ttl_s)}});
  if (!r) return r.status();
  return redis::replyStatus((*r)[0].get(), "node heartbeat");
}

Result<bool> ControlBus::nodeAlive(const std::string& node) {
  auto r = pool_->run({{"EXISTS", nodeKey(node)}});
  if (!r) return r.status();
  const redisReply* rep = (*r)[0].get();
  if (Status st = redis::replyStatus(rep, "node liveness"); !st.ok()) return st;
  return rep->type == REDIS_REPLY_INTEGER && rep->integer > 0;
}

void ControlBus::run() {
  nameThisThread("control");
  std::chrono::milliseconds backoff{100};
  while (!stop_) {
    const auto began = std::chrono::steady_clock::now();
    subscribeOnce();
    subscribed_ = false;
    if (stop_) break;
    if (std::chrono::steady_clock::now() - began > std::chrono::seconds(10))
      backoff = std::chrono::milliseconds(100);  // it worked for a while: retry soon
    for (auto waited = std::chrono::milliseconds(0); waited < backoff && !stop_;
         waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

bool ControlBus::subscribeOnce() {
  auto opened = redis::open(*url_);
  if (!opened) {
    spdlog::debug("control bus: {}", opened.message());
    return true;
  }
  redisContext* c = opened->get();
  const char* argv[] = {"SUBSCRIBE", kChannel.c_str()};
  const size_t lens[] = {9, kChannel.size()};
  if (redisAppendCommandArgv(c, 2, argv, lens) != REDIS_OK) return true;
  {
    redis::SigpipeGuard no_sigpipe;
    for (int done = 0; !done;)
      if (redisBufferWrite(c, &done) != REDIS_OK) return true;
  }

  while (!stop_) {
    void* raw = nullptr;
    while (redisReaderGetReply(c->reader, &raw) == REDIS_OK && raw != nullptr) {
      redis::ReplyPtr reply(static_cast<redisReply*>(raw));
      raw = nullptr;
      const redisReply* r = reply.get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) continue;
      const std::string_view kind = redis::text(r->element[0]);
      if (kind == "subscribe") {
        if (!subscribed_) spdlog::debug("control bus subscribed at={}", url_->where());
        subscribed_ = true;
        continue;
      }
      if (kind != "message") continue;
      const std::string_view payload = redis::text(r->element[2]);
      if (payload.size() > kMaxMessageBytes) continue;
      auto j = nlohmann::json::parse(payload, nullptr, false);
      if (j.is_discarded() || !j.is_object() || j.value("op", "") != "terminate") continue;
      std::string session = j.value("session", "");
      std::string by = j.value("by", "");
      if (session.empty()) continue;
      spdlog::info("control bus terminate session={} by={}", session, by);
      TerminateHandler handler;
      {
        std::lock_guard lock(handler_mu_);
        handler = handler_;
      }
      if (handler) handler(std::move(session), std::move(by));
    }
    pollfd pfd{c->fd, POLLIN, 0};
    const int n = ::poll(&pfd, 1, 200);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return true;
    if (n == 0) continue;
    if (redisBufferRead(c) != REDIS_OK) {
      spdlog::warn("control bus lost Redis at {}: {}; reconnecting", url_->where(), c->errstr);
      return true;
    }
  }
  return false;
}

}  // namespace vigil::storage
