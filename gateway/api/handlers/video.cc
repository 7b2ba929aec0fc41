// GET /api/sessions/{id}/video: the recording as video/mp4, honouring Range.
// A replay's many Range requests are one coalesced "view"; reading the whole
// file at once is a "download" and download=1 an "export", each its own entry.
// The body is the recording's plaintext MP4: storage::RecordingReader opens
// sealed (encrypted at rest) and plain files alike.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/http_util.h"
#include "gateway/api/replies.h"
#include "storage/key_ring.h"
#include "storage/recording_reader.h"

namespace vigil::gateway::api::handlers {

Reply video(Ctx& c) {
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  auto path = c.svc.recordings.pathOf(*rec.value());
  if (!path) return c.error(http::status::not_found, "this session has no recording");
  std::error_code ec;
  if (!std::filesystem::is_regular_file(std::filesystem::symlink_status(*path, ec)))
    return c.error(http::status::not_found, "the recording file is missing");
  // Read per request: a key added by a rotation is there without a restart.
  auto keys = storage::KeyRing::load(c.svc.config.state_dir);
  if (!keys) {
    spdlog::error("event=recording_keys_unavailable error=\"{}\"", keys.message());
    return c.error(http::status::internal_server_error, "the recording keys cannot be read");
  }
  auto reader = storage::RecordingReader::open(path->string(), *keys);
  if (!reader) {
    spdlog::error("session={} event=recording_unreadable error=\"{}\"", c.id, reader.message());
    return c.error(http::status::internal_server_error,
                   "the recording cannot be read (the gateway log says why)");
  }
  const std::uint64_t size = (*reader)->size();
  ByteRange range{0, size == 0 ? 0 : size - 1};
  RangeResult rr = RangeResult::None;
  if (auto h = c.req[http::field::range]; !h.empty())
    rr = parseRange(std::string_view(h.data(), h.size()), size, range);
  if (rr == RangeResult::Unsatisfiable) {
    auto res = c.error(http::status::range_not_satisfiable, "range outside the recording");
    res.set(http::field::content_range, "bytes */" + std::to_string(size));
    res.set(http::field::accept_ranges, "bytes");
    return res;
  }
  const bool download = c.param("download") == "1";
  const bool whole = rr == RangeResult::None || (range.first == 0 && range.last + 1 >= size);
  Status audited = Status::Ok();
  if (download && (whole || range.first == 0))
    audited = c.svc.audit.record(c.user(), "export", c.id, "download from " + c.remote);
  else if (whole && c.req.method() != http::verb::head)
    audited = c.svc.audit.record(c.user(), "download", c.id, "whole file from " + c.remote);
  else
    audited = c.svc.audit.recordRepeated(c.user(), "view", c.id, "replay");
  if (!audited.ok()) return c.auditFailed();

  FileResponse res{rr == RangeResult::Ok ? http::status::partial_content : http::status::ok,
                   c.req.version()};
  res.set(http::field::content_type, "video/mp4");
  res.set(http::field::accept_ranges, "bytes");
  res.set(http::field::cache_control, "private, no-cache");
  if (download)
    res.set(http::field::content_disposition, "attachment; filename=\"vigil-" + c.id + ".mp4\"");
  addSecurityHeaders(res, c.svc.tls);
  if (rr == RangeResult::Ok)
    res.set(http::field::content_range, "bytes " + std::to_string(range.first) + "-" +
                                            std::to_string(range.last) + "/" + std::to_string(size));
  res.body().reader = std::shared_ptr<storage::RecordingReader>(std::move(reader.value()));
  res.body().offset = rr == RangeResult::Ok ? range.first : 0;
  res.body().length = rr == RangeResult::Ok ? range.length() : size;
  res.keep_alive(c.req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api::handlers
