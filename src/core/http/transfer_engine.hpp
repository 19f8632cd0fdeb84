// The libcurl multi mechanics shared by BlockingRunner (run a set of operations
// to the end) and ThreadedRunner (a thread fed operations as they are claimed):
// a queue of requests waiting for a slot, up to `max_in_flight` transfers on
// kept-alive connections, and each operation handed its responses in order.
//
// Two rules decide when an operation's requests may start:
//  * Exclusive keys (HttpOperation::exclusive_keys): an operation is admitted only
//    when no admitted operation holds any of its keys, and keys are granted in arrival
//    order. Chatwoot checks a contact's uniqueness with a SELECT before its INSERT, so
//    two find-or-creates of one person running at once would both create it: with the
//    person's identifier, e-mail and phones as keys, they never overlap.
//  * The request pacer (core/request_pacer.hpp): the integration's request budget.
//    With `resend_throttled` a 429 is sent again once the pacer allows (Chatwoot
//    rejected it before doing anything), so the operation never sees it; after
//    kMaxResends the 429 is delivered.
// Not thread-safe: one engine belongs to one thread.
#pragma once
#include "core/http/blocking_runner.hpp"
#include "core/http/request_pacer.hpp"

#include <chrono>
#include <deque>
#include <memory>
#include <vector>

namespace chatwoot::core {

class TransferEngine {
public:
    static constexpr int kMaxResends = 20;

    explicit TransferEngine(int max_in_flight, bool resend_throttled = false);
    ~TransferEngine();
    TransferEngine(const TransferEngine&) = delete;
    TransferEngine& operator=(const TransferEngine&) = delete;

    // Admits the operation (or parks it until its keys are free) and queues its next
    // request; an operation with none is finished at once.
    void add(HttpOperation* operation, std::vector<HttpOperation*>& finished);
    // Starts what the free slots and the pacer allow (with `hold_new`, only the next
    // requests of operations that have sent one already), moves
    // transfers along and waits at most `wait` for the network when nothing else can
    // be done. Appends the operations that finished to `finished`.
    void step(std::chrono::milliseconds wait, bool hold_new, std::vector<HttpOperation*>& finished);
    // Cuts every transfer in flight: its operation hears TransportError::aborted.
    void cut_in_flight(std::vector<HttpOperation*>& finished);
    // Queued requests whose operation has not sent anything yet, and parked
    // operations, are handed back untouched (they can be retried without counting an
    // attempt); operations that are mid-sequence hear TransportError::aborted.
    void drop_queued(std::vector<HttpOperation*>& untouched, std::vector<HttpOperation*>& finished);
    // Wakes a step() that is waiting for the network (callable from any thread).
    void wakeup();

    void set_max_in_flight(int n);
    void set_budget(RequestPacer::Budget budget);
    // The budget is shared with other processes (see RequestPacer::share).
    void share_budget(SharedRequestWindow* shared);
    const RequestPacer& pacer() const;
    int in_flight() const;
    // Transfers in flight, or operations under way with their next request queued.
    bool under_way() const;
    std::size_t queued() const;  // waiting for a slot, the pacer or their keys
    int requests_done() const { return requests_done_; }

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int requests_done_ = 0;
};

}  // namespace chatwoot::core
