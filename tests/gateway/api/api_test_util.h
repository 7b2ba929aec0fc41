// A tiny blocking HTTP client and a fixture that starts an ApiServer over the
// fakes, for the API tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway/api/api_server.h"
#include "tests/gateway/api/fakes.h"

namespace vigil::gateway::api::testing {

struct Resp {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

using Headers = std::vector<std::pair<std::string, std::string>>;

inline Resp httpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                        const Headers& headers = {}, const std::string& body = "") {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  if (!body.empty() || method == "POST") req.prepare_payload();
  req.keep_alive(false);
  http::write(sock, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(512 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  beast::error_code ec;
  http::read(sock, buf, parser, ec);
  Resp r;
  if (ec) return r;
  auto& res = parser.get();
  r.status = static_cast<int>(res.result_int());
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(name, std::string(f.value()));
  }
  r.body = res.body();
  return r;
}

// Sends raw bytes and returns whatever the server answers before closing.
inline std::string rawExchange(std::uint16_t port, const std::string& bytes) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket sock(ioc);
  sock.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::system::error_code ec;
  boost::asio::write(sock, boost::asio::buffer(bytes), ec);
  std::string out;
  char buf[4096];
  while (true) {
    std::size_t n = sock.read_some(boost::asio::buffer(buf), ec);
    if (ec) break;
    out.append(buf, n);
  }
  return out;
}

inline int rawStatus(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::stoi(response.substr(9, 3));
}

inline void writeFile(const std::filesystem::path& p, const std::string& content) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

template <class Pred>
bool waitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

namespace ws = boost::beast::websocket;

// A blocking WebSocket client for the live view.

struct WsClient {
  boost::asio::io_context ioc;
  ws::stream<boost::asio::ip::tcp::socket> stream{ioc};
  boost::beast::flat_buffer buf;

  boost::system::error_code connect(std::uint16_t port, const std::string& target, const std::string& cookie,
                                    ws::response_type* res = nullptr) {
    boost::system::error_code ec;
    stream.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (ec) return ec;
    stream.set_option(ws::stream_base::decorator([cookie](ws::request_type& req) {
      if (!cookie.empty()) req.set(boost::beast::http::field::cookie, cookie);
    }));
    ws::response_type dummy;
    stream.handshake(res ? *res : dummy, "127.0.0.1:" + std::to_string(port), target, ec);
    return ec;
  }
  // Next message; binary says which kind.
  std::string read(bool& binary) {
    buf.clear();
    stream.read(buf);
    binary = stream.got_binary();
    return boost::beast::buffers_to_string(buf.data());
  }
};

}  // namespace vigil::gateway::api::testing
