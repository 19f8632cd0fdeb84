// Runs HTTP operations on a thread of its own, so the worker can claim and record
// jobs in PostgreSQL while earlier jobs' requests are on the network, and the
// window of `max_in_flight` requests is refilled as soon as a slot frees instead of
// batch by batch.
//
// The thread is pure C++ and libcurl: it never calls PostgreSQL, and it is created
// with every signal blocked, so PostgreSQL's signal handlers only ever run on the
// backend's own thread. Operations cross between the threads by hand-off: after
// submit() the caller must not touch an operation until it comes back from
// take_finished() or stop().
#pragma once
#include "core/http/blocking_runner.hpp"
#include "core/http/request_pacer.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chatwoot::core {

class ThreadedRunner {
public:
    using Clock = std::chrono::steady_clock;
    explicit ThreadedRunner(int max_in_flight);
    ~ThreadedRunner();  // stop(0): cuts whatever is in flight
    ThreadedRunner(const ThreadedRunner&) = delete;
    ThreadedRunner& operator=(const ThreadedRunner&) = delete;

    void submit(const std::vector<HttpOperation*>& operations);
    // Operations whose last request is done (success or not), in completion order.
    std::vector<HttpOperation*> take_finished();
    // Readable (eventfd) while finished operations wait to be taken: the caller can
    // sleep on it together with its own wake-ups.
    int wake_fd() const;

    void set_max_in_flight(int max_in_flight);
    // The integration's request budget (see core/request_pacer.hpp). The thread paces
    // every start to it and sends a 429'd request again when the pacer allows.
    void set_budget(RequestPacer::Budget budget);
    // Spend that budget together with other processes: `shared` (in shared memory,
    // outliving the runner) counts their requests and the thread's per clock window
    // (core/http/shared_budget.hpp). The thread only does atomics on it.
    void share_budget(SharedRequestWindow* shared);

    struct PacerState {
        RequestPacer::TimePoint paused_until{};  // no request starts before this
        int limit = 0;                           // budget in force (learned when lower); 0: none
        std::int64_t throttled = 0;              // 429s received so far
        int external = 0;                        // requests others reserved in the current clock window
    };
    PacerState pacer_state() const;

    struct Stopped {
        std::vector<HttpOperation*> finished;   // done, or cut after the grace period ("aborted")
        std::vector<HttpOperation*> untouched;  // never sent a request: safe to give back as is
    };
    // Starts nothing new; requests in flight get `grace` to finish. Joins the thread
    // and hands back every operation it still held. The runner cannot be used after.
    Stopped stop(std::chrono::milliseconds grace);

    // Submitted and not yet taken back.
    std::size_t outstanding() const;
    // Requests on the network right now.
    int in_flight() const;
    // Set when the thread failed (e.g. out of memory); its operations were handed
    // back as finished with an error, and later submissions are refused the same way.
    std::string failure() const;

private:
    struct Shared;
    std::shared_ptr<Shared> shared_;
};

}  // namespace chatwoot::core
