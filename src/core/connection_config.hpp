// How to reach one Chatwoot account, and the checks a configuration must pass
// before it is stored.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::core {

struct ConnectionConfig {
    std::string api_url;                  // e.g. https://chat.example.com (no trailing /api)
    std::string api_key;                  // an administrator's api_access_token: secret
    std::int64_t account_id = 0;
    std::optional<std::int64_t> default_inbox_id;
    long timeout_ms = 5000;
    bool verify_tls = true;
};

// Returns a message (Portuguese, for the app's users) when the value is unusable.
std::optional<std::string> check_api_url(std::string_view url);
std::optional<std::string> check_api_key(std::string_view key);
std::optional<std::string> check_account_id(std::int64_t account_id);

// api_url without trailing slashes, so paths can be appended.
std::string normalized_base_url(std::string_view url);

// Replaces every occurrence of `secret` in `text` with "[redacted]" (a no-op for
// secrets too short to be meaningful). Every error text leaving the core passes here.
std::string redact(std::string text, std::string_view secret);

}  // namespace chatwoot::core
