#include "gateway/auth/vnc_des.h"

// VNC authentication is pinned to single DES; OpenSSL 3 still ships the
// low-level DES functions but marks them deprecated.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/des.h>
#include <openssl/crypto.h>

#include <cstring>

namespace vigil::gateway::auth {
namespace {

std::uint8_t reverseBits(std::uint8_t b) {
  std::uint8_t r = 0;
  for (int i = 0; i < 8; ++i)
    if (b & (1u << i)) r |= static_cast<std::uint8_t>(0x80u >> i);
  return r;
}

}  // namespace

VncBlock vncResponse(std::string_view password, const VncBlock& challenge) {
  DES_cblock key{};
  for (std::size_t i = 0; i < 8 && i < password.size(); ++i)
    key[i] = reverseBits(static_cast<std::uint8_t>(password[i]));
  DES_key_schedule schedule;
  DES_set_key_unchecked(&key, &schedule);
  VncBlock out{};
  for (std::size_t half = 0; half < 2; ++half) {
    DES_cblock in, enc;
    std::memcpy(in, challenge.data() + half * 8, 8);
    DES_ecb_encrypt(&in, &enc, &schedule, DES_ENCRYPT);
    std::memcpy(out.data() + half * 8, enc, 8);
  }
  OPENSSL_cleanse(&key, sizeof key);
  OPENSSL_cleanse(&schedule, sizeof schedule);
  return out;
}

}  // namespace vigil::gateway::auth
