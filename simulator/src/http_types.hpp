// Transport-neutral request/response records passed between the HTTP layer
// and the API/control handlers.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct MHD_Connection;

namespace sim {

struct HttpRequest {
    std::string method;
    std::string path;       // decoded path, no query
    std::string raw_query;  // as sent, without '?'
    std::vector<std::pair<std::string, std::string>> query;
    std::string body;
    MHD_Connection* connection = nullptr;

    // Case-insensitive header lookup; nullopt when absent.
    std::optional<std::string> header(const char* name) const;
};

struct HttpResponse {
    enum class Action { respond, drop };

    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Action action = Action::respond;
    int delay_ms = 0;  // answer (or drop) only after this long, without blocking other connections

    // Request-log annotations, not sent.
    std::optional<std::int64_t> account_id;
    std::string fault;

    static HttpResponse json(int status, std::string body) {
        HttpResponse r;
        r.status = status;
        r.body = std::move(body);
        return r;
    }
    static HttpResponse empty(int status) {
        HttpResponse r;
        r.status = status;
        r.content_type.clear();
        return r;
    }
};

}  // namespace sim
