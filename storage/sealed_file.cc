#include "storage/sealed_file.h"

#include <sodium.h>

#include <cstring>

namespace vigil::storage {

namespace sealed {
bool hasMagic(const void* first8, std::size_t n) {
  return n >= sizeof kMagic && std::memcmp(first8, kMagic, sizeof kMagic) == 0;
}
}  // namespace sealed

namespace {
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == 24);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == sealed::kTagSize);
static_assert(sealed::kHeaderSize == 16 + 24 + 32 + 16);

void putU32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
}  // namespace

Result<std::unique_ptr<SealedWriter>> SealedWriter::create(const RecordingKey& kek) {
  if (sodium_init() < 0) return Status::Error("libsodium cannot start (no random source)");
  std::unique_ptr<SealedWriter> w(new SealedWriter());
  crypto_aead_xchacha20poly1305_ietf_keygen(w->key_.data());
  std::uint8_t h[sealed::kHeaderSize] = {};
  std::memcpy(h, sealed::kMagic, sizeof sealed::kMagic);
  h[8] = 1;  // version
  h[9] = 1;  // XChaCha20-Poly1305 IETF
  putU32(h + 12, kek.id);
  std::uint8_t* nonce = h + 16;
  randombytes_buf(nonce, 24);
  unsigned long long wrapped_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(h + 40, &wrapped_len, w->key_.data(), w->key_.size(),
                                             h, 16, nullptr, nonce, kek.bytes.data());
  w->header_.assign(reinterpret_cast<const char*>(h), sizeof h);
  return w;
}

SealedWriter::~SealedWriter() { sodium_memzero(key_.data(), key_.size()); }

void SealedWriter::seal(const std::uint8_t* data, std::size_t n, bool final, std::string& out) {
  const std::size_t at = out.size();
  const std::uint32_t clen = static_cast<std::uint32_t>(n + sealed::kTagSize);
  out.resize(at + 4 + clen);
  auto* p = reinterpret_cast<std::uint8_t*>(out.data()) + at;
  putU32(p, clen | (final ? sealed::kFinalBit : 0u));
  std::uint8_t nonce[24] = {};
  std::uint8_t ad[9] = {};
  for (int i = 0; i < 8; ++i) nonce[i] = ad[i] = static_cast<std::uint8_t>(index_ >> (8 * i));
  ad[8] = final ? 1 : 0;
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(p + 4, &written, data, n, ad, sizeof ad, nullptr,
                                             nonce, key_.data());
  ++index_;
}

}  // namespace vigil::storage
