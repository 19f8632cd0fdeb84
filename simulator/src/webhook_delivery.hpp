// Asynchronous webhook delivery, as Chatwoot's WebhookJob does it: one POST per
// target, signed when a secret exists, 5 s timeout, no retries. Every attempt
// is recorded in a bounded delivery log for the control API.
#pragma once
#include <jansson.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace sim {

struct DeliveryJob {
    std::string url;
    std::string secret;  // empty: unsigned
    std::string event;
    std::string body;
    std::string kind;  // "account" | "api_inbox"
    std::int64_t account_id = 0;
    std::optional<std::int64_t> webhook_id;
    std::optional<std::int64_t> inbox_id;
    std::optional<std::int64_t> message_id;
};

struct DeliveryRecord {
    std::uint64_t seq = 0;
    std::int64_t at_ms = 0;
    DeliveryJob job;
    std::vector<std::pair<std::string, std::string>> headers;
    long status = 0;  // HTTP status, 0 when no answer
    std::string error;
    double duration_ms = 0;
};

// X-Chatwoot-Timestamp and X-Chatwoot-Signature for a body sent at `timestamp`
// (lib/webhooks/trigger.rb#request_headers).
std::vector<std::pair<std::string, std::string>> signed_delivery_headers(const std::string& secret,
                                                                         std::int64_t timestamp,
                                                                         const std::string& body);

class WebhookDeliverer {
public:
    using FailureHook = std::function<void(const DeliveryJob&, const std::string& error)>;

    WebhookDeliverer(unsigned workers, long timeout_ms);
    ~WebhookDeliverer();
    void set_failure_hook(FailureHook hook) { failure_hook_ = std::move(hook); }
    void enqueue(std::vector<DeliveryJob> jobs);
    void stop();
    // Drops queued jobs and the log (reset).
    void clear();
    json_t* log_json(std::uint64_t since) const;
    std::size_t pending() const;

private:
    void worker();
    DeliveryRecord deliver(const DeliveryJob& job);

    long timeout_ms_;
    FailureHook failure_hook_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<DeliveryJob> queue_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> generation_{0};  // bumped by clear(): stale results are not logged
    std::size_t in_flight_ = 0;
    std::deque<DeliveryRecord> log_;
    std::uint64_t next_seq_ = 1;
    std::vector<std::thread> threads_;
};

}  // namespace sim
