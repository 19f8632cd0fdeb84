#include "core/http/blocking_runner.hpp"

#include "core/http/transfer_engine.hpp"

namespace chatwoot::core {

struct BlockingRunner::Impl {
    explicit Impl(int max_in_flight) : engine(max_in_flight) {}
    TransferEngine engine;
    AbortCheck should_abort;
};

BlockingRunner::BlockingRunner(int max_in_flight, AbortCheck should_abort) : impl_(new Impl(max_in_flight)) {
    impl_->should_abort = std::move(should_abort);
}

BlockingRunner::~BlockingRunner() { delete impl_; }

RunStats BlockingRunner::run(const std::vector<HttpOperation*>& operations, std::chrono::milliseconds grace) {
    RunStats stats;
    auto started = std::chrono::steady_clock::now();
    TransferEngine& engine = impl_->engine;
    int requests_before = engine.requests_done();
    std::vector<HttpOperation*> finished;
    for (HttpOperation* op : operations) engine.add(op, finished);

    bool aborting = false;
    std::chrono::steady_clock::time_point abort_deadline;
    while (engine.queued() > 0 || engine.in_flight() > 0) {
        if (!aborting && impl_->should_abort && impl_->should_abort()) {
            aborting = true;
            abort_deadline = std::chrono::steady_clock::now() + grace;
        }
        if (aborting && (engine.in_flight() == 0 || std::chrono::steady_clock::now() >= abort_deadline)) break;
        engine.step(std::chrono::milliseconds(100), aborting, finished);
    }
    // Aborted: cut what is still in flight and what is mid-sequence (those operations
    // hear "aborted"); what never sent a request stays unfinished and is counted.
    engine.cut_in_flight(finished);
    std::vector<HttpOperation*> untouched;
    engine.drop_queued(untouched, finished);
    stats.requests = engine.requests_done() - requests_before;
    stats.aborted_operations = static_cast<int>(untouched.size());
    stats.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return stats;
}

}  // namespace chatwoot::core
