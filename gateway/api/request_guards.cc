#include "gateway/api/request_guards.h"

#include <algorithm>
#include <cctype>
#include <string>

#include <boost/asio/ip/address.hpp>

namespace vigil::gateway::api {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

// "Name:port" / "[::1]:port" → name (lower case, no brackets).
std::string hostName(std::string_view hostport) {
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    return close == std::string_view::npos ? std::string() : lower(hostport.substr(1, close - 1));
  }
  return lower(hostport.substr(0, hostport.find(':')));
}

bool isIpLiteral(const std::string& name) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  return !ec;
}

bool isLoopbackListen(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

}  // namespace

bool hostAllowed(std::string_view host_header, const Config& config) {
  const std::string name = hostName(host_header);
  if (name.empty()) return false;
  if (isIpLiteral(name)) return true;
  if (name == lower(config.web_listen.host)) return true;
  if (name == "localhost" && isLoopbackListen(config.web_listen.host)) return true;
  if (!config.web_public_url.empty()) {
    std::string_view url = config.web_public_url;
    url.remove_prefix(url.find("://") + 3);
    if (name == hostName(url.substr(0, url.find('/')))) return true;
  }
  return false;
}

bool crossSite(const Request& req, bool tls) {
  auto site = req["Sec-Fetch-Site"];
  if (site == "cross-site" || site == "same-site") return true;
  auto origin = req[http::field::origin];
  if (origin.empty()) return false;
  auto host = req[http::field::host];
  return lower(std::string_view(origin.data(), origin.size())) !=
         lower((tls ? "https://" : "http://") + std::string(host.data(), host.size()));
}

bool isJsonBody(const Request& req) {
  auto ct = req[http::field::content_type];
  std::string v = lower(std::string_view(ct.data(), ct.size()).substr(0, ct.find(';')));
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v == "application/json";
}

}  // namespace vigil::gateway::api
