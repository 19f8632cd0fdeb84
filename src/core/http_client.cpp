#include "core/http_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
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
        case TransportError::other: return "other";
    }
    return "other";
}

void ensure_curl_initialized() {
    static bool initialized = false;
    if (!initialized) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw std::runtime_error("curl_global_init failed");
        initialized = true;
    }
}

namespace {

struct EasyDeleter {
    void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
    void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t collect_body(char* data, size_t size, size_t count, void* user) {
    auto* out = static_cast<std::string*>(user);
    out->append(data, size * count);
    return size * count;
}

size_t collect_header(char* data, size_t size, size_t count, void* user) {
    auto* response = static_cast<HttpResponse*>(user);
    std::string line(data, size * count);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        auto first = value.find_first_not_of(" \t");
        auto last = value.find_last_not_of(" \t\r\n");
        value = first == std::string::npos ? "" : value.substr(first, last - first + 1);
        if (name == "retry-after") response->retry_after = value;
    }
    return size * count;
}

TransportError classify(CURLcode code) {
    switch (code) {
        case CURLE_OK: return TransportError::none;
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            return TransportError::connect_failed;
        case CURLE_OPERATION_TIMEDOUT: return TransportError::timed_out;
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
            return TransportError::tls_failed;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
            return TransportError::connection_lost;
        case CURLE_ABORTED_BY_CALLBACK: return TransportError::aborted;
        default: return TransportError::other;
    }
}

}  // namespace

HttpResponse CurlTransport::send(const HttpRequest& request) {
    ensure_curl_initialized();
    HttpResponse response;
    std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
    std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
    if (!easy || !multi) throw std::runtime_error("could not allocate a libcurl handle");

    std::unique_ptr<curl_slist, SlistDeleter> headers;
    for (const auto& h : request.headers) {
        curl_slist* grown = curl_slist_append(headers.get(), h.c_str());
        if (!grown) throw std::runtime_error("could not allocate request headers");
        headers.release();
        headers.reset(grown);
    }
    char error_buffer[CURL_ERROR_SIZE] = {0};
    CURL* h = easy.get();
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" || request.method == "PATCH") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.c_str());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(request.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, request.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(request.connect_timeout_ms, request.timeout_ms));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, request.verify_tls ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, request.verify_tls ? 2L : 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // never touch the host process's signal handlers
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &response);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "chatwoot_sync/0.1");

    auto started = std::chrono::steady_clock::now();
    curl_multi_add_handle(multi.get(), h);
    int running = 1;
    bool aborted = false;
    while (running > 0) {
        if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
        if (running == 0) break;
        if (should_abort_ && should_abort_()) {
            aborted = true;
            break;
        }
        // Short waits keep the abort check responsive (a cancel is seen within 100 ms).
        curl_multi_poll(multi.get(), nullptr, 0, 100, nullptr);
    }
    response.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);

    if (aborted) {
        response.error = TransportError::aborted;
        response.error_text = "request cancelled";
    } else {
        CURLcode result = CURLE_OK;
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi.get(), &queued)) {
            if (msg->msg == CURLMSG_DONE) result = msg->data.result;
        }
        response.error = classify(result);
        if (result != CURLE_OK) response.error_text = error_buffer[0] ? error_buffer : curl_easy_strerror(result);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
        char* ct = nullptr;
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) response.content_type = ct;
    }
    curl_multi_remove_handle(multi.get(), h);
    return response;
}

}  // namespace chatwoot::core
