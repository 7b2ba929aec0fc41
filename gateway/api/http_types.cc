#include "gateway/api/http_types.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace vigil::gateway::api {

boost::optional<std::pair<FileRangeBody::writer::const_buffers_type, bool>>
FileRangeBody::writer::get(boost::beast::error_code& ec) {
  if (remain_ == 0) {
    ec = {};
    return boost::none;
  }
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), remain_));
  const auto r = v_.reader->readAt(pos_, buf_.data(), n);
  // The file shrank, failed, or a record does not authenticate: end the
  // connection rather than send anything else than the recording.
  if (!r.ok() || *r == 0) {
    if (!r.ok()) spdlog::warn("event=recording_read_failed error=\"{}\"", r.message());
    ec = make_error_code(boost::beast::errc::io_error);
    return boost::none;
  }
  pos_ += static_cast<std::uint64_t>(*r);
  remain_ -= static_cast<std::uint64_t>(*r);
  ec = {};
  return std::make_pair(const_buffers_type(buf_.data(), *r), remain_ > 0);
}

}  // namespace vigil::gateway::api
