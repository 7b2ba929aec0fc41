#include "gateway/rdp/rfx_stream.h"

namespace vigil::gateway::rdp {
namespace {
constexpr std::uint16_t kWbtSync = 0xCCC0;
constexpr std::uint16_t kWbtChannels = 0xCCC2;
constexpr std::uint16_t kWbtContext = 0xCCC3;
constexpr std::size_t kBlockHeader = 6;  // blockType u16, blockLen u32

std::uint16_t u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | b[at + 1] << 8);
}
std::uint32_t u32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(u16(b, at)) | static_cast<std::uint32_t>(u16(b, at + 2)) << 16;
}
}  // namespace

std::optional<RfxHeader> readRfxHeader(std::span<const std::uint8_t> message) {
  RfxHeader h;
  bool context = false, channels = false;
  std::size_t at = 0;
  // Header blocks come first (SYNC, CONTEXT, CODEC_VERSIONS, CHANNELS in any
  // order); the first data block ends them.
  while (message.size() - at >= kBlockHeader) {
    const std::uint16_t type = u16(message, at);
    const std::uint32_t len = u32(message, at + 2);
    if (type < kWbtSync || type > kWbtContext) break;
    if (len < kBlockHeader || len > message.size() - at) return std::nullopt;
    const auto block = message.subspan(at, len);
    if (type == kWbtContext) {
      // codecId, channelId, ctxId (1 byte each), tileSize (2), properties (2)
      if (len < 13) return std::nullopt;
      h.properties = u16(block, 11);
      context = true;
    } else if (type == kWbtChannels) {
      // numChannels (1), then channelId (1), width (2), height (2) each
      if (len < 12 || block[6] == 0) return std::nullopt;
      h.width = u16(block, 8);
      h.height = u16(block, 10);
      channels = true;
    }
    at += len;
  }
  if (!context || !channels) return std::nullopt;
  return h;
}

}  // namespace vigil::gateway::rdp
