// Rules both stores share (internal to vigil_storage).
#pragma once

#include <algorithm>
#include <cstddef>

#include "storage/metadata_store.h"

namespace vigil::storage {

inline constexpr std::size_t kDefaultLimit = 100;
inline constexpr std::size_t kMaxLimit = 10000;

// 0 means the default; large limits are capped so one request stays bounded.
inline std::size_t effectiveLimit(std::size_t limit) {
  return limit == 0 ? kDefaultLimit : std::min(limit, kMaxLimit);
}

// Newest first; equal start times by id, descending (Redis ZREVRANGE order).
inline bool newerFirst(EpochMillis a_at, const std::string& a_id, EpochMillis b_at,
                       const std::string& b_id) {
  return a_at != b_at ? a_at > b_at : a_id > b_id;
}

inline bool sessionMatches(const SessionFilter& f, const SessionRecord& s) {
  if (f.state ? s.state != *f.state : s.state == "refused") return false;
  if (f.user && s.user != *f.user) return false;
  if (f.target && s.target != *f.target) return false;
  if (f.from && s.started_at < *f.from) return false;
  if (f.to && s.started_at > *f.to) return false;
  return true;
}

}  // namespace vigil::storage
