#include "storage/metadata_store.h"

#include "core/clock.h"

namespace vigil::storage {

long long SessionRecord::durationMs() const {
  if (started_at <= 0) return 0;
  const EpochMillis end = ended_at > 0 ? ended_at : epochNowMs();
  return end > started_at ? end - started_at : 0;
}

}  // namespace vigil::storage
