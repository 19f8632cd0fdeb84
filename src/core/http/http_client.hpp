// HTTP on libcurl's multi interface. Pure C++: the caller passes an abort check
// (for PostgreSQL: "is a cancel or terminate pending?") instead of this code
// knowing anything about backends or signals.
#pragma once
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace chatwoot::core {

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string body;
    long timeout_ms = 5000;          // whole request
    long connect_timeout_ms = 3000;  // TCP + TLS handshake
    bool verify_tls = true;          // never off unless the operator asks
    bool allow_link_local = false;   // connect to link-local / metadata addresses (is_forbidden_address)
    std::size_t max_response_bytes = 4 * 1024 * 1024;  // a longer reply is a transport error
    // Chatwoot limits this endpoint on its own (contact search: 100 per minute per
    // account): a 429 here says nothing about the integration's budget.
    bool separately_limited = false;
};

enum class TransportError {
    none,
    connect_failed,   // refused, unreachable, DNS
    timed_out,
    tls_failed,
    connection_lost,  // closed mid-response or empty reply
    aborted,          // the abort check asked us to stop
    too_large,        // the reply was longer than max_response_bytes
    forbidden_address,  // the host resolved to a link-local or metadata address
    other,
};

struct HttpResponse {
    long status = 0;                   // 0 when no HTTP answer arrived
    std::string body;
    std::string content_type;
    std::string retry_after;           // raw header value, empty when absent
    std::string location;              // raw Location header (redirects are never followed), bounded
    TransportError error = TransportError::none;
    std::string error_text;            // curl's explanation, never containing headers
    std::chrono::milliseconds elapsed{0};

    bool transport_ok() const { return error == TransportError::none; }
};

const char* to_string(TransportError error);

// Maps a libcurl CURLcode (passed as int: no curl header here) to our classification.
TransportError transport_error_from_curl(int curl_code);

// Something that sends one request and returns its response. The real one is
// CurlTransport; unit tests substitute a scripted fake.
class HttpTransport {
public:
    virtual ~HttpTransport() = default;
    virtual HttpResponse send(const HttpRequest& request) = 0;
};

class CurlTransport final : public HttpTransport {
public:
    using AbortCheck = std::function<bool()>;
    explicit CurlTransport(AbortCheck should_abort = {}) : should_abort_(std::move(should_abort)) {}
    HttpResponse send(const HttpRequest& request) override;

private:
    AbortCheck should_abort_;
};

// curl_global_init once per process (not thread-safe by libcurl's design, so the
// first call must come from a single-threaded process, as PostgreSQL backends are).
void ensure_curl_initialized();

}  // namespace chatwoot::core
