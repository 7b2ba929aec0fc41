#include "storage/audit_chain.h"

#include "storage/hash_chain.h"

#include <sodium.h>

#include <array>
#include <deque>
#include <nlohmann/json.hpp>

#include "core/clock.h"

namespace vigil::storage {
namespace {

using Json = nlohmann::json;

void putField(std::string& out, std::string_view v) {
  const auto n = static_cast<std::uint32_t>(v.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(v);
}

std::string hexOf(const unsigned char* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

std::string validUtf8(const std::string& s) {
  Json j = Json::parse(Json(s).dump(-1, ' ', false, Json::error_handler_t::replace), nullptr, false);
  return j.is_string() ? j.get<std::string>() : std::string();
}

bool isHash(const std::string& h) {
  if (h.size() != 64) return false;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string entryName(std::uint64_t seq) { return "audit entry " + std::to_string(seq); }

}  // namespace

std::string auditEntryBytes(const AuditEntry& e, std::string_view nonce) {
  std::string out;
  out.reserve(64 + e.actor.size() + e.action.size() + e.object.size() + e.detail.size());
  putField(out, std::to_string(e.seq));
  putField(out, std::to_string(e.at));
  putField(out, e.actor);
  putField(out, e.action);
  putField(out, e.object);
  putField(out, e.detail);
  putField(out, nonce);
  return out;
}

std::string auditChainHash(std::string_view prev_hex, std::uint64_t seq, std::string_view bytes) {
  const auto prev = digestFromHex(prev_hex);
  if (!prev || seq == 0) return {};
  return toHex(HashChain::next(*prev, ChainKind::Audit, seq - 1, sha256(bytes)));
}

ChainedAudit chainAudit(AuditEntry e, std::uint64_t seq, const std::string& prev,
                        std::string nonce) {
  ChainedAudit c;
  e.seq = seq;
  e.actor = validUtf8(e.actor);
  e.action = validUtf8(e.action);
  e.object = validUtf8(e.object);
  e.detail = validUtf8(e.detail);
  c.entry = std::move(e);
  c.nonce = std::move(nonce);
  c.prev = prev;
  c.hash = auditChainHash(prev, c.entry.seq, auditEntryBytes(c.entry, c.nonce));
  return c;
}

std::string auditNonce() {
  std::array<unsigned char, 8> b{};
  randombytes_buf(b.data(), b.size());
  return hexOf(b.data(), b.size());
}

std::string encodeAudit(const ChainedAudit& c) {
  const Json j = {{"seq", c.entry.seq},       {"at", c.entry.at},         {"actor", c.entry.actor},
                  {"action", c.entry.action}, {"object", c.entry.object}, {"detail", c.entry.detail},
                  {"nonce", c.nonce},         {"prev", c.prev},           {"hash", c.hash}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<ChainedAudit> decodeAudit(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  try {
    ChainedAudit c;
    c.entry.seq = j.at("seq").get<std::uint64_t>();
    c.entry.at = j.at("at").get<EpochMillis>();
    c.entry.actor = j.at("actor").get<std::string>();
    c.entry.action = j.at("action").get<std::string>();
    c.entry.object = j.at("object").get<std::string>();
    c.entry.detail = j.at("detail").get<std::string>();
    c.nonce = j.at("nonce").get<std::string>();
    c.prev = j.at("prev").get<std::string>();
    c.hash = j.at("hash").get<std::string>();
    return c;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::optional<AuditEntry> decodeLegacyAudit(std::string_view json) {
  Json j = Json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  AuditEntry a;
  a.at = j.value("at", EpochMillis{0});
  a.actor = j.value("actor", "");
  a.action = j.value("action", "");
  a.object = j.value("object", "");
  a.detail = j.value("detail", "");
  return a;
}

Checkpoint auditCheckpoint(std::uint64_t head_seq, const std::string& head_hash,
                           EpochMillis now, const SigningKey& key) {
  Checkpoint cp;
  cp.subject = "audit";
  cp.events = head_seq;
  cp.event_head = digestFromHex(head_hash).value_or(Digest{});
  cp.signed_at = now;
  cp.sign(key);
  return cp;
}

// Adds what the signed checkpoint covers to a walk's result.
void describeAuditSigning(AuditVerify& v, const std::optional<Checkpoint>& cp) {
  if (!cp) {
    if (v.intact && v.entries > 0) v.detail += "; no signed checkpoint yet";
    return;
  }
  v.signature_checked = true;
  v.signed_seq = cp->events;
  v.signed_at = cp->signed_at;
  if (v.intact)
    v.detail += "; signed up to entry " + std::to_string(cp->events) + " at " +
                formatRfc3339(cp->signed_at);
}

Result<AuditVerify> walkAudit(
    std::uint64_t start_seq, const std::string& start_prev, const AuditPager& pager,
    const std::optional<std::pair<std::uint64_t, std::string>>& signed_head) {
  constexpr std::size_t kPage = 1000;
  constexpr std::size_t kLookahead = 64;  // how far a moved entry is looked for
  std::deque<std::string> buf;
  std::uint64_t pos = 0;
  bool done = false;
  std::uint64_t head_seq = 0;
  std::string head_hash;
  auto fill = [&]() -> Status {
    while (!done && buf.size() <= kLookahead) {
      auto p = pager(pos, kPage);
      if (!p) return p.status();
      pos += p->items.size();
      for (std::string& s : p->items) buf.push_back(std::move(s));
      head_seq = p->head_seq;
      head_hash = p->head_hash;
      if (p->items.size() < kPage) done = true;
    }
    return Status::Ok();
  };

  AuditVerify v;
  v.first_seq = start_seq;
  std::uint64_t expected = start_seq;
  std::string prev = start_prev;
  auto consistent = [](const ChainedAudit& c) {
    return isHash(c.hash) && auditChainHash(c.prev, c.entry.seq, auditEntryBytes(c.entry, c.nonce)) == c.hash;
  };
  auto chains = [&](const ChainedAudit& c, const std::string& p) {
    return c.prev == p && consistent(c);
  };
  auto fail = [&](std::uint64_t seq, std::string detail) {
    v.intact = false;
    v.bad_seq = seq;
    v.detail = std::move(detail);
    return v;
  };

  if (!isHash(start_prev)) return fail(start_seq, "the audit log's start record is damaged");
  for (;;) {
    if (Status st = fill(); !st.ok()) return st;
    if (buf.empty()) break;
    const auto c = decodeAudit(buf.front());
    if (!c) return fail(expected, entryName(expected) + " changed (not readable)");
    const std::uint64_t s = c->entry.seq;
    if (s == expected) {
      if (!chains(*c, prev)) {
        if (buf.size() > 1) {
          const auto next = decodeAudit(buf[1]);
          if (next && next->entry.seq == expected && chains(*next, prev))
            return fail(expected, "an entry was inserted before " + entryName(expected));
        }
        if (c->prev != prev && consistent(*c) && expected > start_seq)
          return fail(expected - 1, entryName(expected - 1) + " changed (" + entryName(expected) +
                                        " does not chain to it)");
        if (c->prev != prev && consistent(*c))
          return fail(expected, "the audit log's start was changed (" + entryName(expected) +
                                    " does not chain to it)");
        return fail(expected, entryName(expected) + " changed");
      }
    } else if (s > expected) {
      for (std::size_t j = 1; j < buf.size(); ++j) {
        const auto later = decodeAudit(buf[j]);
        if (!later || later->entry.seq != expected) continue;
        if (consistent(*c))
          return fail(expected, entryName(expected) + " out of order (found after entry " +
                                    std::to_string(s) + ")");
        return fail(expected, "an entry was inserted before " + entryName(expected));
      }
      if (s == expected + 1) return fail(expected, entryName(expected) + " missing");
      return fail(expected, "audit entries " + std::to_string(expected) + ".." +
                                std::to_string(s - 1) + " missing");
    } else {
      if (expected == start_seq)
        return fail(expected, "an entry was inserted before " + entryName(expected));
      return fail(expected - 1, "an entry was inserted after " + entryName(expected - 1));
    }
    if (signed_head && signed_head->first == expected && signed_head->second != c->hash)
      return fail(expected, entryName(expected) + " does not match the signed checkpoint");
    prev = c->hash;
    v.last_seq = expected;
    ++v.entries;
    ++expected;
    buf.pop_front();
  }

  const std::uint64_t last = expected - 1;
  if (signed_head && signed_head->first > last && signed_head->first >= start_seq)
    return fail(last + 1, "the log ends at audit entry " + std::to_string(last) +
                              " but a signed checkpoint covers entries up to " +
                              std::to_string(signed_head->first) + " (entries removed)");
  if (head_seq == 0 && v.entries == 0) {
    v.intact = true;
    v.detail = "audit log intact: no entries";
    return v;
  }
  if (last < head_seq) {
    if (last + 1 == head_seq) return fail(head_seq, entryName(head_seq) + " missing");
    return fail(last + 1, "audit entries " + std::to_string(last + 1) + ".." +
                              std::to_string(head_seq) + " missing");
  }
  if (last > head_seq)
    return fail(head_seq, "an entry was inserted after " + entryName(head_seq) +
                              ", the newest (the log's head)");
  if (prev != head_hash)
    return fail(last, entryName(last) + " changed (it does not match the log's head)");
  v.intact = true;
  v.detail = "audit log intact: entries " + std::to_string(start_seq) + ".." + std::to_string(last);
  return v;
}

}  // namespace vigil::storage
