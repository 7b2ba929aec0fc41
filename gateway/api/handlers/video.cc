// GET /api/sessions/{id}/video: the recording as video/mp4, honouring Range.
// A replay's many Range requests are one coalesced "view"; reading the whole
// file at once is a "download" and download=1 an "export", each its own entry.
#include <fcntl.h>
#include <sys/stat.h>

#include "gateway/api/handlers/handlers.h"
#include "gateway/api/http_util.h"
#include "gateway/api/replies.h"

namespace vigil::gateway::api::handlers {

Reply video(Ctx& c) {
  auto rec = c.svc.deps.store.getSession(c.id);
  if (!rec.ok()) return c.unavailable("the session store", rec.status());
  if (!rec.value()) return c.error(http::status::not_found, "no such session");
  auto path = c.svc.recordings.pathOf(*rec.value());
  if (!path) return c.error(http::status::not_found, "this session has no recording");
  UniqueFd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st{};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    return c.error(http::status::not_found, "the recording file is missing");
  const auto size = static_cast<std::uint64_t>(st.st_size);
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
  res.body().fd = std::make_shared<UniqueFd>(std::move(fd));
  res.body().offset = rr == RangeResult::Ok ? range.first : 0;
  res.body().length = rr == RangeResult::Ok ? range.length() : size;
  res.keep_alive(c.req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace vigil::gateway::api::handlers
