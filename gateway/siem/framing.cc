#include "gateway/siem/framing.h"

#include "gateway/siem/formatter.h"

namespace vigil::siem {

std::string octetCounted(std::string_view message) {
  std::string out = std::to_string(message.size());
  out.reserve(out.size() + 1 + message.size());
  out += ' ';
  out += message;
  return out;
}

std::string_view datagram(std::string_view message) { return cutUtf8(message, kMaxDatagram); }

}  // namespace vigil::siem
