#include "storage/control_bus.h"

#include <poll.h>
#include <sodium.h>
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
constexpr std::size_t kNonceBytes = 16;
std::string nodeKey(const std::string& node) { return "vigil:node:" + node; }

std::string toHex(const unsigned char* data, std::size_t n) {
  std::string hex(n * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), data, n);
  hex.pop_back();
  return hex;
}

// HMAC-SHA256 over the channel and every field, each length-prefixed so that
// no two different messages share an input.
std::string mac(const BusKey& key, std::string_view op, std::string_view session,
                std::string_view by, EpochMillis ts, std::string_view nonce) {
  static_assert(crypto_auth_hmacsha256_KEYBYTES == std::tuple_size_v<BusKey>);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key.data(), key.size());
  const std::string ts_text = std::to_string(ts);
  for (std::string_view part : {std::string_view("vigil-control-v1"), std::string_view(kChannel), op,
                                session, by, std::string_view(ts_text), nonce}) {
    unsigned char len[4];
    const auto n = static_cast<std::uint32_t>(part.size());
    for (int i = 0; i < 4; ++i) len[i] = static_cast<unsigned char>(n >> (24 - 8 * i));
    crypto_auth_hmacsha256_update(&st, len, sizeof len);
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(part.data()),
                                  part.size());
  }
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
  return toHex(out, sizeof out);
}

}  // namespace

ControlBus::ControlBus(std::unique_ptr<redis::Url> url, const BusKey& key,
                       std::function<EpochMillis()> now)
    : url_(std::move(url)),
      key_(key),
      now_(std::move(now)),
      pool_(std::make_unique<redis::Pool>(*url_, 2)) {}

ControlBus::~ControlBus() {
  stop();
  sodium_memzero(key_.data(), key_.size());
}

EpochMillis ControlBus::now() const { return now_ ? now_() : epochNowMs(); }

Result<std::unique_ptr<ControlBus>> ControlBus::connect(const std::string& url, const BusKey& key,
                                                        std::function<EpochMillis()> now) {
  if (sodium_init() < 0) return Status::Error("libsodium failed to initialise");
  if (key == BusKey{}) return Status::Error("control bus: the key is all zero (not loaded?)");
  auto parsed = redis::parseUrl(url);
  if (!parsed) return parsed.status();
  std::unique_ptr<ControlBus> bus(
      new ControlBus(std::make_unique<redis::Url>(*parsed), key, std::move(now)));
  auto r = bus->pool_->run({{"PING"}});
  if (!r) return r.status();
  return bus;
}

Status ControlBus::publishTerminate(const std::string& session_id, const std::string& by) {
  unsigned char raw_nonce[kNonceBytes];
  randombytes_buf(raw_nonce, sizeof raw_nonce);
  const std::string nonce = toHex(raw_nonce, sizeof raw_nonce);
  const EpochMillis ts = now();
  const nlohmann::json j = {{"op", "terminate"}, {"session", session_id}, {"by", by},
                            {"ts", ts},          {"nonce", nonce},
                            {"mac", mac(key_, "terminate", session_id, by, ts, nonce)}};
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
      onMessage(redis::text(r->element[2]));
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

void ControlBus::drop(std::string_view why) {
  ++dropped_;
  spdlog::warn("event=control_message_dropped channel={} reason=\"{}\"", kChannel, why);
}

void ControlBus::onMessage(std::string_view payload) {
  if (payload.size() > kMaxMessageBytes) return drop("too large");
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return drop("not a JSON object");
  const auto field = [&](const char* name) -> std::string {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string op = field("op");
  std::string session = field("session");
  std::string by = field("by");
  const std::string nonce = field("nonce");
  const std::string got_mac = field("mac");
  const auto ts_it = j.find("ts");
  if (got_mac.empty() || nonce.empty() || ts_it == j.end() || !ts_it->is_number_integer())
    return drop("unauthenticated (no mac, ts or nonce): publish with `vigil terminate`");
  const auto ts = ts_it->get<EpochMillis>();
  const std::string want = mac(key_, op, session, by, ts, nonce);
  if (got_mac.size() != want.size() ||
      sodium_memcmp(got_mac.data(), want.data(), want.size()) != 0)
    return drop("bad mac: not signed with this deployment's gateway.key");
  // Authentic from here on: the fields can be named.
  const EpochMillis t = now();
  if (ts < t - kMaxMessageAgeMs || ts > t + kMaxMessageAgeMs)
    return drop("stale: its timestamp is " + std::to_string((ts > t ? ts - t : t - ts) / 1000) +
                " s " + (ts > t ? "ahead of" : "behind") +
                " this node's clock (limit 60 s; check the nodes' clocks) session=" + session);
  std::erase_if(seen_, [&](const auto& kv) { return kv.second < t - kMaxMessageAgeMs; });
  if (!seen_.emplace(nonce, ts).second) return drop("replayed nonce session=" + session);
  if (op != "terminate" || session.empty()) return drop("unknown op '" + op + "'");
  spdlog::info("control bus terminate session={} by={}", session, by);
  TerminateHandler handler;
  {
    std::lock_guard lock(handler_mu_);
    handler = handler_;
  }
  if (handler) handler(std::move(session), std::move(by));
}

}  // namespace vigil::storage
