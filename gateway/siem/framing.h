// How syslog messages travel: octet counting over TCP and TLS (RFC 6587
// 3.4.1, RFC 5425), one bounded datagram each over UDP (RFC 5426).
#pragma once

#include <string>
#include <string_view>

namespace vigil::siem {

// A UDP datagram carries at most this much (larger messages are cut, at a
// UTF-8 boundary): what receivers accept without IP fragmentation trouble.
inline constexpr std::size_t kMaxDatagram = 2048;

// "LEN SP MSG": LEN is MSG's length in bytes, in decimal.
std::string octetCounted(std::string_view message);
// `message` as one datagram: cut to kMaxDatagram bytes.
std::string_view datagram(std::string_view message);

}  // namespace vigil::siem
