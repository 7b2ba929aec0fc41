#include "storage/redis_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "storage/audit_chain.h"
#include "storage/redis_client.h"
#include "storage/search_query.h"
#include "storage/store_util.h"

namespace vigil::storage {
namespace {

using redis::Command;
using redis::ReplyPtr;
using Json = nlohmann::json;

// Key layout: docs/redis-schema.md.
const std::string kSessions = "vigil:sessions";
const std::string kVocab = "vigil:vocab";
const std::string kAudit = "vigil:audit";  // before the chain: read only
const std::string kAuditLog = "vigil:audit:log";
const std::string kAuditHead = "vigil:audit:head";
const std::string kAuditCheckpoint = "vigil:audit:checkpoint";
const std::string kAlerts = "vigil:alerts";
const std::string kRefusals = "vigil:refusals";
std::string sessionKey(const std::string& id) { return "vigil:s:" + id; }
std::string eventsKey(const std::string& id) { return "vigil:ev:" + id; }
std::string checkpointsKey(const std::string& id) { return "vigil:ck:" + id; }
std::string postingsKey(const std::string& id) { return "vigil:ix:" + id; }
std::string wordKey(const std::string& w) { return "vigil:w:" + w; }
std::string userKey(const std::string& u) { return "vigil:sessions:user:" + u; }
std::string targetKey(const std::string& t) { return "vigil:sessions:target:" + t; }
std::string stateKey(const std::string& s) { return "vigil:sessions:state:" + s; }
std::string codeKey(const std::string& id) { return "vigil:code:" + id; }
std::string codesKey(const std::string& t) { return "vigil:codes:target:" + t; }

// Replaces a session hash and moves it between the index sets atomically.
// ARGV: id user target state started_at field value ...
constexpr std::string_view kPutSessionLua = R"lua(
local id = ARGV[1]
local hk = 'vigil:s:' .. id
local old = redis.call('HMGET', hk, 'user', 'target', 'state')
if old[1] then redis.call('ZREM', 'vigil:sessions:user:' .. old[1], id) end
if old[2] then redis.call('ZREM', 'vigil:sessions:target:' .. old[2], id) end
if old[3] then redis.call('ZREM', 'vigil:sessions:state:' .. old[3], id) end
redis.call('DEL', hk)
redis.call('HSET', hk, unpack(ARGV, 6))
redis.call('ZADD', 'vigil:sessions', ARGV[5], id)
redis.call('ZADD', 'vigil:sessions:user:' .. ARGV[2], ARGV[5], id)
redis.call('ZADD', 'vigil:sessions:target:' .. ARGV[3], ARGV[5], id)
redis.call('ZADD', 'vigil:sessions:state:' .. ARGV[4], ARGV[5], id)
return 1
)lua";

// Appends events and their postings in one atomic step, so an event is never
// findable before it is stored nor stored without being findable.
// Idempotent when `first` >= 0: the events are numbers first .. first+n-1 of
// the session (its list index); those already in the list are skipped, so a
// batch retried after a client-side timeout (that the server applied anyway)
// is not stored twice, nor indexed twice. `first` < 0: append at the end.
// ARGV: session_id now_ms first n payload*n, then per word: word count rel_index*count
constexpr std::string_view kAppendLua = R"lua(
local sid = ARGV[1]
local evk = 'vigil:ev:' .. sid
local first = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local len = redis.call('LLEN', evk)
if first < 0 then first = len end
if first > len then
  return redis.error_reply('GAP events of session ' .. sid .. ': ' .. len ..
                           ' stored, this batch starts at ' .. first)
end
local skip = len - first
if skip >= n then return len end
local i = 5 + skip
while i <= 4 + n do
  local j = math.min(i + 499, 4 + n)
  redis.call('RPUSH', evk, unpack(ARGV, i, j))
  i = j + 1
end
local score = redis.call('HGET', 'vigil:s:' .. sid, 'started_at') or ARGV[2]
-- Events before (or without) their session record stay searchable.
redis.call('ZADD', 'vigil:sessions', 'NX', score, sid)
local ixk = 'vigil:ix:' .. sid
local p = 5 + n
local nargs = #ARGV
while p <= nargs do
  local w = ARGV[p]
  local c = tonumber(ARGV[p + 1])
  local parts = {}
  for q = 1, c do
    local rel = tonumber(ARGV[p + 1 + q])
    if rel >= skip then parts[#parts + 1] = struct.pack('>I4', first + rel) end
  end
  if #parts > 0 then
    local cur = redis.call('HGET', ixk, w)
    if not cur then
      cur = ''
      redis.call('ZADD', 'vigil:w:' .. w, score, sid)
      redis.call('ZADD', 'vigil:vocab', 0, w)
    end
    redis.call('HSET', ixk, w, cur .. table.concat(parts))
  end
  p = p + 2 + c
end
return len
)lua";

// Records a refusal apart from sessions (docs/redis-schema.md "Refusals"):
// the record and its events expire; the id joins vigil:refusals, which is
// trimmed of members older than the retention on every write.
// `token` is fresh per call: a call the server ran after the client timed
// out, then ran again on the retry, counts once.
// ARGV: id aggregate(0|1) at expire_at cutoff user target protocol client_addr
//       node reason max_names max_events token
constexpr std::string_view kRefusalLua = R"lua(
local id = ARGV[1]
local agg = ARGV[2] == '1'
local at = tonumber(ARGV[3])
local hk = 'vigil:s:' .. id
local evk = 'vigil:ev:' .. id
local user, target, addr, reason = ARGV[6], ARGV[7], ARGV[9], ARGV[11]
local maxn = tonumber(ARGV[12])
local started = at
if agg and redis.call('EXISTS', hk) == 1 then
  if redis.call('HGET', hk, 'token') == ARGV[14] then return 0 end
  started = tonumber(redis.call('HGET', hk, 'started_at')) or at
  redis.call('HINCRBY', hk, 'refusals', 1)
  redis.call('HSET', hk, 'ended_at', ARGV[3], 'end_reason', 'refused: ' .. reason)
else
  redis.call('DEL', hk, evk)
  redis.call('HSET', hk, 'id', id, 'user', user, 'target', target, 'protocol', ARGV[8],
             'state', 'refused', 'started_at', ARGV[3], 'ended_at', ARGV[3], 'width', '0',
             'height', '0', 'video_bytes', '0', 'end_reason', 'refused: ' .. reason,
             'node', ARGV[10], 'client_addr', addr, 'video_path', '', 'refusals', '1')
  redis.call('PEXPIREAT', hk, ARGV[4])
  redis.call('ZADD', 'vigil:refusals', ARGV[3], id)
end
local function addName(field, name)
  if name == '' then return end
  local cur = redis.call('HGET', hk, field)
  local list = {}
  if cur then list = cjson.decode(cur) end
  if #list >= maxn then return end
  for _, v in ipairs(list) do if v == name then return end end
  list[#list + 1] = name
  redis.call('HSET', hk, field, cjson.encode(list))
end
if agg then redis.call('HSET', hk, 'token', ARGV[14]) end
addName('users', user)
addName('targets', target)
local t = math.max(0, at - started)
if not agg then
  redis.call('RPUSH', evk, cjson.encode({t, 'lifecycle', 'connect from ' .. addr}),
             cjson.encode({t, 'lifecycle', 'refused: ' .. reason}))
elseif redis.call('LLEN', evk) < tonumber(ARGV[13]) then
  local who = ''
  if user ~= '' then who = ' as ' .. user end
  redis.call('RPUSH', evk, cjson.encode({t, 'lifecycle', 'refused from ' .. addr .. who ..
                                            ' to ' .. target .. ': ' .. reason}))
end
if redis.call('PTTL', evk) < 0 then redis.call('PEXPIREAT', evk, ARGV[4]) end
redis.call('ZREMRANGEBYSCORE', 'vigil:refusals', '-inf', '(' .. ARGV[5])
return 1
)lua";

// Expands search terms to indexed words and counts each word's sessions.
// ARGV: cap index_key term... Returns {ZCARD(index_key), per term either
// {word, sessions, word, sessions, ...}, {} (no word) or {"*"} (over cap)}.
constexpr std::string_view kExpandLua = R"lua(
local cap = tonumber(ARGV[1])
local out = {redis.call('ZCARD', ARGV[2])}
for i = 3, #ARGV do
  local t = ARGV[i]
  local words = redis.call('ZRANGEBYLEX', 'vigil:vocab', '[' .. t, '[' .. t .. '\255', 'LIMIT', 0, cap + 1)
  local entry = {}
  if #words > cap then
    entry = {'*'}
  else
    for j, w in ipairs(words) do
      entry[2 * j - 1] = w
      entry[2 * j] = redis.call('ZCARD', 'vigil:w:' .. w)
    end
  end
  out[#out + 1] = entry
end
return out
)lua";

// Appends one entry to the audit chain if the head is still what the caller
// chained it to (compare-and-set: two nodes appending at once never fork the
// chain; the loser gets the new head and chains again). Then drops entries
// older than the cutoff from the oldest end (never the newest), recording
// the first kept entry's seq and prev so the rest still verifies.
// Replies {outcome, head_seq, head_hash}: outcome "ok"; "moved" (retry on the
// head returned); "applied" (this very entry is already stored: a retried
// call whose first try the server ran).
// ARGV: expect_seq expect_hash entry_json entry_hash cutoff_ms max_trim genesis
constexpr std::string_view kAuditAppendLua = R"lua(
local hk, lk = 'vigil:audit:head', 'vigil:audit:log'
local h = redis.call('HMGET', hk, 'seq', 'hash', 'start_seq')
local seq = tonumber(h[1]) or 0
local hash = h[2] or ARGV[7]
local expect = tonumber(ARGV[1])
if seq ~= expect or hash ~= ARGV[2] then
  if seq > expect then
    local e = redis.call('LINDEX', lk, expect + 1 - (tonumber(h[3]) or 1))
    if e then
      local ok, d = pcall(cjson.decode, e)
      if ok and type(d) == 'table' and d.hash == ARGV[4] then
        return {'applied', tostring(seq), hash}
      end
    end
  end
  return {'moved', tostring(seq), hash}
end
redis.call('RPUSH', lk, ARGV[3])
if seq == 0 then redis.call('HSET', hk, 'start_seq', '1', 'start_prev', ARGV[7]) end
redis.call('HSET', hk, 'seq', tostring(seq + 1), 'hash', ARGV[4])
local cutoff = tonumber(ARGV[5])
local trimmed = 0
while trimmed < tonumber(ARGV[6]) and redis.call('LLEN', lk) > 1 do
  local ok, d = pcall(cjson.decode, redis.call('LINDEX', lk, 0))
  if not ok or type(d) ~= 'table' or type(d.at) ~= 'number' or type(d.seq) ~= 'number' or
     type(d.hash) ~= 'string' or d.at >= cutoff then
    break
  end
  redis.call('LPOP', lk)
  redis.call('HSET', hk, 'start_seq', string.format('%d', d.seq + 1), 'start_prev', d.hash)
  trimmed = trimmed + 1
end
return {'ok', tostring(seq + 1), ARGV[4]}
)lua";

// One page of the audit chain and the head, read in one atomic step.
// Positions count from the entry `base` (the chain start when the walk
// began); "trimmed" when age trimming has since dropped that position.
// ARGV: base ('' = the current start) pos n genesis
// Replies {"ok", head_seq, head_hash, start_seq, start_prev, entries}.
constexpr std::string_view kAuditPageLua = R"lua(
local h = redis.call('HMGET', 'vigil:audit:head', 'seq', 'hash', 'start_seq', 'start_prev')
local start = tonumber(h[3]) or 1
local base = tonumber(ARGV[1]) or start
local idx = base + tonumber(ARGV[2]) - start
if idx < 0 then return {'trimmed'} end
local n = tonumber(ARGV[3])
local items = {}
if n > 0 then items = redis.call('LRANGE', 'vigil:audit:log', idx, idx + n - 1) end
return {'ok', h[1] or '0', h[2] or ARGV[4], tostring(start), h[4] or ARGV[4], items}
)lua";

// Replaces the stored audit checkpoint unless it already covers as much.
// ARGV: events checkpoint_json
constexpr std::string_view kAuditCheckpointLua = R"lua(
local cur = redis.call('GET', 'vigil:audit:checkpoint')
if cur then
  local ok, d = pcall(cjson.decode, cur)
  if ok and type(d) == 'table' and type(d.events) == 'number' and d.events >= tonumber(ARGV[1]) then
    return 0
  end
end
redis.call('SET', 'vigil:audit:checkpoint', ARGV[2])
return 1
)lua";

std::string dumpJson(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Invalid UTF-8 replaced by U+FFFD: names from the network go into JSON
// built by a Lua script (cjson passes bytes through), which must stay readable.
std::string validUtf8(const std::string& s) {
  Json j = Json::parse(dumpJson(Json(s)), nullptr, false);
  return j.is_string() ? j.get<std::string>() : std::string();
}

long long toLong(std::string_view s) {
  return std::strtoll(std::string(s).c_str(), nullptr, 10);
}

std::vector<std::string> strings(const redisReply* r) {
  std::vector<std::string> out;
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  out.reserve(r->elements);
  for (std::size_t i = 0; i < r->elements; ++i) out.emplace_back(redis::text(r->element[i]));
  return out;
}

// [member, score, member, score, ...] from a WITHSCORES reply.
std::vector<std::pair<std::string, EpochMillis>> withScores(const redisReply* r) {
  std::vector<std::pair<std::string, EpochMillis>> out;
  if (!r || r->type != REDIS_REPLY_ARRAY) return out;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2)
    out.emplace_back(std::string(redis::text(r->element[i])),
                     static_cast<EpochMillis>(std::strtod(std::string(redis::text(r->element[i + 1])).c_str(), nullptr)));
  return out;
}

Status firstError(const std::vector<ReplyPtr>& replies, std::string_view what) {
  for (const ReplyPtr& r : replies)
    if (Status st = redis::replyStatus(r.get(), what); !st.ok()) return st;
  return Status::Ok();
}

std::vector<std::string> sessionFields(const SessionRecord& s) {
  return {"id",          s.id,
          "user",        s.user,
          "target",      s.target,
          "protocol",    s.protocol,
          "state",       s.state,
          "started_at",  std::to_string(s.started_at),
          "ended_at",    std::to_string(s.ended_at),
          "width",       std::to_string(s.width),
          "height",      std::to_string(s.height),
          "video_bytes", std::to_string(s.video_bytes),
          "end_reason",  s.end_reason,
          "node",        s.node,
          "client_addr", s.client_addr,
          "video_path",  s.video_path};
}

// Unique enough to tell one putRefusal call from another.
std::string refusalToken() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(rng()) + "." + std::to_string(++counter);
}

std::vector<std::string> jsonStrings(std::string_view s) {
  std::vector<std::string> out;
  Json j = Json::parse(s, nullptr, false);
  if (!j.is_array()) return out;
  for (const Json& v : j)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

std::optional<SessionRecord> parseSession(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return std::nullopt;
  SessionRecord s;
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    const std::string_view k = redis::text(r->element[i]);
    std::string v(redis::text(r->element[i + 1]));
    if (k == "id") s.id = std::move(v);
    else if (k == "user") s.user = std::move(v);
    else if (k == "target") s.target = std::move(v);
    else if (k == "protocol") s.protocol = std::move(v);
    else if (k == "state") s.state = std::move(v);
    else if (k == "started_at") s.started_at = toLong(v);
    else if (k == "ended_at") s.ended_at = toLong(v);
    else if (k == "width") s.width = static_cast<int>(toLong(v));
    else if (k == "height") s.height = static_cast<int>(toLong(v));
    else if (k == "video_bytes") s.video_bytes = toLong(v);
    else if (k == "end_reason") s.end_reason = std::move(v);
    else if (k == "node") s.node = std::move(v);
    else if (k == "client_addr") s.client_addr = std::move(v);
    else if (k == "video_path") s.video_path = std::move(v);
    else if (k == "refusals") s.refusals = toLong(v);
    else if (k == "users") s.claimed_users = jsonStrings(v);
    else if (k == "targets") s.claimed_targets = jsonStrings(v);
  }
  // Refusals written before they were kept apart: an ended record with no
  // recording whose reason starts "refused: ".
  if (s.state == "ended" && s.video_path.empty() && s.end_reason.starts_with("refused: ")) {
    s.state = "refused";
    if (s.refusals == 0) s.refusals = 1;
  }
  return s;
}

std::string encodeEvent(const Event& e) {
  Json j = Json::array({e.t_ms, std::string(toString(e.kind)), e.text});
  if (!e.window.empty() || e.direction) j.push_back(e.window);
  if (e.direction) j.push_back(std::string(toString(*e.direction)));
  return dumpJson(j);
}

std::optional<Event> decodeEvent(std::string_view s) {
  Json j = Json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.size() < 3 || !j[0].is_number_integer() ||
      !j[1].is_string() || !j[2].is_string())
    return std::nullopt;
  auto kind = parseEventKind(j[1].get<std::string>());
  if (!kind) return std::nullopt;
  Event e;
  e.t_ms = j[0].get<Millis>();
  e.kind = *kind;
  e.text = j[2].get<std::string>();
  if (j.size() > 3 && j[3].is_string()) e.window = j[3].get<std::string>();
  if (j.size() > 4 && j[4].is_string()) e.direction = parseDirection(j[4].get<std::string>());
  return e;
}

std::optional<CodeRecord> decodeCode(const std::string& id, std::string_view s) {
  Json j = Json::parse(s, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  CodeRecord c;
  c.id = id;
  c.user = j.value("user", "");
  c.target = j.value("target", "");
  c.expires_at = j.value("expires_at", EpochMillis{0});
  c.sealed = j.value("sealed", "");
  c.issued_by = j.value("issued_by", "");
  return c;
}

// Big-endian uint32 event indexes, as the append script packs them.
void decodePostings(const redisReply* r, std::vector<std::uint32_t>& out) {
  const std::string_view s = redis::text(r);
  for (std::size_t i = 0; i + 4 <= s.size(); i += 4)
    out.push_back((std::uint32_t(static_cast<unsigned char>(s[i])) << 24) |
                  (std::uint32_t(static_cast<unsigned char>(s[i + 1])) << 16) |
                  (std::uint32_t(static_cast<unsigned char>(s[i + 2])) << 8) |
                  std::uint32_t(static_cast<unsigned char>(s[i + 3])));
}

void sortUnique(std::vector<std::uint32_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// The session index that narrows `f` best; the rest is checked per record.
std::string indexFor(const SessionFilter& f) {
  if (f.state && *f.state == "refused") return kRefusals;
  if (f.user) return userKey(*f.user);
  if (f.target) return targetKey(*f.target);
  if (f.state) return stateKey(*f.state);
  return kSessions;
}

std::string scoreMin(const SessionFilter& f) { return f.from ? std::to_string(*f.from) : "-inf"; }
std::string scoreMax(const SessionFilter& f) { return f.to ? std::to_string(*f.to) : "+inf"; }

struct SessionMeta {
  std::string user, target, state;
  EpochMillis started_at = 0;
  bool exists = false;
};

SessionMeta parseMeta(const redisReply* r, EpochMillis fallback_started) {
  SessionMeta m;
  m.started_at = fallback_started;
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 4) return m;
  m.exists = !redis::isNil(r->element[0]) || !redis::isNil(r->element[3]);
  m.user = redis::text(r->element[0]);
  m.target = redis::text(r->element[1]);
  m.state = redis::text(r->element[2]);
  if (!redis::isNil(r->element[3])) m.started_at = toLong(redis::text(r->element[3]));
  return m;
}

Command metaCommand(const std::string& sid) {
  return {"HMGET", sessionKey(sid), "user", "target", "state", "started_at"};
}

bool metaPasses(const SessionFilter& f, const SessionMeta& m) {
  if (f.state && m.state != *f.state) return false;
  if (f.user && m.user != *f.user) return false;
  if (f.target && m.target != *f.target) return false;
  if (f.from && m.started_at < *f.from) return false;
  if (f.to && m.started_at > *f.to) return false;
  return true;
}

SearchHit makeHit(const std::string& sid, const SessionMeta& m, Event e) {
  SearchHit h;
  h.session_id = sid;
  h.event = std::move(e);
  h.user = m.user;
  h.target = m.target;
  h.started_at = m.started_at;
  return h;
}

// Sorts one session's hits by t_ms (append order among equals) and moves as
// many as fit under `limit` into `out`.
void emitSession(std::vector<SearchHit>& session_hits, std::vector<SearchHit>& out,
                 std::size_t limit) {
  std::stable_sort(session_hits.begin(), session_hits.end(),
                   [](const SearchHit& a, const SearchHit& b) { return a.event.t_ms < b.event.t_ms; });
  for (SearchHit& h : session_hits) {
    if (out.size() >= limit) break;
    out.push_back(std::move(h));
  }
  session_hits.clear();
}

}  // namespace

RedisStore::RedisStore(std::unique_ptr<redis::Pool> pool, AuditOptions audit)
    : pool_(std::move(pool)), audit_(std::move(audit)) {}
RedisStore::~RedisStore() = default;

Result<std::unique_ptr<RedisStore>> RedisStore::connect(const std::string& url,
                                                       AuditOptions audit) {
  auto parsed = redis::parseUrl(url);
  if (!parsed) return parsed.status();
  if (audit.retain.count() <= 0) return Status::Error("the audit log's retention must be positive");
  std::unique_ptr<RedisStore> store(
      new RedisStore(std::make_unique<redis::Pool>(*parsed), std::move(audit)));
  if (Status st = store->ping(); !st.ok()) return st;
  spdlog::debug("redis store connected at={}", parsed->where());
  return store;
}

Status RedisStore::ping() {
  auto r = pool_->run({{"PING"}});
  if (!r) return r.status();
  return redis::replyStatus((*r)[0].get(), "PING");
}

Status RedisStore::putSession(const SessionRecord& s) {
  if (s.id.empty()) return Status::Error("session record has no id");
  if (s.state != "live" && s.state != "ended")
    return Status::Error("session " + s.id + " has state '" + s.state + "'; expected live or ended");
  std::vector<std::string> args = {s.id, s.user, s.target, s.state, std::to_string(s.started_at)};
  for (std::string& f : sessionFields(s)) args.push_back(std::move(f));
  auto r = pool_->run({redis::eval(kPutSessionLua, args)});
  if (!r) return r.status();
  return redis::replyStatus((*r)[0].get(), "storing session " + s.id);
}

Result<std::optional<SessionRecord>> RedisStore::getSession(const std::string& id) {
  auto r = pool_->run({{"HGETALL", sessionKey(id)}});
  if (!r) return r.status();
  if (Status st = redis::replyStatus((*r)[0].get(), "reading session " + id); !st.ok()) return st;
  return parseSession((*r)[0].get());
}

Result<std::vector<SessionRecord>> RedisStore::listSessions(const SessionFilter& f) {
  const std::size_t limit = effectiveLimit(f.limit);
  const std::size_t page = std::max<std::size_t>(limit, 50);
  const std::string key = indexFor(f);
  std::vector<SessionRecord> out;
  for (std::size_t offset = 0; out.size() < limit; offset += page) {
    auto ids = pool_->run({{"ZREVRANGEBYSCORE", key, scoreMax(f), scoreMin(f), "LIMIT",
                            std::to_string(offset), std::to_string(page)}});
    if (!ids) return ids.status();
    std::vector<std::string> batch = strings((*ids)[0].get());
    if (batch.empty()) break;
    std::vector<Command> cmds;
    for (const std::string& id : batch) cmds.push_back({"HGETALL", sessionKey(id)});
    auto recs = pool_->run(cmds);
    if (!recs) return recs.status();
    for (const ReplyPtr& r : *recs) {
      auto s = parseSession(r.get());
      if (s && sessionMatches(f, *s) && out.size() < limit) out.push_back(std::move(*s));
    }
    if (batch.size() < page) break;
  }
  return out;
}

Status RedisStore::appendEvents(const std::string& session_id, const std::vector<Event>& events) {
  return appendImpl(session_id, -1, events);
}

Status RedisStore::appendEventsAt(const std::string& session_id, std::uint64_t first_seq,
                                  const std::vector<Event>& events) {
  return appendImpl(session_id, static_cast<long long>(first_seq), events);
}

Status RedisStore::appendImpl(const std::string& session_id, long long first_seq,
                              const std::vector<Event>& events) {
  if (session_id.empty()) return Status::Error("events need a session id");
  constexpr std::size_t kChunk = 2000;  // bounds one script's run time
  const std::string now = std::to_string(epochNowMs());
  std::vector<Command> cmds;
  for (std::size_t start = 0; start < events.size(); start += kChunk) {
    const std::size_t n = std::min(kChunk, events.size() - start);
    const long long first = first_seq < 0 ? -1 : first_seq + static_cast<long long>(start);
    std::vector<std::string> args = {session_id, now, std::to_string(first), std::to_string(n)};
    std::map<std::string, std::vector<std::size_t>> postings;
    for (std::size_t i = 0; i < n; ++i) {
      const Event& e = events[start + i];
      args.push_back(encodeEvent(e));
      if (!isSearchableKind(e.kind)) continue;
      for (std::string& w : indexWords(e.text)) postings[std::move(w)].push_back(i);
    }
    for (auto& [w, idx] : postings) {
      args.push_back(w);
      args.push_back(std::to_string(idx.size()));
      for (std::size_t i : idx) args.push_back(std::to_string(i));
    }
    cmds.push_back(redis::eval(kAppendLua, args));
  }
  if (cmds.empty()) return Status::Ok();
  auto r = pool_->run(cmds);
  if (!r) return r.status();
  return firstError(*r, "appending events of session " + session_id);
}

Result<std::vector<Event>> RedisStore::events(const std::string& session_id,
                                              const std::vector<EventKind>& kinds) {
  auto r = pool_->run({{"LRANGE", eventsKey(session_id), "0", "-1"}});
  if (!r) return r.status();
  if (Status st = redis::replyStatus((*r)[0].get(), "reading events"); !st.ok()) return st;
  std::vector<Event> out;
  for (const std::string& s : strings((*r)[0].get())) {
    auto e = decodeEvent(s);
    if (!e) continue;
    if (kinds.empty() || std::find(kinds.begin(), kinds.end(), e->kind) != kinds.end())
      out.push_back(std::move(*e));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.t_ms < b.t_ms; });
  return out;
}

Result<std::vector<SearchHit>> RedisStore::search(const std::string& query,
                                                  const SessionFilter& f) {
  auto parsed = parseSearchQuery(query);
  if (!parsed) return parsed.status();
  const SearchQuery& q = *parsed;
  const std::size_t limit = effectiveLimit(f.limit);
  const auto began = std::chrono::steady_clock::now();
  std::size_t round_trips = 0, fetched = 0, scanned_sessions = 0;
  auto since = [&began] {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - began).count();
  };

  // 1. Expand each indexable term to the words it is a prefix of.
  std::vector<std::string> terms;
  for (const std::string& t : q.terms) {
    if (codePoints(t) < 2) continue;  // one-letter words are not indexed
    std::string cut = cutIndexWord(t);
    if (std::find(terms.begin(), terms.end(), cut) == terms.end()) terms.push_back(std::move(cut));
  }
  if (terms.empty()) return scanSearch(q, f, limit);
  // 2. One script expands every term (ZRANGEBYLEX on the vocabulary) and
  // counts each word's sessions, so only selective terms become candidate
  // session sets; common ones are checked per session while walking.
  const std::string index_key = indexFor(f);
  std::vector<std::string> args = {std::to_string(kMaxPrefixExpansions), index_key};
  args.insert(args.end(), terms.begin(), terms.end());
  std::vector<Command> cmds = {redis::eval(kExpandLua, args)};
  auto expanded = pool_->run(cmds);
  ++round_trips;
  if (!expanded) return expanded.status();
  if (Status st = firstError(*expanded, "search"); !st.ok()) return st;
  const redisReply* ex = (*expanded)[0].get();
  if (ex->type != REDIS_REPLY_ARRAY || ex->elements != terms.size() + 1 ||
      ex->element[0]->type != REDIS_REPLY_INTEGER)
    return Status::Error("search: unexpected reply from Redis (is it Redis >= 6.2?)");
  const long long index_size = ex->element[0]->integer;
  struct Term {
    std::vector<std::string> words;
    long long sessions = 0;  // sum over its words
  };
  std::vector<Term> used;
  for (std::size_t i = 1; i < ex->elements; ++i) {
    const redisReply* e = ex->element[i];
    if (e->type != REDIS_REPLY_ARRAY) return Status::Error("search: unexpected reply from Redis");
    if (e->elements == 0) return std::vector<SearchHit>{};  // no event has such a word
    if (e->elements == 1) continue;                          // too broad: verified later
    Term t;
    for (std::size_t k = 0; k + 1 < e->elements; k += 2) {
      t.words.emplace_back(redis::text(e->element[k]));
      t.sessions += e->element[k + 1]->integer;
    }
    used.push_back(std::move(t));
  }
  if (used.empty()) return scanSearch(q, f, limit);

  // 3. Candidate sessions: the sessions of each selective term (those of
  // its words, read set by set so that each session is later asked only for
  // the words it has), at most the two rarest terms, intersected, with the
  // filter's set. Without a selective term, walk the filter's session index
  // newest first instead.
  std::vector<std::size_t> by_cost(used.size());
  for (std::size_t i = 0; i < by_cost.size(); ++i) by_cost[i] = i;
  std::sort(by_cost.begin(), by_cost.end(),
            [&used](std::size_t a, std::size_t b) { return used[a].sessions < used[b].sessions; });
  cmds.clear();
  std::vector<std::size_t> selective;  // indexes into `used`
  for (std::size_t k = 0; k < by_cost.size() && k < 2; ++k) {
    const Term& t = used[by_cost[k]];
    if (t.sessions * 2 > index_size) break;  // not selective
    selective.push_back(by_cost[k]);
    for (const std::string& w : t.words) cmds.push_back({"ZRANGE", wordKey(w), "0", "-1", "WITHSCORES"});
  }
  const bool walk = selective.empty();
  // Per candidate session, the words of each selective term it has.
  std::unordered_map<std::string, std::vector<std::vector<std::string_view>>> has;
  std::vector<std::pair<std::string, EpochMillis>> order;
  double t_sets = 0;
  if (!walk) {
    if (f.user || f.target || f.state)
      cmds.push_back({"ZRANGEBYSCORE", index_key, scoreMin(f), scoreMax(f), "WITHSCORES"});
    auto sets = pool_->run(cmds);
    ++round_trips;
    if (!sets) return sets.status();
    if (Status st = firstError(*sets, "search"); !st.ok()) return st;
    t_sets = since();
    std::vector<std::unordered_map<std::string, EpochMillis>> lists;
    std::size_t r = 0;
    for (std::size_t k = 0; k < selective.size(); ++k) {
      std::unordered_map<std::string, EpochMillis>& sessions_of_term = lists.emplace_back();
      for (const std::string& w : used[selective[k]].words) {
        for (auto& [id, score] : withScores((*sets)[r++].get())) {
          auto& per_term = has[id];
          per_term.resize(selective.size());
          per_term[k].push_back(w);
          sessions_of_term.emplace(std::move(id), score);
        }
      }
    }
    if (r < sets->size()) {
      auto filtered = withScores((*sets)[r].get());
      lists.emplace_back(filtered.begin(), filtered.end());
    }
    std::sort(lists.begin(), lists.end(),
              [](const auto& a, const auto& b) { return a.size() < b.size(); });
    std::unordered_map<std::string, EpochMillis> cand = std::move(lists[0]);
    for (std::size_t i = 1; i < lists.size() && !cand.empty(); ++i) {
      std::erase_if(cand, [&lists, i](const auto& kv) { return !lists[i].contains(kv.first); });
    }
    order.assign(cand.begin(), cand.end());
    std::erase_if(order, [&f](const auto& c) {
      return (f.from && c.second < *f.from) || (f.to && c.second > *f.to);
    });
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return newerFirst(a.second, a.first, b.second, b.first);
    });
  }
  // The next `n` candidate sessions from position `start`, newest first.
  auto nextBatch = [&](std::size_t start, std::size_t n)
      -> Result<std::vector<std::pair<std::string, EpochMillis>>> {
    if (!walk) {
      if (start >= order.size()) return std::vector<std::pair<std::string, EpochMillis>>{};
      const auto first = order.begin() + static_cast<std::ptrdiff_t>(start);
      return std::vector<std::pair<std::string, EpochMillis>>(
          first, first + static_cast<std::ptrdiff_t>(std::min(n, order.size() - start)));
    }
    auto r = pool_->run({{"ZREVRANGEBYSCORE", index_key, scoreMax(f), scoreMin(f), "WITHSCORES",
                          "LIMIT", std::to_string(start), std::to_string(n)}});
    ++round_trips;
    if (!r) return r.status();
    if (Status st = redis::replyStatus((*r)[0].get(), "search"); !st.ok()) return st;
    return withScores((*r)[0].get());
  };

  // 4. Per session, newest first: intersect the terms' postings, fetch the
  // candidate events and verify them exactly (phrases, broad prefixes).
  // Each session is asked for all words of the other terms but only for the
  // words of a selective term that it has. `term_end`: where each term's
  // words end among the fields asked.
  auto postingsCommand = [&](const std::string& sid, std::vector<std::size_t>& term_end) {
    Command c = {"HMGET", postingsKey(sid)};
    const auto it = has.find(sid);
    term_end.clear();
    for (std::size_t t = 0; t < used.size(); ++t) {
      const auto sel = std::find(selective.begin(), selective.end(), t);
      if (sel != selective.end() && it != has.end()) {
        for (std::string_view w : it->second[static_cast<std::size_t>(sel - selective.begin())])
          c.emplace_back(w);
      } else {
        c.insert(c.end(), used[t].words.begin(), used[t].words.end());
      }
      term_end.push_back(c.size() - 2);
    }
    return c;
  };
  std::vector<SearchHit> out;
  // Round trips dominate on a busy host, so batches grow fast.
  std::size_t batch = 32;
  bool more = true;
  for (std::size_t start = 0; more && out.size() < limit;
       start += batch, batch = std::min<std::size_t>(batch * 8, 2048)) {
    auto next = nextBatch(start, batch);
    if (!next) return next.status();
    const std::vector<std::pair<std::string, EpochMillis>>& chunk = *next;
    more = chunk.size() == batch;
    if (chunk.empty()) break;
    cmds.clear();
    std::vector<std::vector<std::size_t>> term_ends(chunk.size());
    for (std::size_t s = 0; s < chunk.size(); ++s)
      cmds.push_back(postingsCommand(chunk[s].first, term_ends[s]));
    auto got = pool_->run(cmds);
    ++round_trips;
    scanned_sessions += chunk.size();
    if (!got) return got.status();
    struct Cand {
      std::string sid;
      SessionMeta meta;
      std::vector<std::uint32_t> idx;
    };
    std::vector<Cand> sessions;
    for (std::size_t s = 0; s < chunk.size(); ++s) {
      const redisReply* post = (*got)[s].get();
      if (!post || post->type != REDIS_REPLY_ARRAY) continue;
      const std::vector<std::size_t>& term_end = term_ends[s];
      if (post->elements != (term_end.empty() ? 0 : term_end.back())) continue;
      std::vector<std::uint32_t> acc;
      std::size_t w = 0;
      for (std::size_t t = 0; t < term_end.size(); ++t) {
        std::vector<std::uint32_t> term;
        for (; w < term_end[t]; ++w) decodePostings(post->element[w], term);
        sortUnique(term);
        if (t == 0) {
          acc = std::move(term);
        } else {
          std::vector<std::uint32_t> both;
          std::set_intersection(acc.begin(), acc.end(), term.begin(), term.end(),
                                std::back_inserter(both));
          acc = std::move(both);
        }
        if (acc.empty()) break;
      }
      if (!acc.empty()) {
        SessionMeta meta;
        meta.started_at = chunk[s].second;
        sessions.push_back({chunk[s].first, std::move(meta), std::move(acc)});
      }
    }
    // Session records only for sessions that still have candidates: when
    // the terms never meet, most sessions need none.
    if (!sessions.empty()) {
      cmds.clear();
      for (const Cand& c : sessions) cmds.push_back(metaCommand(c.sid));
      auto metas = pool_->run(cmds);
      ++round_trips;
      if (!metas) return metas.status();
      for (std::size_t s = 0; s < sessions.size(); ++s)
        sessions[s].meta = parseMeta((*metas)[s].get(), sessions[s].meta.started_at);
      std::erase_if(sessions, [&f](const Cand& c) { return !metaPasses(f, c.meta); });
    }
    // Fetch candidates across sessions in bounded pipelines. When one
    // session alone has more hits than fit, the cut keeps the first ones in
    // append order (then sorted by t_ms).
    std::size_t si = 0, ki = 0;      // next candidate to fetch
    std::size_t cur = SIZE_MAX;      // session whose hits are in session_hits
    std::vector<SearchHit> session_hits;
    while (si < sessions.size() && out.size() + session_hits.size() < limit) {
      const std::size_t budget =
          std::max<std::size_t>((limit - out.size() - session_hits.size()) * 3, 384);
      std::vector<std::pair<std::size_t, std::uint32_t>> fetch;
      cmds.clear();
      while (si < sessions.size() && fetch.size() < budget) {
        const std::uint32_t idx = sessions[si].idx[ki];
        fetch.emplace_back(si, idx);
        cmds.push_back({"LINDEX", eventsKey(sessions[si].sid), std::to_string(idx)});
        if (++ki == sessions[si].idx.size()) {
          ++si;
          ki = 0;
        }
      }
      auto evs = pool_->run(cmds);
      ++round_trips;
      fetched += fetch.size();
      if (!evs) return evs.status();
      for (std::size_t i = 0; i < fetch.size(); ++i) {
        const std::size_t s = fetch[i].first;
        if (s != cur) {
          emitSession(session_hits, out, limit);
          cur = s;
        }
        auto e = decodeEvent(redis::text((*evs)[i].get()));
        if (e && isSearchableKind(e->kind) && matchesQuery(q, e->text))
          session_hits.push_back(makeHit(sessions[s].sid, sessions[s].meta, std::move(*e)));
      }
    }
    emitSession(session_hits, out, limit);
  }
  spdlog::debug("search terms={} walk={} candidate_sessions={} sessions_read={} events_fetched={} "
                "round_trips={} sets_ms={:.2f} total_ms={:.2f} hits={}",
                used.size(), walk, order.size(), scanned_sessions, fetched, round_trips, t_sets, since(),
                out.size());
  return out;
}

Result<std::vector<SearchHit>> RedisStore::scanSearch(const SearchQuery& q, const SessionFilter& f,
                                                      std::size_t limit) {
  // No indexable word (e.g. "x" or "&&"): read sessions newest first until
  // the limit is reached. Slow only when few events match.
  constexpr std::size_t kPage = 16;
  const std::string key = indexFor(f);
  std::vector<SearchHit> out;
  for (std::size_t offset = 0; out.size() < limit; offset += kPage) {
    auto ids = pool_->run({{"ZREVRANGEBYSCORE", key, scoreMax(f), scoreMin(f), "LIMIT",
                            std::to_string(offset), std::to_string(kPage)}});
    if (!ids) return ids.status();
    std::vector<std::string> batch = strings((*ids)[0].get());
    if (batch.empty()) break;
    std::vector<Command> cmds;
    for (const std::string& sid : batch) {
      cmds.push_back(metaCommand(sid));
      cmds.push_back({"LRANGE", eventsKey(sid), "0", "-1"});
    }
    auto got = pool_->run(cmds);
    if (!got) return got.status();
    for (std::size_t i = 0; i < batch.size() && out.size() < limit; ++i) {
      SessionMeta meta = parseMeta((*got)[2 * i].get(), 0);
      if (!metaPasses(f, meta)) continue;
      std::vector<SearchHit> session_hits;
      for (const std::string& s : strings((*got)[2 * i + 1].get())) {
        auto e = decodeEvent(s);
        if (e && isSearchableKind(e->kind) && matchesQuery(q, e->text))
          session_hits.push_back(makeHit(batch[i], meta, std::move(*e)));
      }
      emitSession(session_hits, out, limit);
    }
    if (batch.size() < kPage) break;
  }
  return out;
}

Status RedisStore::putCode(const CodeRecord& c) {
  if (c.id.empty()) return Status::Error("access code record has no id");
  if (c.expires_at <= epochNowMs()) return Status::Error("access code already expired; give a longer ttl");
  const Json j = {{"user", c.user},       {"target", c.target},
                  {"expires_at", c.expires_at}, {"sealed", c.sealed},
                  {"issued_by", c.issued_by}};
  auto r = pool_->run({{"SET", codeKey(c.id), dumpJson(j), "PXAT", std::to_string(c.expires_at)},
                       {"ZADD", codesKey(c.target), std::to_string(c.expires_at), c.id}});
  if (!r) return r.status();
  return firstError(*r, "storing an access code");
}

Result<std::optional<CodeRecord>> RedisStore::takeCode(const std::string& id) {
  // GETDEL is atomic: of two concurrent takers exactly one gets the record.
  auto r = pool_->run({{"GETDEL", codeKey(id)}});
  if (!r) return r.status();
  const redisReply* rep = (*r)[0].get();
  if (Status st = redis::replyStatus(rep, "taking an access code"); !st.ok()) return st;
  if (redis::isNil(rep)) return std::optional<CodeRecord>();
  auto c = decodeCode(id, redis::text(rep));
  if (!c) return std::optional<CodeRecord>();
  if (auto z = pool_->run({{"ZREM", codesKey(c->target), id}}); !z)
    spdlog::debug("access code index cleanup failed: {}", z.message());
  if (c->expires_at <= epochNowMs()) return std::optional<CodeRecord>();
  return std::optional<CodeRecord>(std::move(*c));
}

Result<std::vector<CodeRecord>> RedisStore::codesForTarget(const std::string& target) {
  const EpochMillis now = epochNowMs();
  auto r = pool_->run({{"ZREMRANGEBYSCORE", codesKey(target), "-inf", std::to_string(now)},
                       {"ZRANGE", codesKey(target), "0", "-1"}});
  if (!r) return r.status();
  if (Status st = firstError(*r, "listing access codes"); !st.ok()) return st;
  std::vector<std::string> ids = strings((*r)[1].get());
  std::vector<CodeRecord> out;
  if (ids.empty()) return out;
  Command mget = {"MGET"};
  for (const std::string& id : ids) mget.push_back(codeKey(id));
  auto vals = pool_->run({mget});
  if (!vals) return vals.status();
  const redisReply* arr = (*vals)[0].get();
  Command gone = {"ZREM", codesKey(target)};
  for (std::size_t i = 0; i < ids.size() && arr && i < arr->elements; ++i) {
    auto c = redis::isNil(arr->element[i]) ? std::nullopt
                                           : decodeCode(ids[i], redis::text(arr->element[i]));
    if (!c) {
      gone.push_back(ids[i]);  // taken or expired meanwhile
      continue;
    }
    if (c->expires_at > now && c->target == target) out.push_back(std::move(*c));
  }
  if (gone.size() > 2) {
    if (auto z = pool_->run({gone}); !z) spdlog::debug("access code index cleanup failed: {}", z.message());
  }
  return out;
}

Status RedisStore::putRefusal(const RefusalRecord& r) {
  if (r.id.empty()) return Status::Error("refusal record has no id");
  if (r.retain.count() <= 0) return Status::Error("refusal " + r.id + " has no retention");
  const long long retain = r.retain.count();
  std::vector<std::string> args = {r.id,
                                   r.aggregate ? "1" : "0",
                                   std::to_string(r.at),
                                   std::to_string(r.at + retain),
                                   std::to_string(r.at - retain),
                                   validUtf8(r.user),
                                   validUtf8(r.target),
                                   r.protocol,
                                   validUtf8(r.client_addr),
                                   r.node,
                                   validUtf8(r.reason),
                                   std::to_string(kMaxClaimedNames),
                                   std::to_string(kMaxAggregateEvents),
                                   refusalToken()};
  auto rep = pool_->run({redis::eval(kRefusalLua, args)});
  if (!rep) return rep.status();
  return redis::replyStatus((*rep)[0].get(), "recording refusal " + r.id);
}

EpochMillis RedisStore::now() const { return audit_.now ? audit_.now() : epochNowMs(); }

Status RedisStore::storeCheckpoint(std::uint64_t seq, const std::string& hash, EpochMillis t) {
  const Checkpoint cp = auditCheckpoint(seq, hash, t, *audit_.signer);
  auto r = pool_->run({redis::eval(kAuditCheckpointLua, {std::to_string(seq), cp.toJson()})});
  if (!r) return r.status();
  return redis::replyStatus((*r)[0].get(), "storing the audit checkpoint");
}

Status RedisStore::checkpointAudit() {
  if (!audit_.signer) return Status::Error("no signing key: the audit log is not signed");
  auto r = pool_->run({{"HMGET", kAuditHead, "seq", "hash"}, {"GET", kAuditCheckpoint}});
  if (!r) return r.status();
  if (Status st = firstError(*r, "reading the audit head"); !st.ok()) return st;
  const std::vector<std::string> head = strings((*r)[0].get());
  const auto seq = head.size() == 2 ? static_cast<std::uint64_t>(toLong(head[0])) : 0;
  if (seq == 0) return Status::Ok();
  if (!redis::isNil((*r)[1].get())) {
    auto cp = Checkpoint::fromJson(redis::text((*r)[1].get()));
    if (cp.ok() && cp->events >= seq) return Status::Ok();
  }
  const EpochMillis t = now();
  if (Status st = storeCheckpoint(seq, head[1], t); !st.ok()) return st;
  std::lock_guard lock(head_mu_);
  last_checkpoint_ = std::max(last_checkpoint_, t);
  return Status::Ok();
}

Status RedisStore::appendAudit(const AuditEntry& a) {
  const std::string nonce = auditNonce();
  const EpochMillis now = this->now();
  const std::string cutoff = std::to_string(now - audit_.retain.count());
  std::lock_guard lock(head_mu_);
  if (head_hash_.empty()) head_hash_ = kAuditGenesis;
  // Each conflict means another node's entry went in: the log moves on, so a
  // conflict-free attempt comes soon; the bound only stops a broken server
  // from spinning us forever.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const ChainedAudit c = chainAudit(a, head_seq_ + 1, head_hash_, nonce);
    auto r = pool_->run({redis::eval(kAuditAppendLua,
                                     {std::to_string(head_seq_), head_hash_, encodeAudit(c), c.hash,
                                      cutoff, std::to_string(kAuditTrimPerAppend), kAuditGenesis})});
    if (!r) return r.status();
    const redisReply* rep = (*r)[0].get();
    if (Status st = redis::replyStatus(rep, "writing the audit log"); !st.ok()) return st;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3)
      return Status::Error("writing the audit log: unexpected reply from Redis");
    const std::string_view outcome = redis::text(rep->element[0]);
    head_seq_ = static_cast<std::uint64_t>(toLong(redis::text(rep->element[1])));
    head_hash_ = std::string(redis::text(rep->element[2]));
    if (outcome == "ok" || outcome == "applied") {
      if (outcome == "applied") {
        head_seq_ = c.entry.seq;  // ours, stored by a try that timed out
        head_hash_ = c.hash;
      }
      if (audit_.signer && now - last_checkpoint_ >= kAuditCheckpointEvery.count()) {
        // The entry is stored; a checkpoint that fails now is made by the next.
        if (Status st = storeCheckpoint(head_seq_, head_hash_, now); !st.ok())
          spdlog::warn("signing the audit log's head failed: {}", st.message());
        else
          last_checkpoint_ = now;
      }
      return Status::Ok();
    }
    // No back-off: the head just returned is the freshest we can know;
    // waiting would only let it move again.
  }
  return Status::Error("writing the audit log: the chain head kept moving (1000 tries)");
}

Result<std::vector<AuditEntry>> RedisStore::audit(std::size_t limit) {
  limit = effectiveLimit(limit);
  auto r = pool_->run({{"LRANGE", kAuditLog, "-" + std::to_string(limit), "-1"},
                       {"LRANGE", kAudit, "0", std::to_string(limit - 1)}});
  if (!r) return r.status();
  if (Status st = firstError(*r, "reading the audit log"); !st.ok()) return st;
  std::vector<AuditEntry> out;
  std::vector<std::string> chained = strings((*r)[0].get());
  for (auto it = chained.rbegin(); it != chained.rend(); ++it)
    if (auto c = decodeAudit(*it)) out.push_back(std::move(c->entry));
  // Entries written before the chain (vigil:audit, newest first) come after.
  for (const std::string& s : strings((*r)[1].get())) {
    if (out.size() >= limit) break;
    if (auto e = decodeLegacyAudit(s)) out.push_back(std::move(*e));
  }
  return out;
}

Status RedisStore::putAlert(const AlertRecord& a) {
  // `n` keeps two equal alerts in the same millisecond two members.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const Json j = {{"session_id", a.session_id}, {"t_ms", a.t_ms}, {"at", a.at},
                  {"rule", a.rule},             {"severity", a.severity}, {"text", a.text},
                  {"user", a.user},             {"target", a.target},     {"n", rng()}};
  auto r = pool_->run({{"ZADD", kAlerts, std::to_string(a.at), dumpJson(j)},
                       {"ZREMRANGEBYRANK", kAlerts, "0", std::to_string(-static_cast<long long>(kAlertCap) - 1)}});
  if (!r) return r.status();
  return firstError(*r, "writing an alert");
}

Result<std::vector<AlertRecord>> RedisStore::alerts(EpochMillis since, std::size_t limit) {
  limit = effectiveLimit(limit);
  auto r = pool_->run({{"ZREVRANGEBYSCORE", kAlerts, "+inf", std::to_string(since), "LIMIT", "0",
                        std::to_string(limit)}});
  if (!r) return r.status();
  if (Status st = redis::replyStatus((*r)[0].get(), "reading alerts"); !st.ok()) return st;
  std::vector<AlertRecord> out;
  for (const std::string& s : strings((*r)[0].get())) {
    Json j = Json::parse(s, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    AlertRecord a;
    a.session_id = j.value("session_id", "");
    a.t_ms = j.value("t_ms", Millis{0});
    a.at = j.value("at", EpochMillis{0});
    a.rule = j.value("rule", "");
    a.severity = j.value("severity", "");
    a.text = j.value("text", "");
    a.user = j.value("user", "");
    a.target = j.value("target", "");
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<AuditEntry>> RedisStore::findAudit(const AuditFilter& f) {
  // Newest first, 1 000 per round trip, until `since` is well passed (the
  // chain is in append order; nodes' clocks may differ a little) or the
  // limit is met. Entries from before the chain are not searched.
  constexpr long long kPage = 1000;
  constexpr EpochMillis kClockSlack = 5 * 60 * 1000;
  const std::size_t limit = effectiveLimit(f.limit);
  std::vector<AuditEntry> out;
  std::uint64_t below = UINT64_MAX;  // appends meanwhile shift the pages: skip what was seen
  for (long long end = -1;; end -= kPage) {
    auto r = pool_->run({{"LRANGE", kAuditLog, std::to_string(end - kPage + 1), std::to_string(end)}});
    if (!r) return r.status();
    if (Status st = redis::replyStatus((*r)[0].get(), "reading the audit log"); !st.ok()) return st;
    const std::vector<std::string> page = strings((*r)[0].get());
    bool passed = false;
    for (auto it = page.rbegin(); it != page.rend(); ++it) {
      auto c = decodeAudit(*it);
      if (!c || c->entry.seq >= below) continue;
      below = c->entry.seq;
      if (f.since && c->entry.at < *f.since - kClockSlack) passed = true;
      if (f.matches(c->entry)) {
        out.push_back(std::move(c->entry));
        if (out.size() >= limit) return out;
      }
    }
    // LRANGE with negative indexes clamps at the oldest entry: a short page is the end.
    if (passed || page.size() < static_cast<std::size_t>(kPage)) return out;
  }
}

Result<AuditVerify> RedisStore::verifyAudit() {
  std::optional<PublicKey> key = audit_.verify_key;
  if (!key && audit_.signer) key = audit_.signer->publicKey();
  std::optional<Checkpoint> cp;
  if (key) {
    auto r = pool_->run({{"GET", kAuditCheckpoint}});
    if (!r) return r.status();
    if (Status st = redis::replyStatus((*r)[0].get(), "reading the audit checkpoint"); !st.ok())
      return st;
    if (!redis::isNil((*r)[0].get())) {
      auto parsed = Checkpoint::fromJson(redis::text((*r)[0].get()));
      if (!parsed.ok() || parsed->subject != "audit" || !parsed->verify(*key)) {
        AuditVerify bad;
        bad.detail = "the audit log's signed checkpoint does not verify with the deployment key";
        return bad;
      }
      cp = *parsed;
    }
  }
  std::optional<std::pair<std::uint64_t, std::string>> signed_head;
  if (cp) signed_head.emplace(cp->events, toHex(cp->event_head));
  // A page is read with the head in one script, so appends meanwhile are
  // seen whole; if age trimming passes our position we start again.
  for (int round = 0; round < 4; ++round) {
    bool trimmed = false;
    std::optional<std::uint64_t> base;
    std::string start_prev;
    auto page = [&](std::uint64_t pos, std::size_t n) -> Result<AuditPage> {
      auto r = pool_->run({redis::eval(kAuditPageLua, {base ? std::to_string(*base) : "",
                                                       std::to_string(pos), std::to_string(n),
                                                       kAuditGenesis})});
      if (!r) return r.status();
      const redisReply* rep = (*r)[0].get();
      if (Status st = redis::replyStatus(rep, "reading the audit log"); !st.ok()) return st;
      if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
        return Status::Error("reading the audit log: unexpected reply from Redis");
      if (redis::text(rep->element[0]) == "trimmed") {
        trimmed = true;
        return Status::Error("the audit log was trimmed while being read");
      }
      if (rep->elements < 6) return Status::Error("reading the audit log: unexpected reply from Redis");
      AuditPage p;
      p.head_seq = static_cast<std::uint64_t>(toLong(redis::text(rep->element[1])));
      p.head_hash = std::string(redis::text(rep->element[2]));
      if (!base) {
        base = static_cast<std::uint64_t>(toLong(redis::text(rep->element[3])));
        start_prev = std::string(redis::text(rep->element[4]));
      }
      p.items = strings(rep->element[5]);
      return p;
    };
    if (auto first = page(0, 0); !first) return first.status();
    auto v = walkAudit(*base, start_prev, page, signed_head);
    if (v.ok()) {
      if (key) describeAuditSigning(*v, cp);
      return v;
    }
    if (!trimmed) return v;
  }
  return Status::Error("the audit log is trimmed faster than it can be read; try again");
}

Status RedisStore::putCheckpoint(const std::string& session_id,
                                 const std::string& checkpoint_json) {
  auto r = pool_->run({{"RPUSH", checkpointsKey(session_id), checkpoint_json}});
  if (!r) return r.status();
  return redis::replyStatus((*r)[0].get(), "storing a checkpoint of session " + session_id);
}

Result<std::vector<std::string>> RedisStore::checkpoints(const std::string& session_id) {
  auto r = pool_->run({{"LRANGE", checkpointsKey(session_id), "0", "-1"}});
  if (!r) return r.status();
  if (Status st = redis::replyStatus((*r)[0].get(), "reading checkpoints"); !st.ok()) return st;
  return strings((*r)[0].get());
}

Result<std::vector<Event>> RedisStore::eventsInAppendOrder(const std::string& session_id) {
  auto r = pool_->run({{"LRANGE", eventsKey(session_id), "0", "-1"}});
  if (!r) return r.status();
  if (Status st = redis::replyStatus((*r)[0].get(), "reading events"); !st.ok()) return st;
  std::vector<Event> out;
  for (const std::string& s : strings((*r)[0].get())) {
    auto e = decodeEvent(s);
    out.push_back(e ? std::move(*e)
                    : Event{0, EventKind::Lifecycle, "<unreadable: " + s.substr(0, 200) + ">", {}});
  }
  return out;
}

}  // namespace vigil::storage
