// SHA-256 hash chains and signed checkpoints of their heads (CONTRACT.md
// "Evidence"; docs/security.md "Evidence" describes the format).
//
// A chain is a sequence of items of one kind; its head after item i is
//   head(i+1) = SHA-256(head(i) || kind (1 byte) || i (uint64 big-endian) || SHA-256(item i))
// with head(0) = 32 zero bytes. Changing, dropping, inserting or reordering
// any item changes every later head. A session keeps two chains, its
// recording's fragments (kind 'F': the init segment, then each moof+mdat as
// written, then the trailer) and its events (kind 'E', in append order, each
// as eventBytes()); the audit log can keep one of kind 'A'.
//
// A Checkpoint states how far the chains went (counts, heads, session time)
// and is signed with the deployment's SigningKey over signedBytes(); a later
// checkpoint covers everything an earlier one did.
//
// Stable API (issue 17): other parts build on it; extend, do not change.
// HashChain is not thread-safe (one owner); the free functions are.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/event.h"
#include "core/status.h"
#include "storage/signing_key.h"

namespace vigil::storage {

using Digest = std::array<std::uint8_t, 32>;

Digest sha256(std::string_view bytes);
Digest sha256(const void* data, std::size_t n);
std::string toHex(const Digest& d);
std::optional<Digest> digestFromHex(std::string_view hex);

enum class ChainKind : std::uint8_t { Fragment = 'F', Event = 'E', Audit = 'A' };

// The bytes an event is hashed as: t_ms (int64 BE), then kind, text and
// window, each as uint32 BE length + bytes. Independent of any JSON layout.
std::string eventBytes(const Event& e);
inline Digest eventDigest(const Event& e) { return sha256(eventBytes(e)); }

class HashChain {
 public:
  explicit HashChain(ChainKind kind) : kind_(kind) {}
  // Resumes a chain known to have `count` items ending in `head`.
  HashChain(ChainKind kind, std::uint64_t count, const Digest& head)
      : kind_(kind), count_(count), head_(head) {}

  // Adds the next item, given its SHA-256; returns the new head.
  const Digest& append(const Digest& item_digest);
  const Digest& appendBytes(std::string_view item) { return append(sha256(item)); }

  const Digest& head() const { return head_; }
  std::uint64_t count() const { return count_; }  // items so far
  ChainKind kind() const { return kind_; }

  // One step of the chain, for verifiers that walk items themselves.
  static Digest next(const Digest& head, ChainKind kind, std::uint64_t index,
                     const Digest& item_digest);

 private:
  ChainKind kind_;
  std::uint64_t count_ = 0;
  Digest head_{};
};

struct Checkpoint {
  std::string subject;              // session id ("audit" for the audit log)
  std::uint64_t fragments = 0;      // items of the fragment chain covered
  std::uint64_t fragment_bytes = 0; // their total size: the recording's signed prefix
  std::uint64_t events = 0;         // items of the event (or audit) chain covered
  Millis t_ms = 0;                  // session time when signed
  EpochMillis signed_at = 0;        // wall clock when signed
  bool final = false;               // the session ended: nothing follows
  Digest fragment_head{};
  Digest event_head{};
  Signature signature{};

  // What is signed: a fixed text listing every field above but the signature.
  std::string signedBytes() const;
  void sign(const SigningKey& key) { signature = key.sign(signedBytes()); }
  bool verify(const PublicKey& key) const;

  // One-line JSON with every field (digests hex, signature base64), and back.
  std::string toJson() const;
  static Result<Checkpoint> fromJson(std::string_view json);
};

}  // namespace vigil::storage
