#include "gateway/auth/vnc_des.h"

#include <gtest/gtest.h>
#include <rfb/rfb.h>


namespace vigil::gateway::auth {
namespace {

VncBlock reference(const std::string& password, const VncBlock& challenge) {
  VncBlock out = challenge;
  std::string pw = password;  // rfbEncryptBytes takes a mutable C string
  rfbEncryptBytes(out.data(), pw.data());
  return out;
}

TEST(VncDes, MatchesLibvncserver) {
  VncBlock challenge{};
  for (std::size_t i = 0; i < challenge.size(); ++i)
    challenge[i] = static_cast<std::uint8_t>(i * 37 + 11);
  // (Not the empty password: libvncserver rejects the all-zero DES key.)
  for (const std::string pw : {"ABCD2345", "abcd2345", "secret12", "x", "longerthan8chars",
                               "\x7f\xff\x80zzzz"}) {
    EXPECT_EQ(vncResponse(pw, challenge), reference(pw, challenge)) << pw;
  }
}

TEST(VncDes, KnownVectors) {
  // Computed with libvncserver's rfbEncryptBytes and, independently, with
  // `openssl enc -des-ecb` keyed by the bit-reversed password.
  const VncBlock zero{};
  const VncBlock password_zero = {0xff, 0x97, 0x50, 0x2e, 0x94, 0x22, 0xf0, 0x89,
                                  0xff, 0x97, 0x50, 0x2e, 0x94, 0x22, 0xf0, 0x89};
  EXPECT_EQ(vncResponse("password", zero), password_zero);
  EXPECT_EQ(reference("password", zero), password_zero);

  VncBlock counting{};
  for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<std::uint8_t>(i);
  const VncBlock code_counting = {0x59, 0xc5, 0x2b, 0xf0, 0x99, 0x18, 0xb2, 0x83,
                                  0xf0, 0xb5, 0x89, 0x91, 0x53, 0x70, 0x68, 0x38};
  EXPECT_EQ(vncResponse("7KQ4M9XH", counting), code_counting);
}

TEST(VncDes, OnlyFirstEightBytesCount) {
  VncBlock challenge{};
  challenge.fill(0x5a);
  EXPECT_EQ(vncResponse("ABCDEFGH", challenge), vncResponse("ABCDEFGHIJK", challenge));
  EXPECT_NE(vncResponse("ABCDEFGH", challenge), vncResponse("ABCDEFGX", challenge));
}

}  // namespace
}  // namespace vigil::gateway::auth
