// The libcurl multi mechanics shared by ConcurrentRunner (run a set of operations
// to the end) and BackgroundRunner (a thread fed operations as they are claimed):
// a queue of requests waiting for a slot, up to `max_in_flight` transfers on
// kept-alive connections, and each operation handed its responses in order.
// Not thread-safe: one engine belongs to one thread.
#pragma once
#include "core/concurrent_runner.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <vector>

namespace chatwoot::core {

class TransferEngine {
public:
    explicit TransferEngine(int max_in_flight);
    ~TransferEngine();
    TransferEngine(const TransferEngine&) = delete;
    TransferEngine& operator=(const TransferEngine&) = delete;

    // Queues the operation's next request; an operation with none is finished at once.
    void add(HttpOperation* operation, std::vector<HttpOperation*>& finished);
    // Starts what the free slots allow (unless `hold_new`), moves transfers along and
    // waits at most `wait` for the network when nothing else can be done. Appends the
    // operations that finished to `finished`.
    void step(std::chrono::milliseconds wait, bool hold_new, std::vector<HttpOperation*>& finished);
    // Cuts every transfer in flight: its operation hears TransportError::aborted.
    void cut_in_flight(std::vector<HttpOperation*>& finished);
    // Queued requests whose operation has not sent anything yet are handed back
    // untouched (they can be retried without counting an attempt); operations that
    // are mid-sequence hear TransportError::aborted.
    void drop_queued(std::vector<HttpOperation*>& untouched, std::vector<HttpOperation*>& finished);
    // Wakes a step() that is waiting for the network (callable from any thread).
    void wakeup();

    void set_max_in_flight(int n);
    int in_flight() const;
    std::size_t queued() const;
    int requests_done() const { return requests_done_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int requests_done_ = 0;
};

}  // namespace chatwoot::core
