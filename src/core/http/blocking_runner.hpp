// Runs many multi-request operations (e.g. ContactSync) at once on one libcurl
// multi handle: up to `max_in_flight` requests in flight, connections kept alive
// and reused, each operation handed its responses in order.
#pragma once
#include "core/http/http_client.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::core {

// Something that needs a sequence of requests, one at a time.
class HttpOperation {
public:
    virtual ~HttpOperation() = default;
    virtual std::optional<HttpRequest> next_request() const = 0;  // empty = finished
    virtual void on_response(const HttpResponse& response) = 0;
    // Keys no other operation may hold while this one runs (see TransferEngine).
    virtual std::vector<std::string> exclusive_keys() const { return {}; }
    // Its first request goes before those of the operations queued and not started
    // (a job claimed from the newest end of the queue: see pg/outbox claim_jobs).
    bool jumps_queue = false;
};

struct RunStats {
    int requests = 0;
    int aborted_operations = 0;   // never sent a request because the abort check fired
    std::chrono::milliseconds elapsed{0};
};

class BlockingRunner {
public:
    using AbortCheck = std::function<bool()>;
    BlockingRunner(int max_in_flight, AbortCheck should_abort = {});
    ~BlockingRunner();
    BlockingRunner(const BlockingRunner&) = delete;
    BlockingRunner& operator=(const BlockingRunner&) = delete;

    // Drives every operation to the end. When the abort check fires, no new request
    // starts; requests in flight get up to `grace` to finish, then are cut off and
    // their operations receive an `aborted` response.
    RunStats run(const std::vector<HttpOperation*>& operations,
                 std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

private:
    struct Impl;
    Impl* impl_;
};

}  // namespace chatwoot::core
