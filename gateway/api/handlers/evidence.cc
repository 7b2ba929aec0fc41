// GET /api/sessions/{id}/bundle (the evidence bundle, audited as an export)
// and GET /api/sessions/{id}/verify (the signed hash chain checked now).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <spdlog/spdlog.h>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/replies.h"
#include "gateway/api/login_state.h"
#include "gateway/record_json.h"
#include "storage/evidence_bundle.h"
#include "storage/evidence_verify.h"

namespace vigil::gateway::api::handlers {
namespace {

// Evidence needs the store's chain records and the deployment's key.
std::optional<StrResponse> evidenceMissing(const Ctx& c) {
  if (c.svc.deps.evidence && c.svc.deps.signing_key) return std::nullopt;
  return c.error(http::status::not_implemented, "this gateway was started without evidence signing");
}

}  // namespace

Reply verifySession(Ctx& c) {
  if (auto err = evidenceMissing(c)) return std::move(*err);
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  auto report = storage::verifySession(c.svc.deps.store, *c.svc.deps.evidence,
                                       c.svc.deps.recordings_dir, c.id,
                                       c.svc.deps.signing_key->publicKey());
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
  if (!c.svc.audit.record(c.user(), "bundle", c.id, "evidence bundle from " + c.remote).ok())
    return c.auditFailed();
  // Written to a private file that is unlinked once open: the reply streams
  // it from the descriptor and nothing is left behind.
  const auto tmp = std::filesystem::temp_directory_path() / ("vigil-bundle-" + randomToken() + ".zip");
  const std::string session_json =
      toJson(*rec.value(), c.svc.recordings.liveBytes(*rec.value())).dump();
  Status s = storage::writeBundle(c.svc.deps.store, *c.svc.deps.evidence, c.svc.deps.recordings_dir,
                                  c.id, *c.svc.deps.signing_key, tmp.string(), session_json);
  if (!s.ok()) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return c.unavailable("writing the bundle", s);
  }
  UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_CLOEXEC));
  ::unlink(tmp.c_str());
  struct stat st{};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
    return c.unavailable("reading the bundle", Status::Error("cannot reopen " + tmp.string()));
  FileResponse res{http::status::ok, c.req.version()};
  res.set(http::field::content_type, "application/zip");
  res.set(http::field::cache_control, "no-store");
  res.set(http::field::content_disposition,
          "attachment; filename=\"vigil-" + c.id + "-evidence.zip\"");
  addSecurityHeaders(res, c.svc.tls);
  res.body().fd = std::make_shared<UniqueFd>(std::move(fd));
  res.body().offset = 0;
  res.body().length = static_cast<std::uint64_t>(st.st_size);
  res.keep_alive(c.req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api::handlers
