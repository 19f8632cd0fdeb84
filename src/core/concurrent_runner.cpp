#include "core/concurrent_runner.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>

namespace chatwoot::core {

namespace {

struct Transfer {
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    std::size_t operation = 0;
    HttpRequest request;      // owns the URL and body strings curl points into
    HttpResponse response;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    std::chrono::steady_clock::time_point started;
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    static_cast<Transfer*>(user)->response.body.append(data, size * count);
    return size * count;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * count);
    if (line.size() > 12) {
        std::string name = line.substr(0, 12);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        if (name == "retry-after:") {
            std::string value = line.substr(12);
            value.erase(0, value.find_first_not_of(" \t"));
            value.erase(value.find_last_not_of(" \t\r\n") + 1);
            t->response.retry_after = value;
        }
    }
    return size * count;
}

}  // namespace

struct ConcurrentRunner::Impl {
    int max_in_flight;
    AbortCheck should_abort;
    CURLM* multi = nullptr;
    std::vector<CURL*> idle_handles;  // reused: fewer allocations, warm TLS sessions

    CURL* take_handle() {
        if (!idle_handles.empty()) {
            CURL* h = idle_handles.back();
            idle_handles.pop_back();
            curl_easy_reset(h);
            return h;
        }
        CURL* h = curl_easy_init();
        if (!h) throw std::runtime_error("could not allocate a libcurl handle");
        return h;
    }

    void start(Transfer& t) {
        CURL* h = t.easy = take_handle();
        for (const auto& header : t.request.headers) {
            curl_slist* grown = curl_slist_append(t.headers, header.c_str());
            if (!grown) throw std::runtime_error("could not allocate request headers");
            t.headers = grown;
        }
        curl_easy_setopt(h, CURLOPT_URL, t.request.url.c_str());
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t.request.method.c_str());
        if (!t.request.body.empty() || t.request.method != "GET") {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, t.request.body.c_str());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(t.request.body.size()));
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t.request.timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, std::min(t.request.connect_timeout_ms, t.request.timeout_ms));
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, t.request.verify_tls ? 1L : 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, t.request.verify_tls ? 2L : 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.error_buffer);
        curl_easy_setopt(h, CURLOPT_PRIVATE, &t);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "chatwoot_sync/0.1");
        t.started = std::chrono::steady_clock::now();
        if (curl_multi_add_handle(multi, h) != CURLM_OK) throw std::runtime_error("curl_multi_add_handle failed");
    }

    void release(Transfer& t) {
        curl_multi_remove_handle(multi, t.easy);
        curl_slist_free_all(t.headers);
        t.headers = nullptr;
        idle_handles.push_back(t.easy);
        t.easy = nullptr;
    }
};

ConcurrentRunner::ConcurrentRunner(int max_in_flight, AbortCheck should_abort) : impl_(new Impl) {
    ensure_curl_initialized();
    impl_->max_in_flight = std::max(1, max_in_flight);
    impl_->should_abort = std::move(should_abort);
    impl_->multi = curl_multi_init();
    if (!impl_->multi) {
        delete impl_;
        throw std::runtime_error("could not allocate a libcurl multi handle");
    }
    curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(impl_->max_in_flight));
}

ConcurrentRunner::~ConcurrentRunner() {
    for (CURL* h : impl_->idle_handles) curl_easy_cleanup(h);
    curl_multi_cleanup(impl_->multi);
    delete impl_;
}

RunStats ConcurrentRunner::run(const std::vector<HttpOperation*>& operations, std::chrono::milliseconds grace) {
    RunStats stats;
    auto started = std::chrono::steady_clock::now();
    // Operations wanting to send, with the request each wants: built once, sent as is.
    std::deque<std::pair<std::size_t, HttpRequest>> ready;
    for (std::size_t i = 0; i < operations.size(); ++i)
        if (auto request = operations[i]->next_request()) ready.emplace_back(i, std::move(*request));

    std::vector<std::unique_ptr<Transfer>> in_flight;
    bool aborting = false;
    std::chrono::steady_clock::time_point abort_deadline;

    // Cleans up every transfer still registered, whatever way we leave this function.
    struct Cleanup {
        Impl* impl;
        std::vector<std::unique_ptr<Transfer>>& transfers;
        ~Cleanup() {
            for (auto& t : transfers)
                if (t->easy) impl->release(*t);
        }
    } cleanup{impl_, in_flight};

    auto complete = [&](Transfer* t, HttpResponse response) {
        std::size_t op = t->operation;
        impl_->release(*t);
        in_flight.erase(std::find_if(in_flight.begin(), in_flight.end(),
                                     [t](const std::unique_ptr<Transfer>& p) { return p.get() == t; }));
        operations[op]->on_response(response);
        ++stats.requests;
        if (auto request = operations[op]->next_request()) ready.emplace_back(op, std::move(*request));
    };

    while (!ready.empty() || !in_flight.empty()) {
        if (!aborting && impl_->should_abort && impl_->should_abort()) {
            aborting = true;
            abort_deadline = std::chrono::steady_clock::now() + grace;
        }
        while (!aborting && !ready.empty() && static_cast<int>(in_flight.size()) < impl_->max_in_flight) {
            auto t = std::make_unique<Transfer>();
            t->operation = ready.front().first;
            t->request = std::move(ready.front().second);
            ready.pop_front();
            impl_->start(*t);
            in_flight.push_back(std::move(t));
        }
        if (aborting && (in_flight.empty() || std::chrono::steady_clock::now() >= abort_deadline)) break;

        int running = 0;
        curl_multi_perform(impl_->multi, &running);
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(impl_->multi, &queued)) {
            if (msg->msg != CURLMSG_DONE) continue;
            Transfer* t = nullptr;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
            HttpResponse response = std::move(t->response);
            response.error = transport_error_from_curl(msg->data.result);
            if (msg->data.result != CURLE_OK)
                response.error_text = t->error_buffer[0] ? t->error_buffer : curl_easy_strerror(msg->data.result);
            curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &response.status);
            char* content_type = nullptr;
            if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type)
                response.content_type = content_type;
            response.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t->started);
            complete(t, std::move(response));
        }
        if (!in_flight.empty()) curl_multi_poll(impl_->multi, nullptr, 0, 100, nullptr);
    }

    // Aborted: cut what is still in flight; those operations hear "aborted".
    while (!in_flight.empty()) {
        Transfer* t = in_flight.front().get();
        HttpResponse response;
        response.error = TransportError::aborted;
        response.error_text = "interrompido (worker encerrando)";
        std::size_t op = t->operation;
        impl_->release(*t);
        in_flight.erase(in_flight.begin());
        operations[op]->on_response(response);
    }
    for (std::size_t i = 0; i < operations.size(); ++i)
        if (operations[i]->next_request()) ++stats.aborted_operations;
    stats.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return stats;
}

}  // namespace chatwoot::core
