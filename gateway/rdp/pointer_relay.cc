#include "gateway/rdp/pointer_relay.h"

#include <algorithm>
#include <string>

namespace vigil::gateway::rdp {
namespace {

std::size_t evenLine(std::size_t bytes) { return bytes + (bytes & 1); }

std::string size(int w, int h) { return std::to_string(w) + "x" + std::to_string(h); }

// Bytes of the update PDU body: the fixed fields, both masks, the pad byte,
// and room for the fast-path headers.
constexpr std::size_t kNewHeader = 2 + 14 + 1 + 16;
constexpr std::size_t kLargeHeader = 20 + 1 + 16;

}  // namespace

std::size_t pointerXorMaskBytes(int width, int height, int xor_bpp) {
  if (width <= 0 || height <= 0 || xor_bpp <= 0) return 0;
  return evenLine((static_cast<std::size_t>(width) * xor_bpp + 7) / 8) *
         static_cast<std::size_t>(height);
}

std::size_t pointerAndMaskBytes(int width, int height) {
  if (width <= 0 || height <= 0) return 0;
  return evenLine((static_cast<std::size_t>(width) + 7) / 8) * static_cast<std::size_t>(height);
}

Status checkPointerShape(const PointerShape& s) {
  if (s.width < 1 || s.height < 1 || s.width > kMaxPointerSize || s.height > kMaxPointerSize) {
    return Status::Error("pointer " + size(s.width, s.height) + " is outside 1..384 pixels");
  }
  switch (s.xor_bpp) {
    case 1: case 4: case 8: case 16: case 24: case 32: break;
    default: return Status::Error("pointer colour depth " + std::to_string(s.xor_bpp) + " unknown");
  }
  if (s.hot_x < 0 || s.hot_y < 0 || s.hot_x >= s.width || s.hot_y >= s.height) {
    return Status::Error("pointer hot spot " + std::to_string(s.hot_x) + "," +
                         std::to_string(s.hot_y) + " outside " + size(s.width, s.height));
  }
  const std::size_t xor_bytes = pointerXorMaskBytes(s.width, s.height, s.xor_bpp);
  if (s.xor_mask.size() != xor_bytes) {
    return Status::Error("pointer XOR mask of " + std::to_string(s.xor_mask.size()) + " bytes, " +
                         size(s.width, s.height) + " at " + std::to_string(s.xor_bpp) +
                         " bpp needs " + std::to_string(xor_bytes));
  }
  const std::size_t and_bytes = pointerAndMaskBytes(s.width, s.height);
  if (s.and_mask.size() != and_bytes) {
    return Status::Error("pointer AND mask of " + std::to_string(s.and_mask.size()) + " bytes, " +
                         size(s.width, s.height) + " needs " + std::to_string(and_bytes));
  }
  return Status::Ok();
}

void PointerRelay::reset(const ClientPointerCaps& caps) {
  caps_ = caps;
  caps_.cache_size = std::clamp(caps.cache_size, 0, kSlots);
  client_owner_.assign(static_cast<std::size_t>(caps_.cache_size), -1);
}

std::size_t PointerRelay::storedBytes() const {
  std::size_t total = 0;
  for (const auto& s : stored_) {
    if (s) total += s->xor_mask.size() + s->and_mask.size();
  }
  return total;
}

bool PointerRelay::apply(const PointerUpdate& u, PointerSender* out) {
  if (!caps_.fast_path) out = nullptr;  // the client cannot take pointer updates
  const bool in_range = u.cache_index >= 0 && u.cache_index < kSlots;
  switch (u.kind) {
    case PointerUpdate::Kind::Hidden:
      current_ = Current::Hidden;
      return out ? out->sendSystem(true) : true;
    case PointerUpdate::Kind::Default:
      current_ = Current::Default;
      return out ? out->sendSystem(false) : true;
    case PointerUpdate::Kind::Position:
      return out ? out->sendPosition(u.x, u.y) : true;
    case PointerUpdate::Kind::New:
      if (!in_range) {
        current_ = Current::Default;
        return out ? out->sendSystem(false) : true;
      }
      forgetClientCopy(u.cache_index);
      if (!u.shape || !checkPointerShape(*u.shape).ok()) {
        stored_[static_cast<std::size_t>(u.cache_index)].reset();
      } else {
        store(u.cache_index, *u.shape);
      }
      break;
    case PointerUpdate::Kind::Cached:
      if (!in_range) {
        current_ = Current::Default;
        return out ? out->sendSystem(false) : true;
      }
      break;
  }
  current_ = Current::Slot;
  current_index_ = u.cache_index;
  last_used_[static_cast<std::size_t>(u.cache_index)] = ++clock_;
  return out ? show(u.cache_index, *out) : true;
}

bool PointerRelay::resend(PointerSender& out) {
  if (!caps_.fast_path) return true;
  switch (current_) {
    case Current::Hidden: return out.sendSystem(true);
    case Current::Default: return out.sendSystem(false);
    case Current::Slot: return show(current_index_, out);
  }
  return true;
}

bool PointerRelay::show(int index, PointerSender& out) {
  if (caps_.cache_size == 0) return out.sendSystem(false);
  const int slot = index % caps_.cache_size;
  int& owner = client_owner_[static_cast<std::size_t>(slot)];
  if (owner == index) return out.sendCached(slot);
  const auto& shape = stored_[static_cast<std::size_t>(index)];
  if (!shape) return out.sendSystem(false);
  const std::size_t masks = shape->xor_mask.size() + shape->and_mask.size();
  const bool fits_new = shape->width <= caps_.max_new_size && shape->height <= caps_.max_new_size &&
                        shape->xor_mask.size() <= 0xFFFF && shape->and_mask.size() <= 0xFFFF &&
                        kNewHeader + masks <= caps_.max_update_bytes;
  const bool fits_large = caps_.large && kLargeHeader + masks <= caps_.max_update_bytes;
  if (!fits_new && !fits_large) return out.sendSystem(false);
  owner = -1;
  const bool ok = fits_new ? out.sendNew(*shape, slot) : out.sendLarge(*shape, slot);
  if (ok) owner = index;
  return ok;
}

void PointerRelay::store(int index, PointerShape shape) {
  const auto i = static_cast<std::size_t>(index);
  stored_[i] = std::move(shape);
  // Over budget: drop the least recently shown other shapes.
  while (storedBytes() > kMaxStoredBytes) {
    std::size_t victim = stored_.size();
    for (std::size_t j = 0; j < stored_.size(); ++j) {
      if (j == i || !stored_[j]) continue;
      if (victim == stored_.size() || last_used_[j] < last_used_[victim]) victim = j;
    }
    if (victim == stored_.size()) break;  // one shape alone is always within budget
    stored_[victim].reset();
  }
}

void PointerRelay::forgetClientCopy(int index) {
  if (caps_.cache_size == 0) return;
  int& owner = client_owner_[static_cast<std::size_t>(index % caps_.cache_size)];
  if (owner == index) owner = -1;
}

}  // namespace vigil::gateway::rdp
