// The sealed recording format: a recording encrypted at rest, written as
// records so that a crash leaves a readable prefix (docs/recording.md,
// "Encryption at rest"). On disk, all integers little-endian:
//
//   header  (88 bytes): magic "\x89VGLREC\n" | version u8 = 1 | aead u8 = 1
//           (XChaCha20-Poly1305 IETF) | reserved u16 = 0 | kek id u32 |
//           wrap nonce (24) | recording key sealed with the KEK (32 + 16 tag),
//           the first 16 header bytes as associated data.
//   record  u32 word: ciphertext length (plaintext + 16) in bits 0-30, bit 31
//           = last record of a finished file | ciphertext. Nonce = the record's
//           index (u64, zero-padded to 24 bytes), associated data = index u64
//           | final u8, so a record moved, dropped from the middle or
//           relabelled as the last fails to open.
//
// One record is one muxer write unit: record 0 the init segment (ftyp+moov),
// then each moof+mdat fragment as flushed, then the trailer (mfra, final).
// A record cut short by a crash (its length runs past the end of the file)
// is ignored by readers: the records before it are the recording.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "storage/key_ring.h"

namespace vigil::storage {

namespace sealed {
inline constexpr char kMagic[8] = {'\x89', 'V', 'G', 'L', 'R', 'E', 'C', '\n'};
inline constexpr std::size_t kHeaderSize = 88;
inline constexpr std::size_t kTagSize = 16;
inline constexpr std::size_t kRecordOverhead = 4 + kTagSize;  // per record, on top of the plaintext
inline constexpr std::uint32_t kFinalBit = 0x80000000u;
inline constexpr std::uint32_t kMaxCipherLen = 1u << 30;  // a longer length word is damage

// True when the first bytes of a file are a sealed header's magic.
bool hasMagic(const void* first8, std::size_t n);
}  // namespace sealed

// Seals one recording's write units. Holds that recording's own random key
// (wiped on destruction); does no I/O: the caller writes header() first and
// then each seal() output, in order. One thread at a time.
class SealedWriter {
 public:
  // A fresh recording key wrapped with `kek` (the key ring's current key).
  static Result<std::unique_ptr<SealedWriter>> create(const RecordingKey& kek);
  ~SealedWriter();
  SealedWriter(const SealedWriter&) = delete;
  SealedWriter& operator=(const SealedWriter&) = delete;

  const std::string& header() const { return header_; }
  // Appends record number records() holding data[0..n) to `out`. `final`
  // marks the trailer of a finished recording.
  void seal(const std::uint8_t* data, std::size_t n, bool final, std::string& out);
  std::uint64_t records() const { return index_; }

 private:
  SealedWriter() = default;
  std::array<std::uint8_t, 32> key_{};
  std::string header_;
  std::uint64_t index_ = 0;
};

}  // namespace vigil::storage
