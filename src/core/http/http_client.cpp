#include "core/http/http_client.hpp"

#include "core/http/blocking_runner.hpp"

#include <curl/curl.h>

#include <stdexcept>

namespace chatwoot::core {

const char* to_string(TransportError error) {
    switch (error) {
        case TransportError::none: return "none";
        case TransportError::connect_failed: return "connect_failed";
        case TransportError::timed_out: return "timed_out";
        case TransportError::tls_failed: return "tls_failed";
        case TransportError::connection_lost: return "connection_lost";
        case TransportError::aborted: return "aborted";
        case TransportError::too_large: return "too_large";
        case TransportError::forbidden_address: return "forbidden_address";
        case TransportError::other: return "other";
    }
    return "other";
}

TransportError transport_error_from_curl(int curl_code) {
    switch (static_cast<CURLcode>(curl_code)) {
        case CURLE_OK: return TransportError::none;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY: return TransportError::connect_failed;
        case CURLE_OPERATION_TIMEDOUT: return TransportError::timed_out;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE: return TransportError::tls_failed;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE: return TransportError::connection_lost;
        case CURLE_ABORTED_BY_CALLBACK: return TransportError::aborted;
        case CURLE_FILESIZE_EXCEEDED:
        case CURLE_WRITE_ERROR: return TransportError::too_large;
        default: return TransportError::other;
    }
}

void ensure_curl_initialized() {
    static bool initialized = false;
    if (!initialized) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
        initialized = true;
    }
}

namespace {

// One request as a one-step operation for the BlockingRunner.
class SingleRequest final : public HttpOperation {
public:
    explicit SingleRequest(const HttpRequest& request) : request_(request) {}
    std::optional<HttpRequest> next_request() const override {
        if (done_) return std::nullopt;
        return request_;
    }
    void on_response(const HttpResponse& response) override {
        response_ = response;
        done_ = true;
    }
    HttpResponse response() const { return response_; }

private:
    const HttpRequest& request_;
    HttpResponse response_;
    bool done_ = false;
};

}  // namespace

// One code path for every request: the runner, with one slot and no grace period
// (a cancelled connection test stops at once).
HttpResponse CurlTransport::send(const HttpRequest& request) {
    SingleRequest operation(request);
    BlockingRunner runner(1, should_abort_);
    runner.run({&operation}, std::chrono::milliseconds(0));
    HttpResponse response = operation.response();
    if (response.error == TransportError::aborted) response.error_text = "request cancelled";
    return response;
}

}  // namespace chatwoot::core
