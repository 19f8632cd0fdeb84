// Webhook signatures as Chatwoot 4.12+ sends them:
//   X-Chatwoot-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
// Pure C++ (OpenSSL), no PostgreSQL header.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace chatwoot::core {

// Lower-case hex HMAC-SHA256 of `message` keyed with `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Header value Chatwoot would send for this body at this timestamp.
std::string chatwoot_signature_header(std::string_view secret, std::int64_t timestamp,
                                      std::string_view raw_body);

// Compares in time independent of where the strings first differ.
bool constant_time_equals(std::string_view a, std::string_view b);

enum class SignatureVerdict { valid, missing, malformed, mismatch, stale };

// Checks a delivery against `secret`. `now` and `tolerance_seconds` bound replay:
// a timestamp further than the tolerance from now (either way) is `stale`.
SignatureVerdict verify_chatwoot_signature(std::string_view secret, std::string_view timestamp_header,
                                           std::string_view signature_header, std::string_view raw_body,
                                           std::int64_t now, std::int64_t tolerance_seconds = 300);

const char* to_string(SignatureVerdict verdict);

}  // namespace chatwoot::core
