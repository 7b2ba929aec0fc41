#include "storage/hash_chain.h"

#include <sodium.h>

#include <cstring>

#include <nlohmann/json.hpp>

namespace vigil::storage {

namespace {

void putU64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void putBytes(std::string& out, std::string_view s) {
  const auto n = static_cast<std::uint32_t>(s.size());
  for (int i = 3; i >= 0; --i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(s);
}

}  // namespace

Digest sha256(const void* data, std::size_t n) {
  Digest d{};
  crypto_hash_sha256(d.data(), static_cast<const unsigned char*>(data), n);
  return d;
}

Digest sha256(std::string_view bytes) { return sha256(bytes.data(), bytes.size()); }

std::string toHex(const Digest& d) {
  std::string out;
  out.reserve(64);
  for (auto b : d) out += "0123456789abcdef"[b >> 4], out += "0123456789abcdef"[b & 15];
  return out;
}

std::optional<Digest> digestFromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  Digest d{};
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 32; ++i) {
    const int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return d;
}

std::string eventBytes(const Event& e) {
  std::string out;
  out.reserve(24 + e.text.size() + e.window.size());
  putU64(out, static_cast<std::uint64_t>(e.t_ms));
  putBytes(out, toString(e.kind));
  putBytes(out, e.text);
  putBytes(out, e.window);
  // Only clipboard events carry it; events without one hash as they always did.
  if (e.direction) putBytes(out, toString(*e.direction));
  return out;
}

Digest HashChain::next(const Digest& head, ChainKind kind, std::uint64_t index,
                       const Digest& item_digest) {
  std::string buf;
  buf.reserve(32 + 1 + 8 + 32);
  buf.append(reinterpret_cast<const char*>(head.data()), head.size());
  buf += static_cast<char>(kind);
  putU64(buf, index);
  buf.append(reinterpret_cast<const char*>(item_digest.data()), item_digest.size());
  return sha256(buf);
}

const Digest& HashChain::append(const Digest& item_digest) {
  head_ = next(head_, kind_, count_, item_digest);
  ++count_;
  return head_;
}

std::string Checkpoint::signedBytes() const {
  std::string s = "vigil-checkpoint-v1\n";
  s += "subject=" + subject + "\n";
  s += "fragments=" + std::to_string(fragments) + "\n";
  s += "fragment_bytes=" + std::to_string(fragment_bytes) + "\n";
  s += "fragment_head=" + toHex(fragment_head) + "\n";
  s += "events=" + std::to_string(events) + "\n";
  s += "event_head=" + toHex(event_head) + "\n";
  s += "t_ms=" + std::to_string(t_ms) + "\n";
  s += "signed_at=" + std::to_string(signed_at) + "\n";
  s += std::string("final=") + (final ? "1" : "0") + "\n";
  return s;
}

bool Checkpoint::verify(const PublicKey& key) const {
  return verifySignature(key, signedBytes(), signature);
}

std::string Checkpoint::toJson() const {
  nlohmann::ordered_json j;
  j["v"] = 1;
  j["subject"] = subject;
  j["fragments"] = fragments;
  j["fragment_bytes"] = fragment_bytes;
  j["fragment_head"] = toHex(fragment_head);
  j["events"] = events;
  j["event_head"] = toHex(event_head);
  j["t_ms"] = t_ms;
  j["signed_at"] = signed_at;
  j["final"] = final;
  j["sig"] = toBase64(std::string_view(reinterpret_cast<const char*>(signature.data()),
                                       signature.size()));
  return j.dump();
}

Result<Checkpoint> Checkpoint::fromJson(std::string_view json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Error("checkpoint is not a JSON object");
  try {
    if (j.at("v").get<int>() != 1) return Status::Error("checkpoint of an unknown version");
    Checkpoint c;
    c.subject = j.at("subject").get<std::string>();
    c.fragments = j.at("fragments").get<std::uint64_t>();
    c.fragment_bytes = j.at("fragment_bytes").get<std::uint64_t>();
    c.events = j.at("events").get<std::uint64_t>();
    c.t_ms = j.at("t_ms").get<Millis>();
    c.signed_at = j.at("signed_at").get<EpochMillis>();
    c.final = j.at("final").get<bool>();
    auto fh = digestFromHex(j.at("fragment_head").get<std::string>());
    auto eh = digestFromHex(j.at("event_head").get<std::string>());
    if (!fh || !eh) return Status::Error("checkpoint head is not 64 hex digits");
    c.fragment_head = *fh;
    c.event_head = *eh;
    auto sig = fromBase64(j.at("sig").get<std::string>());
    if (!sig || sig->size() != c.signature.size())
      return Status::Error("checkpoint signature is not 64 bytes of base64");
    std::memcpy(c.signature.data(), sig->data(), c.signature.size());
    return c;
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("checkpoint field missing or mistyped: ") + e.what());
  }
}

}  // namespace vigil::storage
