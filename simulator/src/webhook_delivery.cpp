#include "webhook_delivery.hpp"

#include <curl/curl.h>

#include <chrono>
#include <ctime>

#include "core/inbound/signature.hpp"
#include "json_util.hpp"
#include "util.hpp"

namespace sim {

static constexpr std::size_t kLogCapacity = 20000;

WebhookDeliverer::WebhookDeliverer(unsigned workers, long timeout_ms) : timeout_ms_(timeout_ms) {
    for (unsigned i = 0; i < workers; ++i) threads_.emplace_back([this] { worker(); });
}

WebhookDeliverer::~WebhookDeliverer() { stop(); }

void WebhookDeliverer::stop() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (stopping_) {
            if (threads_.empty()) return;
        }
        stopping_ = true;
        queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

void WebhookDeliverer::enqueue(std::vector<DeliveryJob> jobs) {
    if (jobs.empty()) return;
    {
        std::lock_guard<std::mutex> lk(mu_);
        if (stopping_) return;
        for (auto& j : jobs) queue_.push_back(std::move(j));
    }
    cv_.notify_all();
}

void WebhookDeliverer::clear() {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.clear();
    log_.clear();
    ++generation_;
}

std::size_t WebhookDeliverer::pending() const {
    std::lock_guard<std::mutex> lk(mu_);
    return queue_.size() + in_flight_;
}

void WebhookDeliverer::worker() {
    for (;;) {
        DeliveryJob job;
        std::uint64_t gen;
        {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            ++in_flight_;
            gen = generation_;
        }
        DeliveryRecord rec = deliver(job);
        bool failed = !rec.error.empty();
        {
            std::lock_guard<std::mutex> lk(mu_);
            --in_flight_;
            if (gen == generation_ && !stopping_) {
                rec.seq = next_seq_++;
                log_.push_back(rec);
                if (log_.size() > kLogCapacity) log_.pop_front();
            } else {
                failed = false;  // reset happened meanwhile: the message no longer exists
            }
        }
        if (failed && failure_hook_) failure_hook_(job, rec.error);
    }
}

namespace {
size_t discard_body(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }
int abort_on_stop(void* flag, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    return static_cast<std::atomic<bool>*>(flag)->load() ? 1 : 0;
}
std::string reason_phrase(long code) {
    switch (code) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 409: return "Conflict";
        case 422: return "Unprocessable Entity";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 502: return "Bad Gateway";
        case 503: return "Service Unavailable";
        case 504: return "Gateway Timeout";
        default: return "";
    }
}
}  // namespace

std::vector<std::pair<std::string, std::string>> signed_delivery_headers(const std::string& secret,
                                                                         std::int64_t timestamp,
                                                                         const std::string& body) {
    return {{"X-Chatwoot-Timestamp", std::to_string(timestamp)},
            {"X-Chatwoot-Signature", chatwoot::core::chatwoot_signature_header(secret, timestamp, body)}};
}

DeliveryRecord WebhookDeliverer::deliver(const DeliveryJob& job) {
    DeliveryRecord rec;
    rec.job = job;
    rec.at_ms = now_ms();
    rec.headers.emplace_back("Content-Type", "application/json");
    rec.headers.emplace_back("Accept", "application/json");
    rec.headers.emplace_back("X-Chatwoot-Delivery", uuid_v4());
    if (!job.secret.empty()) {
        for (auto& h : signed_delivery_headers(job.secret, static_cast<std::int64_t>(std::time(nullptr)), job.body))
            rec.headers.push_back(std::move(h));
    }
    auto t0 = std::chrono::steady_clock::now();
    CURL* curl = curl_easy_init();
    if (!curl) {
        rec.error = "curl_easy_init failed";
        return rec;
    }
    curl_slist* hdrs = nullptr;
    for (const auto& [k, v] : rec.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
    hdrs = curl_slist_append(hdrs, "Expect:");  // no 100-continue round trip
    curl_easy_setopt(curl, CURLOPT_URL, job.url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, job.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(job.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms_);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &discard_body);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &abort_on_stop);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stopping_);
    CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rec.status);
        if (rec.status < 200 || rec.status >= 300) {
            // SafeFetch::HttpError's message, e.g. "404 Not Found".
            std::string phrase = reason_phrase(rec.status);
            rec.error = std::to_string(rec.status) + (phrase.empty() ? "" : " " + phrase);
        }
    } else {
        rec.error = curl_easy_strerror(rc);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    rec.duration_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return rec;
}

json_t* WebhookDeliverer::log_json(std::uint64_t since) const {
    json_t* arr = json_array();
    std::lock_guard<std::mutex> lk(mu_);
    for (const DeliveryRecord& r : log_) {
        if (r.seq <= since) continue;
        json_t* o = json_object();
        json_object_set_new(o, "seq", json_integer(static_cast<json_int_t>(r.seq)));
        json_object_set_new(o, "at_ms", json_integer(r.at_ms));
        json_object_set_new(o, "url", jstr(r.job.url));
        json_object_set_new(o, "event", jstr(r.job.event));
        json_object_set_new(o, "kind", jstr(r.job.kind));
        json_object_set_new(o, "account_id", json_integer(r.job.account_id));
        json_object_set_new(o, "webhook_id", jint_opt(r.job.webhook_id));
        json_object_set_new(o, "inbox_id", jint_opt(r.job.inbox_id));
        json_object_set_new(o, "status", r.status ? json_integer(r.status) : json_null());
        json_object_set_new(o, "error", r.error.empty() ? json_null() : jstr(r.error));
        json_object_set_new(o, "duration_ms", json_real(r.duration_ms));
        json_t* h = json_object();
        for (const auto& [k, v] : r.headers) json_object_set_new(h, k.c_str(), jstr(v));
        json_object_set_new(o, "headers", h);
        json_object_set_new(o, "body", jstr(r.job.body));
        json_array_append_new(arr, o);
    }
    return arr;
}

}  // namespace sim
