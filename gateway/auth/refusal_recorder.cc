#include "gateway/auth/refusal_recorder.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <ctime>

#include "core/clock.h"
#include "gateway/auth/config_gatekeeper.h"
#include "gateway/auth/sodium_init.h"

namespace vigil::gateway::auth {
namespace {

std::string stamp(EpochMillis at) {
  const std::time_t secs = static_cast<std::time_t>(at / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y%m%dT%H%M%S", &tm);
  return out;
}

std::string hex(const unsigned char* p, std::size_t n) {
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), p, n);
  out.pop_back();
  return out;
}

}  // namespace

std::chrono::milliseconds refusalRetention(const Config& config) {
  return std::chrono::hours(24) * config.retention_refused_days;
}

StoreRefusalRecorder::StoreRefusalRecorder(storage::MetadataStore& store, std::string node,
                                           std::chrono::milliseconds retain,
                                           std::chrono::milliseconds window)
    : store_(store), node_(std::move(node)), retain_(retain), window_(window) {
  if (Status st = ensureSodium(); !st.ok()) spdlog::error("refusal ids: {}", st.message());
}

std::string StoreRefusalRecorder::aggregateId(const std::string& host, EpochMillis window_start) {
  (void)ensureSodium();  // reported by the constructor
  unsigned char h[4];
  crypto_generichash(h, sizeof h, reinterpret_cast<const unsigned char*>(host.data()), host.size(),
                     nullptr, 0);
  return stamp(window_start) + "-throttled-" + hex(h, sizeof h);
}

void StoreRefusalRecorder::recordRefusal(const Refusal& r) {
  storage::RefusalRecord rec;
  rec.at = r.at ? r.at : epochNowMs();
  rec.user = r.user;
  rec.target = r.target;
  rec.protocol = std::string(toString(r.protocol));
  rec.node = node_;
  rec.reason = r.reason;
  rec.retain = retain_;
  if (r.throttled) {
    const std::string host = clientHost(r.client_addr);
    const EpochMillis w = window_.count() > 0 ? window_.count() : 1;
    rec.aggregate = true;
    rec.id = aggregateId(host, rec.at - rec.at % w);
    rec.client_addr = host;
  } else {
    // Sortable by time, unique across nodes, like session ids.
    unsigned char rnd[3];
    randombytes_buf(rnd, sizeof rnd);
    rec.id = stamp(rec.at) + "-" + hex(rnd, sizeof rnd);
    rec.client_addr = r.client_addr;
  }
  if (Status st = store_.putRefusal(rec); !st.ok())
    spdlog::error("event=refusal_not_recorded user={} target={} addr={} error=\"{}\"", r.user,
                  r.target, r.client_addr, st.message());
}

}  // namespace vigil::gateway::auth
