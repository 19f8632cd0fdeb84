#include "core/http/transfer_engine.hpp"

#include "core/connections/connection_config.hpp"
#include "core/outbox/retry_policy.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
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
    RequestPacer::Start paced;  // the pacer's ticket for it
    int resends = 0;          // times Chatwoot answered 429 and it went out again
    bool oversize = false;    // the reply passed max_response_bytes (or memory ran out)
    std::string refused_ip;   // connected to an address is_forbidden_address refuses
};

size_t on_body(char* data, size_t size, size_t count, void* user) {
    auto* t = static_cast<Transfer*>(user);
    size_t n = size * count;
    if (t->response.body.size() + n > t->request.max_response_bytes) {
        t->oversize = true;
        return 0;  // curl stops the transfer (CURLE_WRITE_ERROR)
    }
    try {
        t->response.body.append(data, n);
    } catch (...) {  // nothing may unwind through libcurl's C frames
        t->oversize = true;
        return 0;
    }
    return n;
}

// Longer than any URL Chatwoot would redirect to; what is kept is redacted before it
// is cut again for a message (recorded_text), so this bound is never what is shown.
constexpr size_t kMaxLocation = 8192;

size_t on_header(char* data, size_t size, size_t count, void* user) {
    size_t n = size * count;
    // Only Retry-After and Location matter.
    if (n < 10 || (data[0] != 'r' && data[0] != 'R' && data[0] != 'l' && data[0] != 'L')) return n;
    auto* t = static_cast<Transfer*>(user);
    try {
        auto value_after = [&](size_t name_length, size_t max) {
            std::string value(data + name_length, std::min(n - name_length, max));
            value.erase(0, value.find_first_not_of(" \t"));
            value.erase(value.find_last_not_of(" \t\r\n") + 1);
            return value;
        };
        auto named = [&](const char* name, size_t length) {
            if (n < length) return false;
            for (size_t i = 0; i < length; ++i)
                if (std::tolower(static_cast<unsigned char>(data[i])) != name[i]) return false;
            return true;
        };
        if (named("retry-after:", 12)) t->response.retry_after = value_after(12, 256);
        else if (named("location:", 9)) t->response.location = value_after(9, kMaxLocation);
    } catch (...) {
        return 0;
    }
    return n;
}

// Called once the connection is up (new or reused), before the request is sent.
int on_connected(void* user, char* primary_ip, char*, int, int) {
    auto* t = static_cast<Transfer*>(user);
    if (t->request.allow_link_local || !primary_ip || !is_forbidden_address(primary_ip)) return CURL_PREREQFUNC_OK;
    t->refused_ip = primary_ip;
    return CURL_PREREQFUNC_ABORT;
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
    bool resend_throttled = false;
    CURLM* multi = nullptr;
    std::vector<CURL*> idle_handles;  // reused: fewer allocations, warm TLS sessions
    // Header lists by content: a connection's requests all carry the same few headers,
    // so each list is built once, not once per request.
    std::map<std::vector<std::string>, curl_slist*> header_lists;
    RequestPacer pacer;

    struct Ready {
        HttpOperation* operation;
        HttpRequest request;
        int resends = 0;
    };
    // Operations wanting to send, with the request each wants: built once, sent as is.
    std::deque<Ready> ready;
    std::vector<std::unique_ptr<Transfer>> in_flight;
    std::unordered_set<HttpOperation*> has_sent;  // operations that sent at least one request

    // Exclusive keys: who holds each, what each admitted operation holds, and the
    // operations waiting (in arrival order) with the keys they want.
    std::unordered_map<std::string, HttpOperation*> holder;
    std::unordered_map<HttpOperation*, std::vector<std::string>> held;
    std::deque<std::pair<HttpOperation*, std::vector<std::string>>> parked;
    std::unordered_map<std::string, int> wanted_by_parked;
    bool admitting = false, rescan = false;

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
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(t.request.max_response_bytes));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_connected);
        curl_easy_setopt(h, CURLOPT_PREREQDATA, &t);
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

    void grant(HttpOperation* op, std::vector<std::string> keys) {
        for (const auto& key : keys) holder[key] = op;
        held[op] = std::move(keys);
    }

    void release_keys(HttpOperation* op) {
        auto it = held.find(op);
        if (it == held.end()) return;
        for (const auto& key : it->second) holder.erase(key);
        held.erase(it);
    }

    bool keys_free(const std::vector<std::string>& keys, const std::unordered_set<std::string>* also_taken) const {
        for (const auto& key : keys)
            if (holder.count(key) || (also_taken && also_taken->count(key))) return false;
        return true;
    }

    void finish(HttpOperation* op, std::vector<HttpOperation*>& finished) {
        has_sent.erase(op);
        finished.push_back(op);
        release_keys(op);
        admit_parked(finished);
    }

    // Admits, in arrival order, every parked operation whose keys are free and wanted
    // by no operation parked before it.
    void admit_parked(std::vector<HttpOperation*>& finished) {
        if (parked.empty()) return;
        if (admitting) {
            rescan = true;
            return;
        }
        admitting = true;
        do {
            rescan = false;
            std::unordered_set<std::string> wanted_earlier;
            for (auto it = parked.begin(); it != parked.end();) {
                if (!keys_free(it->second, &wanted_earlier)) {
                    wanted_earlier.insert(it->second.begin(), it->second.end());
                    ++it;
                    continue;
                }
                HttpOperation* op = it->first;
                std::vector<std::string> keys = std::move(it->second);
                it = parked.erase(it);
                for (const auto& key : keys)
                    if (--wanted_by_parked[key] == 0) wanted_by_parked.erase(key);
                grant(op, std::move(keys));
                queue_next(op, finished);
            }
        } while (rescan);
        admitting = false;
    }

    void admit(HttpOperation* op, std::vector<HttpOperation*>& finished) {
        std::vector<std::string> keys = op->exclusive_keys();
        bool queued_behind = false;
        for (const auto& key : keys) queued_behind = queued_behind || holder.count(key) || wanted_by_parked.count(key);
        if (queued_behind) {
            for (const auto& key : keys) ++wanted_by_parked[key];
            parked.emplace_back(op, std::move(keys));
            return;
        }
        if (!keys.empty()) grant(op, std::move(keys));
        queue_next(op, finished);
    }

    // An operation's follow-up (the create after its lookup) goes before the first
    // requests of operations that have not started: each find-or-create finishes
    // soon after it began, which keeps the backlog of half-done operations (and the
    // time their keys are held) small. So does the first request of one that jumps
    // the queue.
    void queue_next(HttpOperation* op, std::vector<HttpOperation*>& finished) {
        if (auto request = op->next_request()) {
            if (has_sent.count(op) || op->jumps_queue)
                ready.push_front({op, std::move(*request), 0});
            else
                ready.push_back({op, std::move(*request), 0});
        } else {
            finish(op, finished);
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

    HttpResponse response_of(Transfer* t, CURLcode result) {
        HttpResponse response = std::move(t->response);
        response.error = transport_error_from_curl(result);
        if (result != CURLE_OK)
            response.error_text = t->error_buffer[0] ? t->error_buffer : curl_easy_strerror(result);
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &response.status);
        char* content_type = nullptr;
        if (curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type)
            response.content_type = content_type;
        if (t->oversize || result == CURLE_FILESIZE_EXCEEDED) {
            response.error = TransportError::too_large;
            response.error_text = "resposta maior que " + std::to_string(t->request.max_response_bytes) + " bytes";
            response.body.clear();
            response.body.shrink_to_fit();
        } else if (!t->refused_ip.empty()) {
            response.error = TransportError::forbidden_address;
            response.error_text = "o host resolveu para " + t->refused_ip +
                                  ", um endereço link-local ou de metadados (chatwoot_sync.allow_link_local_addresses)";
        }
        response.elapsed =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t->started);
        return response;
    }
};

TransferEngine::TransferEngine(int max_in_flight, bool resend_throttled) : impl_(std::make_unique<Impl>()) {
    ensure_curl_initialized();
    impl_->max_in_flight = std::max(1, max_in_flight);
    impl_->resend_throttled = resend_throttled;
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
    impl_->admit(operation, finished);
}

void TransferEngine::step(std::chrono::milliseconds wait, bool hold_new, std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    auto now = RequestPacer::Clock::now();
    // Held, only operations already under way go on (a create after its lookup): an
    // operation cut between its requests would have to start over.
    auto next = [&e, hold_new] {
        if (!hold_new) return e.ready.begin();
        return std::find_if(e.ready.begin(), e.ready.end(), [&e](const Impl::Ready& r) { return e.has_sent.count(r.operation) > 0; });
    };
    for (auto it = next(); it != e.ready.end() && static_cast<int>(e.in_flight.size()) < e.max_in_flight &&
                           e.pacer.may_start(now);
         it = next()) {
        auto t = std::make_unique<Transfer>();
        t->operation = it->operation;
        t->request = std::move(it->request);
        t->resends = it->resends;
        e.ready.erase(it);
        e.has_sent.insert(t->operation);
        t->paced = e.pacer.on_start(now);
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
        HttpResponse response = e.response_of(t, msg->data.result);
        auto replied = RequestPacer::Clock::now();
        std::optional<std::chrono::seconds> retry_after;
        if (!response.retry_after.empty())
            retry_after = parse_retry_after(response.retry_after, static_cast<std::int64_t>(std::time(nullptr)),
                                            e.pacer.max_pause());
        e.pacer.count_reply(response.transport_ok() ? response.status : 0);
        if (!t->request.separately_limited)
            e.pacer.on_response(t->paced, response.transport_ok() ? response.status : 0, retry_after, replied);
        else
            e.pacer.on_done(t->paced, replied);
        ++requests_done_;
        progressed = true;
        if (e.resend_throttled && response.transport_ok() && response.status == 429 && t->resends < kMaxResends &&
            !t->request.separately_limited) {
            // Rejected before Chatwoot did anything: the same request goes out again,
            // first in line, when the pacer allows.
            Impl::Ready again{t->operation, std::move(t->request), t->resends + 1};
            e.release(*t);
            e.in_flight.erase(std::find_if(e.in_flight.begin(), e.in_flight.end(),
                                           [t](const std::unique_ptr<Transfer>& p) { return p.get() == t; }));
            e.ready.push_front(std::move(again));
            continue;
        }
        e.complete(t, response, finished);
    }
    // Wait for the network only when nothing new can start: a response that just
    // finished may have freed a slot and queued its operation's next request. Waiting
    // for the pacer is waiting too, but no longer than until it allows a start.
    now = RequestPacer::Clock::now();
    bool slot_free = next() != e.ready.end() && static_cast<int>(e.in_flight.size()) < e.max_in_flight;
    bool can_start = slot_free && e.pacer.may_start(now);
    if (!progressed && !can_start && wait.count() > 0) {
        auto wait_ms = wait;
        if (slot_free) {
            auto until = std::chrono::duration_cast<std::chrono::milliseconds>(e.pacer.next_start(now) - now);
            wait_ms = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(1), wait);
        }
        curl_multi_poll(e.multi, nullptr, 0, static_cast<int>(wait_ms.count()), nullptr);
    }
}

void TransferEngine::cut_in_flight(std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    while (!e.in_flight.empty()) {
        Transfer* t = e.in_flight.front().get();
        HttpOperation* op = t->operation;
        e.pacer.on_done(t->paced, RequestPacer::Clock::now());
        e.release(*t);
        e.in_flight.erase(e.in_flight.begin());
        op->on_response(aborted_response());
        e.has_sent.erase(op);
        e.release_keys(op);
        finished.push_back(op);
    }
}

void TransferEngine::drop_queued(std::vector<HttpOperation*>& untouched, std::vector<HttpOperation*>& finished) {
    Impl& e = *impl_;
    for (auto& entry : e.ready) {
        HttpOperation* op = entry.operation;
        e.release_keys(op);
        if (e.has_sent.erase(op)) {
            op->on_response(aborted_response());
            finished.push_back(op);
        } else {
            untouched.push_back(op);
        }
    }
    e.ready.clear();
    for (auto& [op, keys] : e.parked) untouched.push_back(op);
    e.parked.clear();
    e.wanted_by_parked.clear();
}

void TransferEngine::wakeup() { curl_multi_wakeup(impl_->multi); }

void TransferEngine::set_max_in_flight(int n) { impl_->max_in_flight = std::max(1, n); }

void TransferEngine::set_budget(RequestPacer::Budget budget) { impl_->pacer.configure(budget); }

void TransferEngine::share_budget(SharedRequestWindow* shared) { impl_->pacer.share(shared); }

const RequestPacer& TransferEngine::pacer() const { return impl_->pacer; }

int TransferEngine::in_flight() const { return static_cast<int>(impl_->in_flight.size()); }

bool TransferEngine::under_way() const {
    const Impl& e = *impl_;
    return !e.in_flight.empty() || std::any_of(e.ready.begin(), e.ready.end(), [&e](const Impl::Ready& r) {
               return e.has_sent.count(r.operation) > 0;
           });
}

std::size_t TransferEngine::queued() const { return impl_->ready.size() + impl_->parked.size(); }

}  // namespace chatwoot::core
