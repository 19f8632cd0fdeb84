// Transport-neutral request/response records passed between the HTTP layer
// and the API/control handlers.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
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
    std::string peer_ip;  // the TCP peer's address (rack-attack's req.ip for a direct client)
    MHD_Connection* connection = nullptr;

    // Case-insensitive header lookup; nullopt when absent.
    std::optional<std::string> header(const char* name) const;
    // Every request header, in the order received, names as sent.
    std::vector<std::pair<std::string, std::string>> headers() const;
};

// A body sent in pieces by a libmicrohttpd callback, never built in memory:
// `unit` repeated `repeat` times, then `tail`.
struct StreamBody {
    std::shared_ptr<const std::string> unit;
    std::uint64_t repeat = 1;
    std::string tail;
    std::uint64_t size() const { return (unit ? unit->size() : 0) * repeat + tail.size(); }
};

struct HttpResponse {
    enum class Action { respond, drop };

    int status = 200;
    std::string content_type = "application/json; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    Action action = Action::respond;
    int delay_ms = 0;  // answer (or drop) only after this long, without blocking other connections
    // When set, the body is streamed from here instead of `body`.
    std::shared_ptr<StreamBody> stream;
    // When set, the server calls it once `delay_ms` has passed (the connection is parked
    // meanwhile, no thread waits) and sends what it returns instead. The second phase
    // of a contact write in the real-concurrency mode.
    std::function<HttpResponse()> then;

    // Request-log annotations, not sent.
    std::optional<std::int64_t> account_id;
    std::string fault;
    std::optional<int> applied_status;  // after_apply faults: what the applied request answered
    bool write_applied = false;         // a write route answered 2xx: its change is in the store

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
