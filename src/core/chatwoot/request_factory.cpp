#include "core/chatwoot/request_factory.hpp"

#include <algorithm>

namespace chatwoot::core {

RequestFactory::RequestFactory(ConnectionConfig config)
    : config_(std::move(config)),
      base_url_(normalized_base_url(config_.api_url)),
      account_url_(base_url_ + "/api/v1/accounts/" + std::to_string(config_.account_id)),
      // The hyphenated spelling: Rack reads it as api_access_token, and proxies that drop
      // headers containing '_' (nginx by default) let it through.
      headers_{"Api-Access-Token: " + config_.api_key, "Accept: application/json"},
      headers_with_body_{headers_[0], headers_[1], "Content-Type: application/json"} {}

HttpRequest RequestFactory::make(const std::string& method, std::string url, const std::string& body) const {
    HttpRequest request;
    request.method = method;
    request.url = std::move(url);
    request.body = body;
    request.timeout_ms = config_.timeout_ms;
    request.connect_timeout_ms = std::min<long>(config_.timeout_ms, 3000);
    request.verify_tls = config_.verify_tls;
    request.allow_link_local = config_.allow_link_local;
    request.max_response_bytes = config_.max_response_bytes;
    request.headers = body.empty() ? headers_ : headers_with_body_;
    return request;
}

HttpRequest RequestFactory::account(const std::string& method, const std::string& path, const std::string& body) const {
    return make(method, account_url_ + path, body);
}

HttpRequest RequestFactory::profile() const { return make("GET", base_url_ + "/api/v1/profile", {}); }

}  // namespace chatwoot::core
