// GET /api/sessions/{id}/bundle (the evidence bundle, audited as an export)
// and GET /api/sessions/{id}/verify (the signed hash chain checked now).
#include <unistd.h>

#include <filesystem>

#include <spdlog/spdlog.h>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/replies.h"
#include "gateway/api/login_state.h"
#include "gateway/record_json.h"
#include "storage/evidence_bundle.h"
#include "storage/evidence_verify.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"

namespace vigil::gateway::api::handlers {
namespace {

// Evidence needs the store's chain records and the deployment's key.
std::optional<StrResponse> evidenceMissing(const Ctx& c) {
  if (c.svc.deps.evidence && c.svc.deps.signing_key) return std::nullopt;
  return c.error(http::status::not_implemented, "this gateway was started without evidence signing");
}

// The recording keys, read per request so a rotation needs no restart.
std::variant<storage::KeyRing, StrResponse> recordingKeys(const Ctx& c) {
  auto keys = storage::KeyRing::load(c.svc.config.state_dir);
  if (!keys) {
    spdlog::error("event=recording_keys_unavailable error=\"{}\"", keys.message());
    return c.error(http::status::internal_server_error, "the recording keys cannot be read");
  }
  return std::move(*keys);
}

}  // namespace

Reply verifySession(Ctx& c) {
  if (auto err = evidenceMissing(c)) return std::move(*err);
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  auto keys = recordingKeys(c);
  if (auto* err = std::get_if<StrResponse>(&keys)) return std::move(*err);
  auto report = storage::verifySession(c.svc.deps.store, *c.svc.deps.evidence,
                                       c.svc.deps.recordings_dir, c.id,
                                       c.svc.deps.signing_key->publicKey(),
                                       std::get<storage::KeyRing>(keys));
  if (!report.ok()) return c.unavailable("verification", report.status());
  if (!c.svc.audit.recordRepeated(c.user(), "view", c.id, "verify").ok()) return c.auditFailed();
  auto body = nlohmann::json::parse(report.value().toJson(), nullptr, false);
  return c.json(http::status::ok, body);
}

Reply bundle(Ctx& c) {
  if (auto err = evidenceMissing(c)) return std::move(*err);
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  auto keys = recordingKeys(c);
  if (auto* err = std::get_if<StrResponse>(&keys)) return std::move(*err);
  if (!c.svc.audit.record(c.user(), "bundle", c.id, "evidence bundle from " + c.remote).ok())
    return c.auditFailed();
  // Written to a private file that is unlinked once open: the reply streams
  // it from the descriptor and nothing is left behind.
  const auto tmp = std::filesystem::temp_directory_path() / ("vigil-bundle-" + randomToken() + ".zip");
  const std::string session_json =
      toJson(*rec.value(), c.svc.recordings.liveBytes(*rec.value())).dump();
  Status s = storage::writeBundle(c.svc.deps.store, *c.svc.deps.evidence, c.svc.deps.recordings_dir,
                                  c.id, *c.svc.deps.signing_key, tmp.string(), session_json,
                                  std::get<storage::KeyRing>(keys));
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return c.unavailable("writing the bundle", s);
  }
  // A zip is no sealed recording: the reader passes it through as it is.
  auto reader = storage::RecordingReader::open(tmp.string(), storage::KeyRing{});
  ::unlink(tmp.c_str());
  if (!reader) return c.unavailable("reading the bundle", reader.status());
  FileResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "application/zip");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_disposition,
          "attachment; filename=\"vigil-" + c.id + "-evidence.zip\"");
  addSecurityHeaders(res, c.svc.tls);
  res.body().length = (*reader)->size();
  res.body().reader = std::move(*reader);
  res.body().offset = 0;
  res.keep_alive(c.req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api::handlers
