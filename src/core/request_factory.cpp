#include "core/request_factory.hpp"

#include <algorithm>

namespace chatwoot::core {

HttpRequest RequestFactory::make(const std::string& method, const std::string& url, const std::string& body) const {
    HttpRequest request;
    request.method = method;
    request.url = url;
    request.body = body;
    request.timeout_ms = config_.timeout_ms;
    request.connect_timeout_ms = std::min<long>(config_.timeout_ms, 3000);
    request.verify_tls = config_.verify_tls;
    request.headers = {"api_access_token: " + config_.api_key, "Accept: application/json"};
    if (!body.empty()) request.headers.emplace_back("Content-Type: application/json");
    return request;
}

HttpRequest RequestFactory::account(const std::string& method, const std::string& path, const std::string& body) const {
    return make(method,
                normalized_base_url(config_.api_url) + "/api/v1/accounts/" + std::to_string(config_.account_id) + path,
                body);
}

HttpRequest RequestFactory::profile() const {
    return make("GET", normalized_base_url(config_.api_url) + "/api/v1/profile", {});
}

}  // namespace chatwoot::core
