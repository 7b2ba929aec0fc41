// RedisStore connection handling, BatchedEventWriter and ControlBus against a
// real redis-server started here; the writer's failure handling on a fake.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "core/clock.h"
#include "storage/batched_event_writer.h"
#include "storage/control_bus.h"
#include "storage/memory_store.h"
#include "storage/redis_client.h"
#include "storage/redis_store.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;

using testing::eventually;

TEST(RedisUrl, Parses) {
  auto a = redis::parseUrl("redis://127.0.0.1:6380/3");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->is_unix);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 3);
  EXPECT_EQ(a->password, "");
  auto b = redis::parseUrl("redis://:s3cr%40t@redis.local/0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "redis.local");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->password, "s3cr@t");
  auto c = redis::parseUrl("unix:///run/redis/redis.sock?db=2");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->is_unix);
  EXPECT_EQ(c->path, "/run/redis/redis.sock");
  EXPECT_EQ(c->db, 2);
  auto d = redis::parseUrl("redis://[::1]:7000");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->host, "::1");
  EXPECT_EQ(d->port, 7000);
  EXPECT_FALSE(redis::parseUrl("http://x").ok());
  EXPECT_FALSE(redis::parseUrl("redis://h:99999/0").ok());
  EXPECT_FALSE(redis::parseUrl("redis://h:1/x").ok());
  EXPECT_FALSE(redis::parseUrl("unix://relative.sock").ok());
  auto bad = redis::parseUrl("redis://:topsecret@h:bad/0");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message().find("topsecret"), std::string::npos);
}

TEST(RedisStoreConnect, UnreachableServerSaysWhatToDo) {
  const int port = RedisServer::freePort();
  const auto began = std::chrono::steady_clock::now();
  auto s = RedisStore::connect("redis://127.0.0.1:" + std::to_string(port) + "/0");
  ASSERT_FALSE(s.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_NE(s.message().find("cannot reach Redis at 127.0.0.1:" + std::to_string(port)),
            std::string::npos) << s.message();
  EXPECT_NE(s.message().find("is redis-server running? see [redis] url"), std::string::npos);
}

TEST(RedisStoreConnect, TcpWithPasswordAndDb) {
  const int port = RedisServer::freePort();
  RedisServer server(port, {"--requirepass", "pw-42"});
  ASSERT_EQ(server.start(), "");
  const std::string base = "redis://:pw-42@127.0.0.1:" + std::to_string(port);
  auto s = RedisStore::connect(base + "/2");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE((*s)->appendAudit({1, "a", "view", "x", ""}).ok());
  auto wrong = RedisStore::connect("redis://:nope@127.0.0.1:" + std::to_string(port) + "/0");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("refused the password"), std::string::npos) << wrong.message();
  EXPECT_EQ(wrong.message().find("nope"), std::string::npos);
  // db 2 was used, db 0 is empty.
  auto db0 = RedisStore::connect(base + "/0");
  ASSERT_TRUE(db0.ok());
  EXPECT_TRUE((*db0)->audit(10)->empty());
  EXPECT_EQ((*s)->audit(10)->size(), 1u);
}

TEST(RedisStoreConnect, ReconnectsAfterServerRestart) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto s = RedisStore::connect(server.url());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->appendAudit({1, "a", "view", "x", ""}).ok());
  server.shutdownSave();
  Status down = (*s)->ping();
  EXPECT_FALSE(down.ok());
  EXPECT_NE(down.message().find(server.socketPath()), std::string::npos) << down.message();
  ASSERT_EQ(server.start(), "");
  EXPECT_TRUE((*s)->ping().ok());
  EXPECT_EQ((*s)->audit(10)->size(), 1u);
}

Event keyEvent(Millis t, std::string text) { return {t, EventKind::Key, std::move(text), ""}; }

TEST(BatchedEventWriter, EventsSearchableWithinTwoSeconds) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto store = RedisStore::connect(server.url());
  ASSERT_TRUE(store.ok());
  SessionRecord rec;
  rec.id = "w1";
  rec.user = "alice";
  rec.target = "dc01";
  rec.state = "live";
  rec.started_at = epochNowMs();
  ASSERT_TRUE((*store)->putSession(rec).ok());
  BatchedEventWriter writer(**store, "w1");
  const auto began = std::chrono::steady_clock::now();
  writer.onEvent(keyEvent(10, "whoami /priv"));
  ASSERT_TRUE(eventually([&] {
    auto hits = (*store)->search("whoami", {});
    return hits.ok() && hits->size() == 1;
  }, 5s));
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_LT(took, 2s);
  std::printf("event searchable after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  // A burst larger than the batch trigger, all kept in order.
  for (int i = 0; i < 5000; ++i) writer.onEvent(keyEvent(100 + i, "line " + std::to_string(i)));
  ASSERT_TRUE(writer.flush().ok());
  auto evs = (*store)->events("w1", {});
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->size(), 5001u);
  EXPECT_EQ(evs->back().text, "line 4999");
  EXPECT_TRUE(writer.close().ok());
  EXPECT_TRUE(writer.healthy());
}

TEST(BatchedEventWriter, SurvivesRedisRestartWithoutLosingEvents) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto store = RedisStore::connect(server.url());
  ASSERT_TRUE(store.ok());
  BatchedEventWriterOptions opt;
  opt.max_backoff = 200ms;
  BatchedEventWriter writer(**store, "r1", opt);
  for (int i = 0; i < 100; ++i) writer.onEvent(keyEvent(i, "before " + std::to_string(i)));
  ASSERT_TRUE(writer.flush().ok());
  server.shutdownSave();
  for (int i = 100; i < 200; ++i) writer.onEvent(keyEvent(i, "during " + std::to_string(i)));
  Status st = writer.flush(600ms);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not stored yet"), std::string::npos) << st.message();
  EXPECT_EQ(writer.pending(), 100u);
  ASSERT_EQ(server.start(), "");
  for (int i = 200; i < 300; ++i) writer.onEvent(keyEvent(i, "after " + std::to_string(i)));
  ASSERT_TRUE(writer.flush(10s).ok());
  auto evs = (*store)->events("r1", {});
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ((*evs)[i].t_ms, i);
  auto hits = (*store)->search("during", SessionFilter{.limit = 1000});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 100u);
  EXPECT_TRUE(writer.close().ok());
}

// A store whose appends (the writer's appendEventsAt) fail while `down` is set.
class FlakyStore : public MemoryStore {
 public:
  std::atomic<bool> down{false};
  Status appendEventsAt(const std::string& id, std::uint64_t first_seq,
                        const std::vector<Event>& evs) override {
    if (down) return Status::Error("store is down");
    return MemoryStore::appendEventsAt(id, first_seq, evs);
  }
};

TEST(BatchedEventWriter, ReportsUnhealthyWhenTooMuchIsStuckAndRecovers) {
  FlakyStore store;
  store.down = true;
  BatchedEventWriterOptions opt;
  opt.unhealthy_backlog = 50;
  opt.max_backoff = 50ms;
  BatchedEventWriter writer(store, "f1", opt);
  for (int i = 0; i < 40; ++i) writer.onEvent(keyEvent(i, "x"));
  EXPECT_FALSE(writer.flush(300ms).ok());
  EXPECT_TRUE(writer.healthy());
  for (int i = 40; i < 60; ++i) writer.onEvent(keyEvent(i, "x"));
  EXPECT_TRUE(eventually([&] { return !writer.healthy(); }, 5s));
  store.down = false;
  ASSERT_TRUE(writer.flush(10s).ok());
  EXPECT_TRUE(writer.healthy());
  EXPECT_EQ(writer.stored(), 60u);
  EXPECT_EQ(store.events("f1", {})->size(), 60u);
}


// How many times the server ran EVAL (INFO commandstats), or -1.
long long evalCalls(const RedisServer& server) {
  const std::string info = server.command("INFO", "commandstats");
  const auto at = info.find("cmdstat_eval:calls=");
  if (at == std::string::npos) return -1;
  return std::strtoll(info.c_str() + at + 19, nullptr, 10);
}

// Issue 15: after a Redis stall longer than the 5 s command timeout, the
// writer's retries stored 12 typed lines as 41 events. A stalled server
// still runs the writes it was sent, after the client gave up on them; the
// retries must not store those events again, nor index them twice.
TEST(BatchedEventWriter, StoresEachEventOnceAcrossARedisStall) {
  RedisServer server(0, {"--enable-debug-command", "local"});  // Redis 7 disables DEBUG by default
  ASSERT_EQ(server.start(), "");
  auto store = RedisStore::connect(server.url());
  ASSERT_TRUE(store.ok()) << store.message();
  SessionRecord rec;
  rec.id = "stall1";
  rec.user = "alice";
  rec.target = "dc01";
  rec.state = "live";
  rec.started_at = epochNowMs();
  ASSERT_TRUE((*store)->putSession(rec).ok());
  BatchedEventWriterOptions opt;
  opt.flush_interval = 50ms;
  BatchedEventWriter writer(**store, rec.id, opt);
  auto line = [](int i) { return keyEvent(1000 * i, "typed line" + std::to_string(i) + " whoami"); };
  for (int i = 0; i < 4; ++i) writer.onEvent(line(i));
  ASSERT_TRUE(writer.flush().ok());
  const long long evals_before = evalCalls(server);

  // The stall: DEBUG SLEEP blocks the whole server for 10 s.
  std::thread staller([&server] {
    timeval tv{30, 0};
    redisContext* c = redisConnectUnixWithTimeout(server.socketPath().c_str(), tv);
    if (!c || c->err) {
      if (c) redisFree(c);
      return;
    }
    redisSetTimeout(c, tv);
    if (auto* r = static_cast<redisReply*>(redisCommand(c, "DEBUG SLEEP 10"))) freeReplyObject(r);
    redisFree(c);
  });
  const auto stall_began = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually([&] { return server.command("PING") != "PONG"; }, 5s));
  // Written as the stall begins: their write times out, then the pool's
  // retry on a fresh connection too; the server runs both when it wakes.
  for (int i = 4; i < 8; ++i) writer.onEvent(line(i));
  EXPECT_FALSE(writer.flush(1s).ok());
  std::this_thread::sleep_until(stall_began + 6s);
  for (int i = 8; i < 10; ++i) writer.onEvent(line(i));  // during the retry
  staller.join();
  for (int i = 10; i < 12; ++i) writer.onEvent(line(i));
  Status flushed = writer.flush(30s);
  ASSERT_TRUE(flushed.ok()) << flushed.message();
  EXPECT_TRUE(writer.healthy());
  EXPECT_EQ(writer.stored(), 12u);

  auto evs = (*store)->events(rec.id, {});
  ASSERT_TRUE(evs.ok()) << evs.message();
  const long long evals = evalCalls(server) - evals_before;
  std::printf("stall: 12 events written, %zu stored, %lld append scripts run by the server\n",
              evs->size(), evals);
  ASSERT_EQ(evs->size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ((*evs)[i], line(i)) << i;
  // The stalled write and its retries all reached the server: more scripts
  // ran than batches were needed, and the extra ones stored nothing.
  EXPECT_GE(evals, 2);
  auto hits = (*store)->search("whoami", SessionFilter{.limit = 1000});
  ASSERT_TRUE(hits.ok()) << hits.message();
  ASSERT_EQ(hits->size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ((*hits)[i].event.text, line(i).text);
  auto one = (*store)->search("line7", {});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  EXPECT_TRUE(writer.close().ok());
}

// Redis hangs (SIGSTOP) past `unhealthy_after`: the writer reports unhealthy
// while its call is still blocked, so the session ends (fail closed); when
// Redis comes back, everything is stored once and the writer is healthy.
TEST(BatchedEventWriter, UnhealthyWhenRedisHangsPastTheBound) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto store = RedisStore::connect(server.url());
  ASSERT_TRUE(store.ok()) << store.message();
  BatchedEventWriterOptions opt;
  opt.flush_interval = 50ms;
  opt.unhealthy_after = 2s;
  BatchedEventWriter writer(**store, "hang1", opt);
  for (int i = 0; i < 3; ++i) writer.onEvent(keyEvent(i, "before " + std::to_string(i)));
  ASSERT_TRUE(writer.flush().ok());
  ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0);
  struct Resume {
    pid_t pid;
    ~Resume() { ::kill(pid, SIGCONT); }
  } resume{server.pid()};
  const auto stopped = std::chrono::steady_clock::now();
  for (int i = 3; i < 6; ++i) writer.onEvent(keyEvent(i, "during " + std::to_string(i)));
  EXPECT_TRUE(writer.healthy());
  ASSERT_TRUE(eventually([&] { return !writer.healthy(); }, 10s));
  const auto took = std::chrono::steady_clock::now() - stopped;
  EXPECT_GE(took, 1900ms);
  std::printf("unhealthy %lld ms after Redis hung (bound 2000 ms)\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  // Still unhealthy a while later: Redis is still down.
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(writer.healthy());
  ::kill(server.pid(), SIGCONT);
  Status flushed = writer.flush(30s);
  ASSERT_TRUE(flushed.ok()) << flushed.message();
  EXPECT_TRUE(writer.healthy());
  auto evs = (*store)->events("hang1", {});
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ((*evs)[i].t_ms, i);
}

// A failing store (not a hang) past the bound: unhealthy, with a small backlog.
TEST(BatchedEventWriter, UnhealthyWhenStoreFailsPastTheBound) {
  FlakyStore store;
  BatchedEventWriterOptions opt;
  opt.unhealthy_after = 500ms;
  opt.max_backoff = 50ms;
  BatchedEventWriter writer(store, "f3", opt);
  store.down = true;
  writer.onEvent(keyEvent(1, "x"));
  EXPECT_TRUE(writer.healthy());
  ASSERT_TRUE(eventually([&] { return !writer.healthy(); }, 5s));
  store.down = false;
  ASSERT_TRUE(writer.flush(5s).ok());
  EXPECT_TRUE(writer.healthy());
  EXPECT_EQ(store.events("f3", {})->size(), 1u);
}

TEST(BatchedEventWriter, CloseTimesOutWhenStoreStaysDown) {
  FlakyStore store;
  store.down = true;
  BatchedEventWriter writer(store, "f2");
  writer.onEvent(keyEvent(1, "x"));
  const auto began = std::chrono::steady_clock::now();
  Status st = writer.close(300ms);
  EXPECT_FALSE(st.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - began, 5s);
  EXPECT_NE(st.message().find("1 events of session f2"), std::string::npos) << st.message();
  EXPECT_TRUE(writer.close().ok());  // idempotent
}

TEST(BatchedEventWriter, ManyThreadsNothingLost) {
  MemoryStore store;
  BatchedEventWriter writer(store, "t1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&writer, t] {
      for (int i = 0; i < 2500; ++i) writer.onEvent(keyEvent(t * 10000 + i, "x"));
    });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(writer.close().ok());
  EXPECT_EQ(store.events("t1", {})->size(), 10000u);
}

const BusKey kBusKey = [] {
  BusKey k{};
  k.fill(7);
  return k;
}();

TEST(ControlBus, TerminateReachesSubscriber) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto listener = ControlBus::connect(server.url(), kBusKey);
  ASSERT_TRUE(listener.ok()) << listener.message();
  auto sender = ControlBus::connect(server.url(), kBusKey);
  ASSERT_TRUE(sender.ok());
  // Nobody subscribed yet: the sender learns it.
  Status none = (*sender)->publishTerminate("s1", "alice");
  EXPECT_FALSE(none.ok());
  EXPECT_NE(none.message().find("no gateway node is listening"), std::string::npos);

  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;
  (*listener)->onTerminate([&](std::string id, std::string by) {
    std::lock_guard lock(mu);
    got.emplace_back(std::move(id), std::move(by));
  });
  (*listener)->start();
  ASSERT_TRUE(eventually([&] { return (*listener)->subscribed(); }));
  ASSERT_TRUE((*sender)->publishTerminate("s1", "alice").ok());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return got.size() == 1;
  }));
  EXPECT_EQ(got[0].first, "s1");
  EXPECT_EQ(got[0].second, "alice");

  // The subscriber comes back after a server restart.
  server.kill();
  ASSERT_EQ(server.start(), "");
  ASSERT_TRUE(eventually([&] { return (*sender)->publishTerminate("s2", "bob").ok(); }, 15s));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return got.size() == 2;
  }));
  EXPECT_EQ(got[1].first, "s2");
  (*listener)->stop();
  EXPECT_FALSE((*listener)->subscribed());
}

TEST(ControlBus, NodeLiveness) {
  RedisServer server;
  ASSERT_EQ(server.start(), "");
  auto bus = ControlBus::connect(server.url(), kBusKey);
  ASSERT_TRUE(bus.ok());
  EXPECT_FALSE(*(*bus)->nodeAlive("node-a"));
  ASSERT_TRUE((*bus)->heartbeat("node-a", 1).ok());
  EXPECT_TRUE(*(*bus)->nodeAlive("node-a"));
  EXPECT_FALSE(*(*bus)->nodeAlive("node-b"));
  EXPECT_TRUE(eventually([&] { return !*(*bus)->nodeAlive("node-a"); }, 5s));
  EXPECT_FALSE((*bus)->heartbeat("node-a", 0).ok());
}

}  // namespace
}  // namespace vigil::storage

namespace vigil::storage {
namespace {

// The Redis index (candidate sessions from word sets, per-session postings)
// must find exactly what the reference MemoryStore finds by matching every
// event: rare and common words, prefix families, punctuated tokens, phrases,
// filters and limits, over sessions the generator makes both dense and
// sparse in each word.
TEST(SearchParity, RedisFindsExactlyWhatTheReferenceFinds) {
  RedisServer server;
  const std::string err = server.start();
  ASSERT_EQ(err, "") << err;
  auto redis = RedisStore::connect(server.url());
  ASSERT_TRUE(redis.ok()) << redis.message();
  MemoryStore memory;
  std::mt19937 rng(20261123);
  auto pick = [&rng](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> common = {"whoami", "ipconfig /all", "net user", "netstat -ano",
                                           "cd C:\\Windows\\System32", "Command Prompt", "restart"};
  const std::vector<std::string> rare = {"payroll_1.csv", "payroll_17.csv", "payroll_170.xlsx",
                                         "ssh srv-12", "ssh srv-123", "ping srv-1234", "kilo",
                                         "net user bob /add", "users", "echo kilo restart"};
  const EpochMillis t0 = 1790000000000;
  for (int i = 0; i < 120; ++i) {
    SessionRecord s;
    s.id = "p" + std::to_string(1000 + i);
    s.user = "u" + std::to_string(i % 4);
    s.target = "t" + std::to_string(i % 3);
    s.protocol = "rdp";
    s.state = i % 5 == 0 ? "live" : "ended";
    s.started_at = t0 + static_cast<EpochMillis>(rng() % 100000) * 1000;  // ties are possible
    ASSERT_TRUE(redis.value()->putSession(s).ok());
    ASSERT_TRUE(memory.putSession(s).ok());
    std::vector<Event> evs;
    const int n = 3 + static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) {
      const EventKind kind = rng() % 10 == 0 ? EventKind::Lifecycle
                             : rng() % 4 == 0 ? EventKind::Title
                                              : EventKind::Key;
      std::string text = pick(common);
      if (rng() % 6 == 0) text += " " + pick(rare);
      if (i % 17 == 0 && rng() % 3 == 0) text = pick(rare);  // a few sessions dense in rare words
      evs.push_back({static_cast<Millis>(k * 1000 + static_cast<int>(rng() % 900)), kind, text, ""});
    }
    ASSERT_TRUE(redis.value()->appendEvents(s.id, evs).ok());
    ASSERT_TRUE(memory.appendEvents(s.id, evs).ok());
  }
  const std::vector<std::string> queries = {
      "whoami", "payroll_17", "payroll_1", "payroll", "srv-123", "srv-12", "srv", "kilo restart",
      "kilo", "net user /add", "ipconfig whoami", "\"command prompt\"", "C:\\Windows\\sys",
      "users", "user", "netstat restart", "\"kilo restart\"", "bob", "zzz-not-there", "1234"};
  std::vector<SessionFilter> filters(6);
  filters[0].limit = 1000;
  filters[1].limit = 7;
  filters[2].user = "u1";
  filters[2].limit = 1000;
  filters[3].target = "t2";
  filters[3].state = "ended";
  filters[3].limit = 1000;
  filters[4].from = t0 + 30000000;
  filters[4].to = t0 + 70000000;
  filters[4].limit = 1000;
  filters[5].limit = 1;
  int compared = 0;
  for (const std::string& q : queries) {
    for (std::size_t fi = 0; fi < filters.size(); ++fi) {
      SCOPED_TRACE("query " + q + " filter " + std::to_string(fi));
      auto want = memory.search(q, filters[fi]);
      auto got = redis.value()->search(q, filters[fi]);
      ASSERT_TRUE(want.ok()) << want.message();
      ASSERT_TRUE(got.ok()) << got.message();
      ASSERT_EQ(got->size(), want->size());
      for (std::size_t h = 0; h < want->size(); ++h) {
        EXPECT_EQ((*got)[h].session_id, (*want)[h].session_id) << h;
        EXPECT_EQ((*got)[h].event.t_ms, (*want)[h].event.t_ms) << h;
        EXPECT_EQ((*got)[h].event.text, (*want)[h].event.text) << h;
      }
      compared += static_cast<int>(want->size());
    }
  }
  EXPECT_GT(compared, 2000);  // the queries do find things
}

}  // namespace
}  // namespace vigil::storage
