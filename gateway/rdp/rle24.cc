#include "gateway/rdp/rle24.h"

#include <cstring>

namespace vigil::gateway::rdp {
namespace {

constexpr std::uint8_t kColorRun = 0x3, kColorImage = 0x4;           // regular order codes
constexpr std::uint8_t kMegaColorRun = 0xF3, kMegaColorImage = 0xF4;  // 16-bit counts
constexpr int kMinRun = 3;  // shorter runs cost more than the literal pixels

class Writer {
 public:
  Writer(std::uint8_t* out, std::size_t capacity) : out_(out), cap_(capacity) {}
  bool ok() const { return ok_; }
  std::size_t size() const { return n_; }

  void byte(std::uint8_t b) {
    if (n_ >= cap_) {
      ok_ = false;
      return;
    }
    out_[n_++] = b;
  }
  void bytes(const std::uint8_t* p, std::size_t len) {
    if (len > cap_ - n_) {
      ok_ = false;
      return;
    }
    std::memcpy(out_ + n_, p, len);
    n_ += len;
  }
  // An order header with its run length: 5 bits, one extra byte (+32), or
  // the 16-bit "mega mega" form.
  void header(std::uint8_t code, std::uint8_t mega, int count) {
    if (count < 32) {
      byte(static_cast<std::uint8_t>(code << 5 | count));
    } else if (count < 256 + 32) {
      byte(static_cast<std::uint8_t>(code << 5));
      byte(static_cast<std::uint8_t>(count - 32));
    } else {
      byte(mega);
      byte(static_cast<std::uint8_t>(count & 0xFF));
      byte(static_cast<std::uint8_t>(count >> 8));
    }
  }

 private:
  std::uint8_t* out_;
  std::size_t cap_, n_ = 0;
  bool ok_ = true;
};

}  // namespace

std::size_t encodeRle24(const std::uint8_t* src, std::size_t stride, int width, int height,
                        int padded_width, std::uint8_t* out, std::size_t capacity) {
  if (!src || !out || width <= 0 || height <= 0 || padded_width < width ||
      static_cast<long>(padded_width) * height > 0xFFFF)
    return 0;
  // The pixels in the order they are sent (bottom row first), as B,G,R.
  const int total = padded_width * height;
  auto pixel = [&](int i) {
    const int row = height - 1 - i / padded_width;
    const int col = i % padded_width < width ? i % padded_width : width - 1;
    return src + static_cast<std::size_t>(row) * stride + static_cast<std::size_t>(col) * 4;
  };
  auto same = [](const std::uint8_t* a, const std::uint8_t* b) {
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
  };

  Writer w(out, capacity);
  int literal_start = 0;
  auto flushLiterals = [&](int end) {
    if (end <= literal_start) return;
    w.header(kColorImage, kMegaColorImage, end - literal_start);
    for (int i = literal_start; i < end; ++i) w.bytes(pixel(i), 3);
  };
  int i = 0;
  while (i < total && w.ok()) {
    const std::uint8_t* p = pixel(i);
    int run = 1;
    while (i + run < total && same(pixel(i + run), p)) ++run;
    if (run >= kMinRun) {
      flushLiterals(i);
      w.header(kColorRun, kMegaColorRun, run);
      w.bytes(p, 3);
      i += run;
      literal_start = i;
    } else {
      i += run;
    }
  }
  flushLiterals(total);
  return w.ok() ? w.size() : 0;
}

}  // namespace vigil::gateway::rdp
