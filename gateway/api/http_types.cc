#include "gateway/api/http_types.h"

#include <algorithm>

namespace vigil::gateway::api {

boost::optional<std::pair<FileRangeBody::writer::const_buffers_type, bool>>
FileRangeBody::writer::get(boost::beast::error_code& ec) {
  if (remain_ == 0) {
    ec = {};
    return boost::none;
  }
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf_.size(), remain_));
  const ssize_t r = ::pread(v_.fd->get(), buf_.data(), n, static_cast<off_t>(pos_));
  if (r <= 0) {  // the file shrank or failed under us: end the connection
    ec = make_error_code(boost::beast::errc::io_error);
    return boost::none;
  }
  pos_ += static_cast<std::uint64_t>(r);
  remain_ -= static_cast<std::uint64_t>(r);
  ec = {};
  return std::make_pair(const_buffers_type(buf_.data(), static_cast<std::size_t>(r)), remain_ > 0);
}

}  // namespace vigil::gateway::api
