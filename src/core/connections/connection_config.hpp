// How to reach one Chatwoot account, and the checks a configuration must pass
// before it is stored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::core {

struct ConnectionConfig {
    std::string api_url;                  // e.g. https://chat.example.com (no trailing /api)
    std::string api_key;                  // an administrator's api_access_token: secret
    std::string webhook_secret;           // secret too: redacted from everything recorded
    std::int64_t account_id = 0;
    std::optional<std::int64_t> default_inbox_id;
    long timeout_ms = 5000;
    bool verify_tls = true;
    bool allow_link_local = false;        // see is_forbidden_address
    std::size_t max_response_bytes = 4 * 1024 * 1024;
};

constexpr std::size_t kMaxApiUrlLength = 2048;

// Returns a message (Portuguese, for the app's users) when the value is unusable:
// not http(s), no host, spaces or control characters, credentials, a query or a
// fragment, a port outside 1..65535, longer than kMaxApiUrlLength, an IPv4 address
// that is not in dotted decimal (0x7f000001, 2130706433: resolvers accept them, a
// reader would not recognise them), or, unless `allow_link_local`, a link-local or
// cloud-metadata address or host name.
std::optional<std::string> check_api_url(std::string_view url, bool allow_link_local = false);

// Link-local (169.254.0.0/16, fe80::/10, also IPv4-mapped) and the cloud metadata
// services outside that range (fd00:ec2::254, 100.100.100.200). A role allowed to
// configure a connection must not make the database host fetch its cloud
// credentials; the transport checks the address it really connected to as well.
bool is_forbidden_address(std::string_view numeric_ip);
std::optional<std::string> check_api_key(std::string_view key);
std::optional<std::string> check_account_id(std::int64_t account_id);

// api_url without trailing slashes, so paths can be appended.
std::string normalized_base_url(std::string_view url);

// Replaces every occurrence of `secret` in `text` with "[redacted]", and every piece
// of its first kSecretPieceMasked or more characters (what a cut, ours or a proxy's,
// left of it; the rest is guessed in a few tries): a text cut after this never ends
// with such a piece either. A no-op for secrets too short to be meaningful. Every
// error text leaving the core passes here (text.hpp: recorded_text).
constexpr std::size_t kSecretPieceMasked = 8;
std::string redact(std::string text, std::string_view secret);

}  // namespace chatwoot::core
