// Small, strict parsers for the hostile parts of an HTTP request (query
// strings, Range, Basic credentials, path ids). Pure functions; thread-safe.
// Internal to vigil_gateway_api (exposed for its tests).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::gateway::api {

// Percent-decodes `s` ('+' is a space when `plus_is_space`). nullopt on a
// malformed escape, an embedded NUL or a result that is not valid UTF-8.
std::optional<std::string> percentDecode(std::string_view s, bool plus_is_space);

// "a=1&b=x%20y" → {a:1, b:"x y"}. nullopt if any part is malformed, a key
// repeats, or there are more than `max_params` parameters.
std::optional<std::map<std::string, std::string>> parseQuery(std::string_view q,
                                                             std::size_t max_params = 32);

bool isValidUtf8(std::string_view s);

// A session id as the gateway makes them: 1..64 of [A-Za-z0-9_-].
bool isValidId(std::string_view id);

struct ByteRange {
  std::uint64_t first = 0, last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
};
enum class RangeResult { None, Ok, Unsatisfiable };
// Parses a single "bytes=a-b" | "bytes=a-" | "bytes=-n" against a file of
// `size` bytes. Malformed or multi-range headers yield None (serve it all, as
// RFC 9110 allows); a well-formed range past the end yields Unsatisfiable.
RangeResult parseRange(std::string_view header, std::uint64_t size, ByteRange& out);

std::optional<std::string> base64Decode(std::string_view in);

// "Basic dXNlcjpwYXNz" → {user, password}.
std::optional<std::pair<std::string, std::string>> parseBasicAuth(std::string_view header);

// Value of cookie `name` in a Cookie header, if present.
std::optional<std::string> cookieValue(std::string_view header, std::string_view name);

// Splits "/api/sessions/x" into {"api","sessions","x"}; empty segments are
// kept so "//" never matches a route.
std::vector<std::string_view> splitPath(std::string_view path);

std::string toHex(const unsigned char* data, std::size_t n);

}  // namespace vigil::gateway::api
