// Small helpers shared by the simulator: clocks, ids, text handling.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sim {

// Wall clock in microseconds since the Unix epoch; all model timestamps use it.
std::int64_t now_us();
std::int64_t now_ms();
// Rails' JSON form of a Time: "2026-06-20T13:07:30.915Z".
std::string iso8601(std::int64_t us);

std::string uuid_v4();
// Random URL-safe token like Rails' has_secure_token (24 chars).
std::string random_token(std::size_t length = 24);
// Uniform double in [0,1), thread-local generator.
double random_unit();

std::string url_decode(std::string_view s);
// Splits a raw query string into decoded key/value pairs (order kept).
std::vector<std::pair<std::string, std::string>> parse_query(std::string_view raw);

// Number of Unicode code points (Ruby String#length for valid UTF-8).
std::size_t utf8_length(std::string_view s);
std::u32string utf8_to_u32(std::string_view s);
// Lower-cases ASCII and Latin-1/Latin Extended-A letters, like PostgreSQL
// lower() in a UTF-8 locale does for the accents a Brazilian firm uses.
std::string fold_case(std::string_view s);
std::string ascii_lower(std::string_view s);
std::string strip(std::string_view s);
// "/a//b/" -> {"a", "b"}: a request path's non-empty segments.
std::vector<std::string> split_path(const std::string& path);
bool is_blank(std::string_view s);
// SQL LIKE with % and _ wildcards and backslash escape; `ci` makes it ILIKE.
bool sql_like(std::string_view text, std::string_view pattern, bool ci);

std::optional<std::int64_t> parse_int(std::string_view s);
// Standard base64 (RFC 4648, '=' padding optional, whitespace ignored); nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view s);
// Ruby String#to_i: leading digits, else 0.
std::int64_t ruby_to_i(std::string_view s);

}  // namespace sim
