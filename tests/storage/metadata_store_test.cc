// MetadataStore conformance: the same tests against MemoryStore and against
// RedisStore on a real redis-server started by the test.
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "core/clock.h"
#include "storage/memory_store.h"
#include "storage/redis_store.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

using testing::RedisServer;

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryStore>();
      return;
    }
    server_ = std::make_unique<RedisServer>();
    const std::string err = server_->start();
    ASSERT_EQ(err, "") << err;
    auto s = RedisStore::connect(server_->url());
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(*s);
  }

  SessionRecord session(const std::string& id, const std::string& user, const std::string& target,
                        EpochMillis started, const std::string& state = "ended") {
    SessionRecord s;
    s.id = id;
    s.user = user;
    s.target = target;
    s.protocol = "rdp";
    s.state = state;
    s.started_at = started;
    s.ended_at = state == "ended" ? started + 60000 : 0;
    s.width = 1280;
    s.height = 800;
    s.video_bytes = 12345;
    s.end_reason = state == "ended" ? "client disconnected" : "";
    s.node = "node-a";
    s.client_addr = "10.1.1.1:5555";
    s.video_path = id + ".mp4";
    EXPECT_TRUE(store_->putSession(s).ok());
    return s;
  }

  void events(const std::string& sid, std::vector<Event> evs) {
    Status st = store_->appendEvents(sid, evs);
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::vector<SearchHit> search(const std::string& q, SessionFilter f = {}) {
    auto r = store_->search(q, f);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() ? *r : std::vector<SearchHit>{};
  }

  static std::vector<std::string> ids(const std::vector<SessionRecord>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(s.id);
    return out;
  }
  static std::vector<std::string> texts(const std::vector<SearchHit>& v) {
    std::vector<std::string> out;
    for (const auto& h : v) out.push_back(h.session_id + "|" + h.event.text);
    return out;
  }

  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<MetadataStore> store_;
};

const EpochMillis T0 = 1'800'000'000'000;

TEST_P(StoreTest, Ping) { EXPECT_TRUE(store_->ping().ok()); }

TEST_P(StoreTest, PutGetReplaceSession) {
  SessionRecord s = session("s1", "alice", "dc01", T0, "live");
  auto got = store_->getSession("s1");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  const SessionRecord& g = **got;
  EXPECT_EQ(g.id, "s1");
  EXPECT_EQ(g.user, "alice");
  EXPECT_EQ(g.target, "dc01");
  EXPECT_EQ(g.protocol, "rdp");
  EXPECT_EQ(g.state, "live");
  EXPECT_EQ(g.started_at, T0);
  EXPECT_EQ(g.ended_at, 0);
  EXPECT_EQ(g.width, 1280);
  EXPECT_EQ(g.height, 800);
  EXPECT_EQ(g.video_bytes, 12345);
  EXPECT_EQ(g.node, "node-a");
  EXPECT_EQ(g.client_addr, "10.1.1.1:5555");
  EXPECT_EQ(g.video_path, "s1.mp4");

  auto none = store_->getSession("nope");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // Replacing moves it between indexes.
  s.state = "ended";
  s.user = "bob";
  s.ended_at = T0 + 5000;
  s.end_reason = "terminated by carol";
  ASSERT_TRUE(store_->putSession(s).ok());
  auto again = store_->getSession("s1");
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->end_reason, "terminated by carol");
  EXPECT_EQ((*again)->durationMs(), 5000);
  SessionFilter f;
  f.user = "alice";
  EXPECT_TRUE(store_->listSessions(f)->empty());
  f.user = "bob";
  EXPECT_EQ(ids(*store_->listSessions(f)), (std::vector<std::string>{"s1"}));
  SessionFilter live;
  live.state = "live";
  EXPECT_TRUE(store_->listSessions(live)->empty());
}

TEST_P(StoreTest, ListSessionsNewestFirstWithFilters) {
  session("a", "alice", "dc01", T0 + 1000);
  session("b", "bob", "dc01", T0 + 2000, "live");
  session("c", "alice", "web", T0 + 3000);
  session("d", "carol", "web", T0 + 4000, "live");
  session("e", "alice", "dc01", T0 + 5000);
  auto list = [&](SessionFilter f) {
    auto r = store_->listSessions(f);
    EXPECT_TRUE(r.ok()) << r.message();
    return ids(*r);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}), (V{"e", "d", "c", "b", "a"}));
  SessionFilter f;
  f.state = "live";
  EXPECT_EQ(list(f), (V{"d", "b"}));
  f = {};
  f.state = "ended";
  EXPECT_EQ(list(f), (V{"e", "c", "a"}));
  f = {};
  f.user = "alice";
  EXPECT_EQ(list(f), (V{"e", "c", "a"}));
  f.target = "dc01";
  EXPECT_EQ(list(f), (V{"e", "a"}));
  f = {};
  f.target = "web";
  EXPECT_EQ(list(f), (V{"d", "c"}));
  f = {};
  f.from = T0 + 2000;
  f.to = T0 + 4000;
  EXPECT_EQ(list(f), (V{"d", "c", "b"}));
  f = {};
  f.limit = 2;
  EXPECT_EQ(list(f), (V{"e", "d"}));
  f = {};
  f.user = "alice";
  f.state = "ended";
  f.limit = 2;
  EXPECT_EQ(list(f), (V{"e", "c"}));
  f = {};
  f.user = "nobody";
  EXPECT_EQ(list(f), V{});
}

TEST_P(StoreTest, ManySessionsPageThroughIndex) {
  for (int i = 0; i < 130; ++i)
    session("p" + std::to_string(1000 + i), i % 2 ? "odd" : "even", "t", T0 + i);
  SessionFilter f;
  f.user = "odd";
  f.target = "t";
  f.limit = 60;
  auto r = store_->listSessions(f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 60u);
  EXPECT_EQ(r->front().id, "p1129");
  EXPECT_EQ(r->back().id, "p1011");
}

TEST_P(StoreTest, EventsInTimeOrderWithKindFilter) {
  session("s1", "alice", "dc01", T0);
  events("s1", {{0, EventKind::Lifecycle, "connect", ""},
                {100, EventKind::Title, "Command Prompt", ""},
                {50, EventKind::Key, "dir", "Command Prompt"}});
  events("s1", {{900, EventKind::Clipboard, "secret stuff", "", Direction::ServerToClient},
                {1000, EventKind::Lifecycle, "disconnect", ""}});
  auto all = store_->events("s1", {});
  ASSERT_TRUE(all.ok()) << all.message();
  ASSERT_EQ(all->size(), 5u);
  std::vector<Millis> ts;
  for (const Event& e : *all) ts.push_back(e.t_ms);
  EXPECT_EQ(ts, (std::vector<Millis>{0, 50, 100, 900, 1000}));
  EXPECT_EQ((*all)[1].window, "Command Prompt");
  EXPECT_EQ((*all)[1].kind, EventKind::Key);
  auto some = store_->events("s1", {EventKind::Lifecycle, EventKind::Clipboard});
  ASSERT_TRUE(some.ok());
  ASSERT_EQ(some->size(), 3u);
  EXPECT_EQ((*some)[0].text, "connect");
  EXPECT_EQ((*some)[1].text, "secret stuff");
  EXPECT_EQ((*some)[1].direction, Direction::ServerToClient);  // stored with the event
  EXPECT_EQ((*some)[0].direction, std::nullopt);
  EXPECT_EQ((*some)[2].text, "disconnect");
  EXPECT_TRUE(store_->events("nope", {})->empty());
}

TEST_P(StoreTest, SearchWordsPrefixesAndPhrases) {
  session("s1", "alice", "dc01", T0);
  events("s1", {{10, EventKind::Key, "netstat -ano", ""},
                {20, EventKind::Key, "net user bob P@ss /add", ""},
                {30, EventKind::Title, "Administrator: Command Prompt", ""},
                {40, EventKind::Key, R"(dir C:\Windows\System32\drivers)", ""},
                {50, EventKind::Lifecycle, "net user lifecycle is not searchable", ""},
                {60, EventKind::Clipboard, "Le CAFÉ est prêt", ""},
                {70, EventKind::Alert, "rule net-user-add matched", ""}});
  using V = std::vector<std::string>;
  EXPECT_EQ(texts(search("net")),
            (V{"s1|netstat -ano", "s1|net user bob P@ss /add", "s1|rule net-user-add matched"}));
  EXPECT_EQ(texts(search("NET user /add")), (V{"s1|net user bob P@ss /add"}));
  EXPECT_EQ(texts(search("user net")),
            (V{"s1|net user bob P@ss /add", "s1|rule net-user-add matched"}));
  EXPECT_EQ(texts(search("\"net user\"")), (V{"s1|net user bob P@ss /add"}));
  EXPECT_EQ(texts(search("\"command prompt\" admin")), (V{"s1|Administrator: Command Prompt"}));
  EXPECT_EQ(texts(search(R"(c:\windows\sys)")), (V{R"(s1|dir C:\Windows\System32\drivers)"}));
  EXPECT_EQ(texts(search("café")), (V{"s1|Le CAFÉ est prêt"}));
  EXPECT_EQ(texts(search("PRÊT")), (V{"s1|Le CAFÉ est prêt"}));
  EXPECT_TRUE(search("lifecycle").empty());
  EXPECT_TRUE(search("stat").empty());
  EXPECT_TRUE(search("netstat user").empty());  // both words, but not in one event
  EXPECT_TRUE(search("zzzz").empty());
  EXPECT_TRUE(search("\"et user\"").empty());
  // No indexable word: found by scanning.
  EXPECT_EQ(texts(search("c")), (V{"s1|Administrator: Command Prompt",
                                   R"(s1|dir C:\Windows\System32\drivers)", "s1|Le CAFÉ est prêt"}));
  EXPECT_EQ(texts(search("\"/add\"")), (V{"s1|net user bob P@ss /add"}));
  auto hits = search("netstat");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].user, "alice");
  EXPECT_EQ(hits[0].target, "dc01");
  EXPECT_EQ(hits[0].started_at, T0);
  EXPECT_EQ(hits[0].event.t_ms, 10);
  EXPECT_EQ(hits[0].event.kind, EventKind::Key);
}

TEST_P(StoreTest, EventsWithoutSessionRecordAreSearchable) {
  events("orphan", {{1, EventKind::Key, "findme now", ""}});
  auto hits = search("findme");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].session_id, "orphan");
  EXPECT_TRUE(store_->listSessions({})->empty());
}

TEST_P(StoreTest, EmptyQueryIsAnError) {
  EXPECT_FALSE(store_->search("", {}).ok());
  EXPECT_FALSE(store_->search("  \"\" ", {}).ok());
}

TEST_P(StoreTest, SearchNewestSessionFirstThenTimeWithFiltersAndLimit) {
  session("old", "alice", "dc01", T0 + 1000);
  session("mid", "bob", "web", T0 + 2000, "live");
  session("new", "alice", "web", T0 + 3000);
  events("old", {{5, EventKind::Key, "ipconfig /all", ""}, {1, EventKind::Title, "ipconfig window", ""}});
  events("new", {{300, EventKind::Key, "ipconfig /release", ""}, {100, EventKind::Key, "ipconfig", ""}});
  events("mid", {{7, EventKind::Key, "ipconfig /renew", ""}});
  using V = std::vector<std::string>;
  EXPECT_EQ(texts(search("ipconfig")),
            (V{"new|ipconfig", "new|ipconfig /release", "mid|ipconfig /renew", "old|ipconfig window",
               "old|ipconfig /all"}));
  SessionFilter f;
  f.user = "alice";
  EXPECT_EQ(texts(search("ipconf", f)),
            (V{"new|ipconfig", "new|ipconfig /release", "old|ipconfig window", "old|ipconfig /all"}));
  f = {};
  f.target = "web";
  EXPECT_EQ(texts(search("ipconfig", f)),
            (V{"new|ipconfig", "new|ipconfig /release", "mid|ipconfig /renew"}));
  f = {};
  f.from = T0 + 1500;
  f.to = T0 + 2500;
  EXPECT_EQ(texts(search("ipconfig", f)), (V{"mid|ipconfig /renew"}));
  f = {};
  f.state = "live";
  EXPECT_EQ(texts(search("ipconfig", f)), (V{"mid|ipconfig /renew"}));
  f = {};
  f.state = "ended";
  f.limit = 3;
  EXPECT_EQ(texts(search("ipconfig", f)),
            (V{"new|ipconfig", "new|ipconfig /release", "old|ipconfig window"}));
  f = {};
  f.limit = 1;
  EXPECT_EQ(texts(search("ipconfig", f)), (V{"new|ipconfig"}));
  f.limit = 2;
  EXPECT_EQ(texts(search("\"ipconfig /\"", f)), (V{"new|ipconfig /release", "mid|ipconfig /renew"}));
}

TEST_P(StoreTest, SearchBroadPrefixStillExact) {
  // More distinct words share the prefix than the index expands: the broad
  // word is checked on candidates found through the other word.
  session("s1", "alice", "dc01", T0);
  std::vector<Event> evs;
  for (int i = 0; i < 300; ++i)
    evs.push_back({i, EventKind::Key, "echo wx" + std::to_string(100000 + i) + " junk", ""});
  evs.push_back({1000, EventKind::Key, "echo wx999 needle", ""});
  events("s1", evs);
  auto hits = search("wx needle");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].event.text, "echo wx999 needle");
  SessionFilter f;
  f.limit = 5;
  EXPECT_EQ(search("wx1000", f).size(), 5u);
  EXPECT_EQ(search("wx", f).size(), 5u);
}

TEST_P(StoreTest, SearchAcrossManySessionsKeepsOrder) {
  for (int i = 0; i < 40; ++i) {
    const std::string id = "m" + std::to_string(100 + i);
    session(id, "u", "t", T0 + i * 1000);
    events(id, {{1, EventKind::Key, "whoami", ""}, {2, EventKind::Key, "hostname", ""}});
  }
  session("m999", "u", "t", T0 - 1);
  events("m999", {{3, EventKind::Key, "whoami /priv hostname", ""}});
  SessionFilter f;
  f.limit = 1000;
  auto hits = search("whoami", f);
  ASSERT_EQ(hits.size(), 41u);
  EXPECT_EQ(hits.front().session_id, "m139");
  EXPECT_EQ(hits[39].session_id, "m100");
  EXPECT_EQ(hits.back().session_id, "m999");
  auto both = search("whoami hostname", f);
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].session_id, "m999");
}

TEST_P(StoreTest, CodesAreSingleUse) {
  CodeRecord c{"abc123", "vendor1", "dc01", epochNowMs() + 60000, "c2VhbGVk", "security1"};
  ASSERT_TRUE(store_->putCode(c).ok());
  CodeRecord other{"def456", "vendor2", "web", epochNowMs() + 60000, "b3RoZXI="};
  ASSERT_TRUE(store_->putCode(other).ok());
  auto listed = store_->codesForTarget("dc01");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "abc123");
  EXPECT_EQ((*listed)[0].sealed, "c2VhbGVk");
  EXPECT_EQ((*listed)[0].issued_by, "security1");
  auto taken = store_->takeCode("abc123");
  ASSERT_TRUE(taken.ok());
  ASSERT_TRUE(taken->has_value());
  EXPECT_EQ((*taken)->user, "vendor1");
  EXPECT_EQ((*taken)->target, "dc01");
  EXPECT_EQ((*taken)->expires_at, c.expires_at);
  EXPECT_EQ((*taken)->issued_by, "security1");  // who issued it is kept with the code
  EXPECT_EQ(store_->takeCode("def456")->value().issued_by, "");  // issuer unknown
  auto again = store_->takeCode("abc123");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  EXPECT_TRUE(store_->codesForTarget("dc01")->empty());
  EXPECT_FALSE(store_->takeCode("unknown")->has_value());
  CodeRecord past{"old", "vendor1", "dc01", epochNowMs() - 1, ""};
  EXPECT_FALSE(store_->putCode(past).ok());
}

TEST_P(StoreTest, CodesTakenOnceUnderContention) {
  ASSERT_TRUE(store_->putCode({"race", "u", "t", epochNowMs() + 60000, ""}).ok());
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      auto r = store_->takeCode("race");
      if (r.ok() && r->has_value()) ++winners;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_P(StoreTest, CodesExpire) {
  ASSERT_TRUE(store_->putCode({"short", "u", "dc01", epochNowMs() + 300, ""}).ok());
  ASSERT_TRUE(store_->putCode({"long", "u", "dc01", epochNowMs() + 60000, ""}).ok());
  EXPECT_EQ(store_->codesForTarget("dc01")->size(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  auto listed = store_->codesForTarget("dc01");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, "long");
  EXPECT_FALSE(store_->takeCode("short")->has_value());
}

TEST_P(StoreTest, AuditNewestFirst) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store_->appendAudit({T0 + i, "alice", "view", "s" + std::to_string(i), "d"}).ok());
  auto all = store_->audit(100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].object, "s4");
  EXPECT_EQ((*all)[0].at, T0 + 4);
  EXPECT_EQ((*all)[0].actor, "alice");
  EXPECT_EQ((*all)[0].action, "view");
  EXPECT_EQ((*all)[0].detail, "d");
  EXPECT_EQ((*all)[4].object, "s0");
  auto two = store_->audit(2);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].object, "s3");
}


// The writer's retries must not duplicate: a batch the server applied but the
// client saw time out comes again, possibly with more events behind it.
TEST_P(StoreTest, AppendEventsAtStoresEachEventOnce) {
  session("q1", "alice", "dc01", T0);
  auto ev = [](Millis t, const std::string& text) { return Event{t, EventKind::Key, text, {}}; };
  ASSERT_TRUE(store_->appendEventsAt("q1", 0, {ev(1, "alpha one"), ev(2, "bravo two")}).ok());
  // The same batch again (a retry), then a longer one overlapping it.
  ASSERT_TRUE(store_->appendEventsAt("q1", 0, {ev(1, "alpha one"), ev(2, "bravo two")}).ok());
  ASSERT_TRUE(store_->appendEventsAt("q1", 1, {ev(2, "bravo two"), ev(3, "charlie three")}).ok());
  ASSERT_TRUE(store_->appendEventsAt("q1", 3, {ev(4, "delta four")}).ok());
  // A gap (events 4 and 5 never stored) is refused, and nothing is stored.
  EXPECT_FALSE(store_->appendEventsAt("q1", 6, {ev(7, "golf seven")}).ok());
  auto got = store_->events("q1", {});
  ASSERT_TRUE(got.ok()) << got.message();
  ASSERT_EQ(got->size(), 4u);
  EXPECT_EQ((*got)[0].text, "alpha one");
  EXPECT_EQ((*got)[1].text, "bravo two");
  EXPECT_EQ((*got)[2].text, "charlie three");
  EXPECT_EQ((*got)[3].text, "delta four");
  // The index holds each event once: one hit per word, and the right text.
  EXPECT_EQ(texts(search("bravo")), std::vector<std::string>{"q1|bravo two"});
  EXPECT_EQ(texts(search("charlie")), std::vector<std::string>{"q1|charlie three"});
  EXPECT_EQ(texts(search("delta")), std::vector<std::string>{"q1|delta four"});
  EXPECT_TRUE(search("golf").empty());
  // Plain appends still go at the end.
  events("q1", {ev(5, "echo five")});
  ASSERT_TRUE(store_->appendEventsAt("q1", 4, {ev(5, "echo five"), ev(6, "foxtrot six")}).ok());
  EXPECT_EQ(store_->events("q1", {})->size(), 6u);
  EXPECT_EQ(texts(search("echo")), std::vector<std::string>{"q1|echo five"});
}

RefusalRecord refusal(const std::string& id, bool aggregate, const std::string& user,
                      const std::string& addr, EpochMillis at, const std::string& reason) {
  RefusalRecord r;
  r.id = id;
  r.aggregate = aggregate;
  r.user = user;
  r.target = "dc01";
  r.protocol = "rdp";
  r.client_addr = addr;
  r.node = "node-a";
  r.reason = reason;
  r.at = at;
  r.retain = std::chrono::hours(24);
  return r;
}

TEST_P(StoreTest, RefusalsAreKeptApartFromSessions) {
  session("s1", "alice", "dc01", T0);
  ASSERT_TRUE(store_->putRefusal(refusal("r1", false, "mallory", "10.0.0.9:4000", T0 + 10,
                                         "unknown user")).ok());
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(store_->putRefusal(refusal("agg", true, "user" + std::to_string(i % 20), "10.0.0.7",
                                           T0 + 20 + i, "too many failed attempts " +
                                                             std::to_string(i))).ok());
  // Sessions only, by default and per user/target.
  SessionFilter all;
  EXPECT_EQ(ids(*store_->listSessions(all)), std::vector<std::string>{"s1"});
  SessionFilter by_target;
  by_target.target = "dc01";
  EXPECT_EQ(ids(*store_->listSessions(by_target)), std::vector<std::string>{"s1"});
  SessionFilter refused;
  refused.state = "refused";
  auto list = store_->listSessions(refused);
  ASSERT_TRUE(list.ok()) << list.message();
  ASSERT_EQ(ids(*list), (std::vector<std::string>{"agg", "r1"}));
  const SessionRecord& agg = (*list)[0];
  EXPECT_EQ(agg.state, "refused");
  EXPECT_EQ(agg.refusals, 40);
  EXPECT_EQ(agg.started_at, T0 + 20);
  EXPECT_EQ(agg.ended_at, T0 + 59);
  EXPECT_EQ(agg.end_reason, "refused: too many failed attempts 39");
  EXPECT_EQ(agg.client_addr, "10.0.0.7");
  EXPECT_EQ(agg.claimed_users.size(), kMaxClaimedNames);  // bounded
  EXPECT_EQ(agg.claimed_users[0], "user0");
  EXPECT_EQ(agg.claimed_targets, std::vector<std::string>{"dc01"});
  auto agg_events = store_->events("agg", {});
  ASSERT_TRUE(agg_events.ok());
  EXPECT_EQ(agg_events->size(), kMaxAggregateEvents);  // bounded
  EXPECT_EQ((*agg_events)[0].text,
            "refused from 10.0.0.7 as user0 to dc01: too many failed attempts 0");
  EXPECT_EQ((*agg_events)[1].t_ms, 1);

  const SessionRecord& one = (*list)[1];
  EXPECT_EQ(one.refusals, 1);
  EXPECT_EQ(one.user, "mallory");
  EXPECT_EQ(one.client_addr, "10.0.0.9:4000");
  EXPECT_EQ(one.end_reason, "refused: unknown user");
  auto one_events = store_->events("r1", {});
  ASSERT_TRUE(one_events.ok());
  ASSERT_EQ(one_events->size(), 2u);
  EXPECT_EQ((*one_events)[0].text, "connect from 10.0.0.9:4000");
  EXPECT_EQ((*one_events)[1].text, "refused: unknown user");
  EXPECT_EQ((*one_events)[1].kind, EventKind::Lifecycle);
  auto got = store_->getSession("r1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, "refused");
  // Refusal events are not searchable sessions.
  EXPECT_TRUE(search("unknown").empty());

  // Names from the network that are not UTF-8 still give readable events.
  ASSERT_TRUE(store_->putRefusal(refusal("r2", false, "bad\xff\xfeuser", "10.0.0.9:4001", T0 + 90,
                                         "unknown user")).ok());
  ASSERT_TRUE(store_->putRefusal(refusal("agg2", true, "bad\xffuser", "10.0.0.5", T0 + 91,
                                         "throttled \xc3")).ok());
  auto r2 = store_->getSession("r2");
  ASSERT_TRUE(r2.ok() && r2->has_value());
  EXPECT_EQ((*r2)->claimed_users.size(), 1u);
  EXPECT_EQ(store_->events("r2", {})->size(), 2u);
  ASSERT_EQ(store_->events("agg2", {})->size(), 1u);
  EXPECT_NE(store_->events("agg2", {})->front().text.find("user to dc01: throttled"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vigil::storage
