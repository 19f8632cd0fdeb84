// Builds the HTTP requests of Chatwoot's Application API for one connection:
// URL, auth header, JSON headers, timeouts, TLS verification.
#pragma once
#include "core/connections/connection_config.hpp"
#include "core/http/http_client.hpp"

#include <string>
#include <vector>

namespace chatwoot::core {

class RequestFactory {
public:
    explicit RequestFactory(ConnectionConfig config);

    // `path` is relative to /api/v1/accounts/{account_id}, e.g. "/contacts/filter".
    HttpRequest account(const std::string& method, const std::string& path, const std::string& body = {}) const;
    // GET /api/v1/profile: who the token belongs to.
    HttpRequest profile() const;

    const ConnectionConfig& config() const { return config_; }

private:
    HttpRequest make(const std::string& method, std::string url, const std::string& body) const;
    ConnectionConfig config_;
    // Built once: every request of a sync repeats them.
    std::string base_url_;      // normalized api_url
    std::string account_url_;   // base_url_ + /api/v1/accounts/{id}
    std::vector<std::string> headers_;            // without a body
    std::vector<std::string> headers_with_body_;  // plus Content-Type
};

}  // namespace chatwoot::core
