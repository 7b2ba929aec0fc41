// The HTTP message types the API's handlers return, and a body that streams
// a byte range of a recording without holding it in memory. Internal to
// vigil_gateway_api.
#pragma once


#include <cstdint>
#include <memory>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/optional.hpp>

#include "storage/recording_reader.h"

namespace vigil::gateway::api {

namespace http = boost::beast::http;

// A byte range of a recording's plaintext as an HTTP body, read through its
// storage::RecordingReader (sealed or plain on disk) in 64 KiB steps so a
// large recording never sits in memory.
struct FileRangeBody {
  struct value_type {
    std::shared_ptr<storage::RecordingReader> reader;
    std::uint64_t offset = 0, length = 0;
  };
  static std::uint64_t size(const value_type& v) { return v.length; }

  class writer {
   public:
    using const_buffers_type = boost::asio::const_buffer;
    template <bool isRequest, class Fields>
    writer(const http::header<isRequest, Fields>&, const value_type& v)
        : v_(v), pos_(v.offset), remain_(v.length), buf_(64 * 1024) {}
    void init(boost::beast::error_code& ec) { ec = {}; }
    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec);

   private:
    const value_type& v_;
    std::uint64_t pos_, remain_;
    std::vector<char> buf_;
  };
};

using Request = http::request<http::string_body>;
using StrResponse = http::response<http::string_body>;
using FileResponse = http::response<FileRangeBody>;
using HeadResponse = http::response<http::empty_body>;
using Reply = std::variant<StrResponse, FileResponse, HeadResponse>;

}  // namespace vigil::gateway::api
