// Internal (no FreeRDP types): pointer shapes from the target leg to the
// client leg. The target and the client each have their own pointer cache
// with its own size, and the client's cache is emptied when it reactivates,
// so the relay keeps the target's shapes (bounded) and decides per client
// what to send: a New Pointer Update (up to 96x96 if the client allows, else
// 32x32), a Large Pointer Update (up to 384x384 if the client allows), a
// Cached Pointer Update, or the client's default pointer when it can show
// none of these. Not thread-safe: the owner's screen lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/status.h"
#include "gateway/rdp/rdp_client.h"

namespace vigil::gateway::rdp {

// Mask sizes a shape of this size must have (scan lines padded to 2 bytes).
std::size_t pointerXorMaskBytes(int width, int height, int xor_bpp);
std::size_t pointerAndMaskBytes(int width, int height);
// Ok if `s` is within MS-RDPBCGR's bounds: 1..384 pixels each way, a known
// bpp, the hot spot inside, mask lengths matching the size exactly.
Status checkPointerShape(const PointerShape& s);

// What the client announced in its Pointer and Large Pointer capability sets.
struct ClientPointerCaps {
  bool fast_path = false;            // pointer updates need fast-path output
  int cache_size = 0;                // pointerCacheSize; 0: system pointers only
  int max_new_size = 32;             // 96 with LARGE_POINTER_FLAG_96x96
  bool large = false;                // LARGE_POINTER_FLAG_384x384
  std::size_t max_update_bytes = 0;  // the client's multifragment size
};

// The messages the client leg can send; false when the send failed.
class PointerSender {
 public:
  virtual ~PointerSender() = default;
  virtual bool sendSystem(bool hidden) = 0;
  virtual bool sendNew(const PointerShape& s, int slot) = 0;    // New Pointer Update
  virtual bool sendLarge(const PointerShape& s, int slot) = 0;  // Large Pointer Update
  virtual bool sendCached(int slot) = 0;
  virtual bool sendPosition(int x, int y) = 0;
};

class PointerRelay {
 public:
  // Target slots kept, and the bytes their shapes may take together (three
  // 384x384 32 bpp shapes); past that the least recently shown are dropped
  // and show the default pointer until the target sends them again.
  static constexpr int kSlots = kMaxPointerCacheSize;
  static constexpr std::size_t kMaxStoredBytes = 2u << 20;

  // The client (re)activated with `caps`: its pointer cache is empty.
  void reset(const ClientPointerCaps& caps);
  // Takes one target update. Sends what the client needs through `out`, or
  // only remembers it when `out` is null (client not showing the screen).
  bool apply(const PointerUpdate& u, PointerSender* out);
  // Shows the current pointer again (after activation, or output resumed).
  bool resend(PointerSender& out);

  std::size_t storedBytes() const;

 private:
  enum class Current { Default, Hidden, Slot };
  bool show(int index, PointerSender& out);
  bool sendShape(const PointerShape& s, int slot, PointerSender& out) const;
  void store(int index, PointerShape shape);
  void forgetClientCopy(int index);

  ClientPointerCaps caps_;
  std::vector<std::optional<PointerShape>> stored_ = std::vector<std::optional<PointerShape>>(kSlots);
  std::vector<std::uint64_t> last_used_ = std::vector<std::uint64_t>(kSlots, 0);
  std::uint64_t clock_ = 0;
  std::vector<int> client_owner_;  // target slot held in each client slot, -1: none
  Current current_ = Current::Default;
  int current_index_ = 0;
};

}  // namespace vigil::gateway::rdp
