// Interleaved RLE bitmaps at 24 bpp (MS-RDPBCGR 2.2.9.1.1.3.1.2.4), the
// format of mstsc's "True Color (24 bit)". FreeRDP 2's own 24 bpp encoder
// garbles every bitmap with a run in it (its out_copy_count_3 copies the
// literal pixels from past the run instead of from their start), so the
// gateway encodes this depth itself. Pure function: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil::gateway::rdp {

// Encodes `width` x `height` BGRX pixels at `src` (rows `stride` bytes
// apart) as one compressed bitmap `padded_width` pixels wide (>= width; the
// extra columns repeat each row's last pixel), bottom row first as RDP
// wants. Uses colour runs and colour images only, so the result never
// depends on the previous row. Returns the bytes written to `out`, or 0 when
// they would not fit in `capacity` (padded_width * height * 3 + 16 always
// does).
std::size_t encodeRle24(const std::uint8_t* src, std::size_t stride, int width, int height,
                        int padded_width, std::uint8_t* out, std::size_t capacity);

}  // namespace vigil::gateway::rdp
