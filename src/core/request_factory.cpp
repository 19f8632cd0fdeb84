#include "core/request_factory.hpp"

#include <algorithm>

namespace chatwoot::core {

RequestFactory::RequestFactory(ConnectionConfig config)
    : config_(std::move(config)),
      base_url_(normalized_base_url(config_.api_url)),
      account_url_(base_url_ + "/api/v1/accounts/" + std::to_string(config_.account_id)),
      headers_{"api_access_token: " + config_.api_key, "Accept: application/json"},
      headers_with_body_{headers_[0], headers_[1], "Content-Type: application/json"} {}

HttpRequest RequestFactory::make(const std::string& method, std::string url, const std::string& body) const {
    HttpRequest request;
    request.method = method;
    request.url = std::move(url);
    request.body = body;
    request.timeout_ms = config_.timeout_ms;
    request.connect_timeout_ms = std::min<long>(config_.timeout_ms, 3000);
    request.verify_tls = config_.verify_tls;
    request.headers = body.empty() ? headers_ : headers_with_body_;
    return request;
}

HttpRequest RequestFactory::account(const std::string& method, const std::string& path, const std::string& body) const {
    return make(method, account_url_ + path, body);
}

HttpRequest RequestFactory::profile() const { return make("GET", base_url_ + "/api/v1/profile", {}); }

}  // namespace chatwoot::core
