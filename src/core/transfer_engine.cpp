#include "core/transfer_engine.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace chatwoot::core {

namespace {

struct Transfer {
    CURL* easy = nullptr;
    HttpOperation* operation = nullptr;
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
    if (size * count < 13 || (data[0] != 'r' && data[0] != 'R')) return size * count;  // only Retry-After matters
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

HttpResponse aborted_response() {
    HttpResponse response;
    response.error = TransportError::aborted;
    response.error_text = "interrompido (worker encerrando)";
    return response;
}

}  // namespace

struct TransferEngine::Impl {
    int max_in_flight = 1;
    CURLM* multi = nullptr;
    std::vector<CURL*> idle_handles;  // reused: fewer allocations, warm TLS sessions
    // Header lists by content: a connection's requests all carry the same few headers,
    // so each list is built once, not once per request.
    std::map<std::vector<std::string>, curl_slist*> header_lists;

    curl_slist* headers_for(const std::vector<std::string>& headers) {
        auto it = header_lists.find(headers);
        if (it != header_lists.end()) return it->second;
        curl_slist* list = nullptr;
        for (const auto& header : headers) {
            curl_slist* grown = curl_slist_append(list, header.c_str());
            if (!grown) {
                curl_slist_free_all(list);
                throw std::runtime_error("could not allocate request headers");
            }
            list = grown;
        }
        // Bounded (a new key after configurar must not accumulate lists), and freed only
        // when no transfer in flight can still point at one.
        if (header_lists.size() >= 64 && in_flight.empty()) {
            for (auto& [key, old] : header_lists) curl_slist_free_all(old);
            header_lists.clear();
        }
        header_lists.emplace(headers, list);
        return list;
    }
    // Operations wanting to send, with the request each wants: built once, sent as is.
    std::deque<std::pair<HttpOperation*, HttpRequest>> ready;
    std::vector<std::unique_ptr<Transfer>> in_flight;
    std::unordered_set<HttpOperation*> has_sent;  // operations that sent at least one request

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
        curl_slist* headers = headers_for(t.request.headers);
        CURL* h = t.easy = take_handle();
        curl_easy_setopt(h, CURLOPT_URL, t.request.url.c_str());
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, t.request.method.c_str());
        if (!t.request.body.empty() || t.request.method != "GET") {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, t.request.body.c_str());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(t.request.body.size()));
        }
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
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
        idle_handles.push_back(t.easy);
        t.easy = nullptr;
    }

    // An operation's follow-up (the create after its lookup) goes before the first
    // requests of operations that have not started: each find-or-create finishes
    // soon after it began, which keeps the window between a lookup and its create
    // short (two parties that are the same person, queued together, then find each
    // other's contact instead of racing to create it) and the backlog of half-done
    // operations small.
    void queue_next(HttpOperation* op, std::vector<HttpOperation*>& finished) {
        if (auto request = op->next_request()) {
            if (has_sent.count(op))
                ready.emplace_front(op, std::move(*request));
            else
                ready.emplace_back(op, std::move(*request));
        } else {
            has_sent.erase(op);
            finished.push_back(op);
        }
    }

    // Hands a response to its operation and queues what it wants next.
    void complete(Transfer* t, const HttpResponse& response, std::vector<HttpOperation*>& finished) {
        HttpOperation* op = t->operation;
        release(*t);
        in_flight.erase(std::find_if(in_flight.begin(), in_flight.end(),
                                     [t](const std::unique_ptr<Transfer>& p) { return p.get() == t; }));
        op->on_response(response);
        queue_next(op, finished);
    }
};

TransferEngine::TransferEngine(int max_in_flight) : impl_(std::make_unique<Impl>()) {
    ensure_curl_initialized();
    impl_->max_in_flight = std::max(1, max_in_flight);
    impl_->multi = curl_multi_init();
    if (!impl_->multi) throw std::runtime_error("could not allocate a libcurl multi handle");
    // No cap per host: the engine's own limit counts transfers, and a cap here would
    // hold transfers waiting for a connection inside curl, invisible to that count.
}

TransferEngine::~TransferEngine() {
    for (auto& t : impl_->in_flight)
        if (t->easy) impl_->release(*t);
    for (CURL* h : impl_->idle_handles) curl_easy_cleanup(h);
    curl_multi_cleanup(impl_->multi);
    for (auto& [key, list] : impl_->header_lists) curl_slist_free_all(list);
}

void TransferEngine::add(HttpOperation* operation, std::vector<HttpOperation*>& finished) {
    impl_->queue_next(operation, finished);
}

void TransferEngine::step(std::chrono::milliseconds wait, bool hold_new, std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    while (!hold_new && !e.ready.empty() && static_cast<int>(e.in_flight.size()) < e.max_in_flight) {
        auto t = std::make_unique<Transfer>();
        t->operation = e.ready.front().first;
        t->request = std::move(e.ready.front().second);
        e.ready.pop_front();
        e.has_sent.insert(t->operation);
        e.start(*t);
        e.in_flight.push_back(std::move(t));
    }
    int running = 0;
    curl_multi_perform(e.multi, &running);
    bool progressed = false;
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(e.multi, &queued)) {
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
        response.elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t->started);
        e.complete(t, response, finished);
        ++requests_done_;
        progressed = true;
    }
    // Wait for the network only when nothing new can start: a response that just
    // finished may have freed a slot and queued its operation's next request.
    bool can_start = !hold_new && !e.ready.empty() && static_cast<int>(e.in_flight.size()) < e.max_in_flight;
    if (!progressed && !can_start && wait.count() > 0)
        curl_multi_poll(e.multi, nullptr, 0, static_cast<int>(wait.count()), nullptr);
}

void TransferEngine::cut_in_flight(std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    while (!e.in_flight.empty()) {
        Transfer* t = e.in_flight.front().get();
        HttpOperation* op = t->operation;
        e.release(*t);
        e.in_flight.erase(e.in_flight.begin());
        op->on_response(aborted_response());
        e.has_sent.erase(op);
        finished.push_back(op);
    }
}

void TransferEngine::drop_queued(std::vector<HttpOperation*>& untouched, std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    for (auto& [op, request] : e.ready) {
        if (e.has_sent.erase(op)) {
            op->on_response(aborted_response());
            finished.push_back(op);
        } else {
            untouched.push_back(op);
        }
    }
    e.ready.clear();
}

void TransferEngine::wakeup() { curl_multi_wakeup(impl_->multi); }

void TransferEngine::set_max_in_flight(int n) { impl_->max_in_flight = std::max(1, n); }

int TransferEngine::in_flight() const { return static_cast<int>(impl_->in_flight.size()); }

std::size_t TransferEngine::queued() const { return impl_->ready.size(); }

}  // namespace chatwoot::core
