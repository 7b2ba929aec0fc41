// The audit log (CONTRACT.md: append-only, hash-chained): one chain however
// many nodes append, verification names the first changed / missing /
// reordered / inserted entry (edited in Redis as an intruder would), age
// trimming keeps the rest verifiable and never trims by count, and the head
// is signed with the deployment key. RedisStore on a real redis-server;
// MemoryStore (the unit-test fake) where it must behave the same.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/clock.h"
#include "storage/audit_chain.h"
#include "storage/hash_chain.h"
#include "storage/memory_store.h"
#include "storage/redis_store.h"
#include "storage/signing_key.h"
#include "tests/storage/redis_server.h"

namespace vigil::storage {
namespace {

using testing::RedisServer;
using Json = nlohmann::json;

constexpr EpochMillis kDay = 24LL * 3600 * 1000;
const EpochMillis T0 = 1'800'000'000'000;

SigningKey testKey(std::uint8_t fill) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(fill);
  return SigningKey::fromSeed(seed);
}

AuditEntry entry(EpochMillis at, int i) {
  return {at, "auditor" + std::to_string(i % 3), "view", "session-" + std::to_string(i),
          "events"};
}

// Both stores: the chain, trimming and signing behave the same.
class AuditStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void open(AuditOptions opts) {
    opts.now = [this] { return clock_.load(); };
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryStore>(nullptr, opts);
      return;
    }
    if (!server_) {
      server_ = std::make_unique<RedisServer>();
      const std::string err = server_->start();
      ASSERT_EQ(err, "") << err;
    }
    auto s = RedisStore::connect(server_->url(), opts);
    ASSERT_TRUE(s.ok()) << s.message();
    store_ = std::move(*s);
  }
  void append(int n, int first = 0) {
    for (int i = first; i < first + n; ++i) {
      Status st = store_->appendAudit(entry(clock_.load(), i));
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }
  AuditVerify verify() {
    auto v = store_->verifyAudit();
    EXPECT_TRUE(v.ok()) << v.message();
    return v.ok() ? *v : AuditVerify{};
  }

  std::atomic<EpochMillis> clock_{T0};
  std::unique_ptr<RedisServer> server_;
  std::unique_ptr<MetadataStore> store_;
};

TEST_P(AuditStoreTest, IntactChainVerifiesAndListsNewestFirstWithSeq) {
  open({});
  EXPECT_TRUE(verify().intact);  // empty
  append(50);
  const AuditVerify v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 50u);
  EXPECT_EQ(v.first_seq, 1u);
  EXPECT_EQ(v.last_seq, 50u);
  EXPECT_EQ(v.detail, "audit log intact: entries 1..50");
  auto newest = store_->audit(3);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 3u);
  EXPECT_EQ((*newest)[0].seq, 50u);
  EXPECT_EQ((*newest)[0].object, "session-49");
  EXPECT_EQ((*newest)[2].seq, 48u);
}

TEST_P(AuditStoreTest, TrimsByAgeFromTheOldestEndAndStillVerifies) {
  AuditOptions opts;
  opts.retain = std::chrono::milliseconds(30 * kDay);
  open(opts);
  append(200);  // day 0
  clock_ += 10 * kDay;
  append(5, 200);  // day 10
  clock_ += 25 * kDay;  // day 35: the first 200 are older than 30 days
  append(1, 205);
  AuditVerify v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  // At most 64 go per append (a backlog drains over a few): all kept still chain.
  EXPECT_EQ(v.first_seq, 65u);
  EXPECT_EQ(v.last_seq, 206u);
  append(5, 206);
  v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.first_seq, 201u) << "day-0 entries older than 30 days are gone";
  EXPECT_EQ(v.entries, 11u);
  EXPECT_EQ(v.detail, "audit log intact: entries 201..211");
  auto all = store_->audit(1000);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 11u);
  EXPECT_EQ(all->back().seq, 201u);
  // Nothing young enough is trimmed: day 10's entries stay until day 40.
  clock_ += 4 * kDay;  // day 39
  append(1, 300);
  EXPECT_EQ(verify().first_seq, 201u);
}

TEST_P(AuditStoreTest, CheckpointsAreSignedEveryTenSecondsAndVerifyWithThePublicKey) {
  AuditOptions opts;
  opts.signer = std::make_shared<SigningKey>(testKey(7));
  open(opts);
  append(1);  // the first append signs
  clock_ += 4000;
  append(3, 1);  // within 10 s: not yet
  AuditVerify v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_TRUE(v.signature_checked);
  EXPECT_EQ(v.signed_seq, 1u);
  clock_ += 6000;
  append(1, 4);  // 10 s after the last checkpoint
  v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.signed_seq, 5u);
  EXPECT_EQ(v.signed_at, T0 + 10000);
  EXPECT_NE(v.detail.find("signed up to entry 5"), std::string::npos) << v.detail;

  // Another deployment's key does not accept it.
  AuditOptions other;
  other.verify_key = testKey(8).publicKey();
  if (GetParam() == "redis") {
    auto s = RedisStore::connect(server_->url(), other);
    ASSERT_TRUE(s.ok());
    auto bad = (*s)->verifyAudit();
    ASSERT_TRUE(bad.ok());
    EXPECT_FALSE(bad->intact);
    EXPECT_NE(bad->detail.find("does not verify"), std::string::npos) << bad->detail;
  }
}

TEST_P(AuditStoreTest, FindAuditFiltersBySinceActorAndAction) {
  open({});
  append(2500);  // actors auditor0..2 in turn, all "view"
  clock_ += 60 * 60 * 1000;
  ASSERT_TRUE(store_->appendAudit({clock_.load(), "sec1", "terminate", "s-x", ""}).ok());
  ASSERT_TRUE(store_->appendAudit({clock_.load(), "auditor1", "search", "net user", ""}).ok());
  AuditFilter by_actor;
  by_actor.actor = "auditor1";
  by_actor.limit = 5000;
  auto a = store_->findAudit(by_actor);
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_EQ(a->size(), 834u);  // 833 views (i % 3 == 1 for i < 2500) and the search
  EXPECT_EQ((*a)[0].action, "search");
  EXPECT_EQ((*a)[1].object, "session-2497");
  EXPECT_EQ(a->back().object, "session-1");
  AuditFilter recent;
  recent.since = clock_.load();
  auto r = store_->findAudit(recent);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].action, "terminate");
  AuditFilter views;
  views.action = "view";
  views.limit = 3;
  auto v = store_->findAudit(views);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 3u);
  EXPECT_EQ((*v)[0].seq, 2500u);
}

INSTANTIATE_TEST_SUITE_P(Stores, AuditStoreTest, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

// RedisStore only: several nodes, the intruder's edits, the checkpoint in Redis.
class RedisAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string err = server_.start();
    ASSERT_EQ(err, "") << err;
    store_ = connect({});
  }
  std::unique_ptr<RedisStore> connect(AuditOptions opts) {
    auto s = RedisStore::connect(server_.url(), std::move(opts));
    EXPECT_TRUE(s.ok()) << s.message();
    return s.ok() ? std::move(*s) : nullptr;
  }
  void append(int n) {
    for (int i = 0; i < n; ++i) {
      Status st = store_->appendAudit(entry(epochNowMs(), i));
      ASSERT_TRUE(st.ok()) << st.message();
    }
  }
  AuditVerify verify() {
    auto v = store_->verifyAudit();
    EXPECT_TRUE(v.ok()) << v.message();
    return v.ok() ? *v : AuditVerify{};
  }
  // The stored entry of `seq` (list index seq - 1 while nothing is trimmed).
  std::string stored(int seq) {
    return server_.command({"LINDEX", "vigil:audit:log", std::to_string(seq - 1)});
  }
  void overwrite(int seq, const std::string& json) {
    ASSERT_EQ(server_.command({"LSET", "vigil:audit:log", std::to_string(seq - 1), json}), "OK");
  }

  RedisServer server_;
  std::unique_ptr<RedisStore> store_;
};

TEST_F(RedisAuditTest, TwoNodesAppendingAtOnceNeverForkTheChain) {
  // Two gateway nodes (each its own store and connection pool), two threads each.
  auto node_b = connect({});
  constexpr int kPerThread = 400;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      MetadataStore& s = t % 2 ? static_cast<MetadataStore&>(*node_b) : *store_;
      for (int i = 0; i < kPerThread; ++i)
        if (!s.appendAudit({epochNowMs(), "node" + std::to_string(t), "view",
                            std::to_string(i), ""}).ok())
          ++failures;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const AuditVerify v = verify();
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, 4u * kPerThread);
  EXPECT_EQ(server_.command({"LLEN", "vigil:audit:log"}), std::to_string(4 * kPerThread));
  // Every append is there exactly once, numbered 1..N without gaps.
  auto all = store_->audit(10000);
  ASSERT_TRUE(all.ok());
  std::set<std::string> seen;
  std::set<std::uint64_t> seqs;
  for (const auto& e : *all) {
    seen.insert(e.actor + "/" + e.object);
    seqs.insert(e.seq);
  }
  EXPECT_EQ(seen.size(), 4u * kPerThread);
  EXPECT_EQ(seqs.size(), 4u * kPerThread);
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), 4u * kPerThread);
}

TEST_F(RedisAuditTest, ChangedEntryIsNamed) {
  append(50);
  Json j = Json::parse(stored(42));
  j["detail"] = "nothing to see";
  overwrite(42, j.dump());
  const AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 42 changed");
  EXPECT_EQ(v.bad_seq, 42u);
  EXPECT_EQ(v.last_seq, 41u);
}

TEST_F(RedisAuditTest, ChangedEntryWithItsHashRecomputedIsNamed) {
  // An intruder who knows the algorithm (but not the key) rehashes entry 42:
  // it verifies alone, but 43 no longer chains to it.
  append(50);
  auto c = decodeAudit(stored(42));
  ASSERT_TRUE(c.has_value());
  c->entry.actor = "someone-else";
  const ChainedAudit forged = chainAudit(c->entry, 42, c->prev, c->nonce);
  overwrite(42, encodeAudit(forged));
  const AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 42 changed (audit entry 43 does not chain to it)");
  EXPECT_EQ(v.bad_seq, 42u);
}

TEST_F(RedisAuditTest, DeletedEntryIsNamed) {
  append(50);
  overwrite(42, "gone");
  ASSERT_EQ(server_.command({"LREM", "vigil:audit:log", "1", "gone"}), "1");
  AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 42 missing");
  EXPECT_EQ(v.bad_seq, 42u);
}

TEST_F(RedisAuditTest, DeletedOldestEntryIsNamed) {
  // Not age trimming (which records the new start): the first entry just goes.
  append(50);
  ASSERT_NE(server_.command({"LPOP", "vigil:audit:log"}), "");
  const AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 1 missing");
}

TEST_F(RedisAuditTest, DeletedNewestEntryIsNamed) {
  append(50);
  ASSERT_NE(server_.command({"RPOP", "vigil:audit:log"}), "");
  const AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 50 missing");
}

TEST_F(RedisAuditTest, ReorderedEntriesAreNamed) {
  append(50);
  const std::string a = stored(42), b = stored(43);
  overwrite(42, b);
  overwrite(43, a);
  const AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "audit entry 42 out of order (found after entry 43)");
  EXPECT_EQ(v.bad_seq, 42u);
}

TEST_F(RedisAuditTest, InsertedEntryIsNamed) {
  append(50);
  // A forged entry claiming to be 43, placed before the real one.
  Json j = Json::parse(stored(43));
  j["actor"] = "ghost";
  ASSERT_EQ(server_.command({"LINSERT", "vigil:audit:log", "BEFORE", stored(43), j.dump()}), "51");
  AuditVerify v = verify();
  EXPECT_FALSE(v.intact);
  EXPECT_EQ(v.detail, "an entry was inserted before audit entry 43");
  EXPECT_EQ(v.bad_seq, 43u);
}

TEST_F(RedisAuditTest, InsertedCopyAndAppendedForgeryAreNamed) {
  append(50);
  // A copy of entry 20 slipped in after entry 30.
  ASSERT_EQ(server_.command({"LINSERT", "vigil:audit:log", "AFTER", stored(30), stored(20)}), "51");
  EXPECT_EQ(verify().detail, "an entry was inserted after audit entry 30");
  ASSERT_EQ(server_.command({"LREM", "vigil:audit:log", "-1", stored(20)}), "1");
  EXPECT_TRUE(verify().intact);
  // A well-formed 51st entry pushed without going through the store.
  auto last = decodeAudit(stored(50));
  ASSERT_TRUE(last.has_value());
  const ChainedAudit forged = chainAudit({epochNowMs(), "ghost", "view", "x", ""}, 51,
                                         last->hash, auditNonce());
  ASSERT_EQ(server_.command({"RPUSH", "vigil:audit:log", encodeAudit(forged)}), "51");
  EXPECT_EQ(verify().detail,
            "an entry was inserted after audit entry 50, the newest (the log's head)");
}

TEST_F(RedisAuditTest, KeepsMoreThanAHundredThousandEntries) {
  // The old log kept the newest 100 000 (LTRIM); the chain trims by age only.
  constexpr int kEntries = 100'001;
  auto node_b = connect({});
  std::atomic<int> failures{0};
  auto add = [&](MetadataStore& s, const char* actor) {
    Status st = s.appendAudit({epochNowMs(), actor, "view", "s", ""});
    if (!st.ok() && failures++ == 0) ADD_FAILURE() << st.message();
  };
  std::thread other([&] {
    for (int i = 0; i < kEntries / 2; ++i) add(*node_b, "b");
  });
  for (int i = 0; i < kEntries - kEntries / 2; ++i) add(*store_, "a");
  other.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server_.command({"LLEN", "vigil:audit:log"}), std::to_string(kEntries));
  const auto began = std::chrono::steady_clock::now();
  const AuditVerify v = verify();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - began).count();
  std::printf("[ metrics ] verified %llu audit entries in %lld ms\n",
              static_cast<unsigned long long>(v.entries), static_cast<long long>(ms));
  EXPECT_TRUE(v.intact) << v.detail;
  EXPECT_EQ(v.entries, static_cast<std::uint64_t>(kEntries));
  EXPECT_EQ(v.first_seq, 1u);
}

TEST_F(RedisAuditTest, SignedCheckpointInRedisVerifiesWithThePublicKeyAndCatchesRollback) {
  auto key = std::make_shared<SigningKey>(testKey(3));
  AuditOptions opts;
  opts.signer = key;
  store_ = connect(opts);
  append(5);  // the first signs entry 1; the rest are within 10 s
  ASSERT_TRUE(store_->checkpointAudit().ok());  // what the gateway's timer does
  auto cp = Checkpoint::fromJson(server_.command({"GET", "vigil:audit:checkpoint"}));
  ASSERT_TRUE(cp.ok()) << cp.message();
  EXPECT_EQ(cp->subject, "audit");
  EXPECT_EQ(cp->events, 5u);
  EXPECT_TRUE(cp->verify(key->publicKey()));
  auto head = decodeAudit(stored(5));
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(toHex(cp->event_head), head->hash);

  // Verified by someone holding only the public key.
  AuditOptions check;
  check.verify_key = key->publicKey();
  auto auditor = connect(check);
  auto v = auditor->verifyAudit();
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->intact) << v->detail;
  EXPECT_TRUE(v->signature_checked);
  EXPECT_EQ(v->signed_seq, 5u);

  // Rolling the log back (drop entries 4-5 and rewind the head) is caught.
  ASSERT_NE(server_.command({"RPOP", "vigil:audit:log"}), "");
  ASSERT_NE(server_.command({"RPOP", "vigil:audit:log"}), "");
  auto third = decodeAudit(stored(3));
  ASSERT_TRUE(third.has_value());
  server_.command({"HSET", "vigil:audit:head", "seq", "3", "hash", third->hash});
  v = auditor->verifyAudit();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->detail,
            "the log ends at audit entry 3 but a signed checkpoint covers entries up to 5 "
            "(entries removed)");

  // A checkpoint edited in Redis does not verify.
  Json j = Json::parse(server_.command({"GET", "vigil:audit:checkpoint"}));
  j["events"] = 3;
  j["event_head"] = third->hash;
  server_.command({"SET", "vigil:audit:checkpoint", j.dump()});
  v = auditor->verifyAudit();
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->intact);
  EXPECT_EQ(v->detail, "the audit log's signed checkpoint does not verify with the deployment key");
}

TEST_F(RedisAuditTest, EntriesFromBeforeTheChainAreStillListed) {
  server_.command({"LPUSH", "vigil:audit",
                   R"({"at":1,"actor":"old","action":"view","object":"s0","detail":""})"});
  append(2);
  auto all = store_->audit(10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].seq, 2u);
  EXPECT_EQ((*all)[2].actor, "old");
  EXPECT_EQ((*all)[2].seq, 0u);
  EXPECT_TRUE(verify().intact);
}

}  // namespace
}  // namespace vigil::storage
