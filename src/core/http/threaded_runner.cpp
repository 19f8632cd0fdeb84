#include "core/http/threaded_runner.hpp"

#include "core/http/transfer_engine.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace chatwoot::core {

struct ThreadedRunner::Shared {
    mutable std::mutex mutex;
    std::vector<HttpOperation*> inbox;     // submitted, not yet seen by the thread
    std::vector<HttpOperation*> outbox;    // finished, not yet taken
    std::size_t outstanding = 0;
    int max_in_flight = 1;
    RequestPacer::Budget budget;
    bool budget_changed = false;
    SharedRequestWindow* shared_budget = nullptr;
    bool shared_changed = false;
    PacerState pacer;                        // published by the thread after each step
    bool stopping = false;
    Clock::time_point stop_deadline{};
    std::string failure;
    std::atomic<int> in_flight{0};
    int event_fd = -1;
    std::unique_ptr<TransferEngine> engine;  // used by the thread only (wakeup() excepted)
    std::thread thread;
    Stopped leftovers;                       // filled by the thread as it ends

    void signal_finished() {
        std::uint64_t one = 1;
        ssize_t ignored = write(event_fd, &one, sizeof one);
        (void)ignored;
    }

    void publish(std::vector<HttpOperation*>& finished) {
        if (finished.empty()) return;
        {
            std::lock_guard<std::mutex> lock(mutex);
            outbox.insert(outbox.end(), finished.begin(), finished.end());
        }
        finished.clear();
        signal_finished();
    }

    void loop() {
        std::vector<HttpOperation*> finished;
        std::vector<HttpOperation*> arrivals;
        for (;;) {
            bool stop_now = false, hold_new = false;
            {
                std::lock_guard<std::mutex> lock(mutex);
                arrivals.swap(inbox);
                engine->set_max_in_flight(max_in_flight);
                if (budget_changed) engine->set_budget(budget);
                budget_changed = false;
                if (shared_changed) engine->share_budget(shared_budget);
                shared_changed = false;
                hold_new = stopping;
                // Operations under way finish within the grace (a lookup's create
                // still goes out); the others are handed back untouched.
                stop_now = stopping && (!engine->under_way() || Clock::now() >= stop_deadline);
            }
            for (HttpOperation* op : arrivals) engine->add(op, finished);
            arrivals.clear();
            if (stop_now) break;
            engine->step(std::chrono::milliseconds(hold_new ? 10 : 100), hold_new, finished);
            in_flight.store(engine->in_flight());
            {
                std::lock_guard<std::mutex> lock(mutex);
                const RequestPacer& p = engine->pacer();
                pacer = {p.paused_until(), p.limit(), p.throttled(), p.external(RequestPacer::Clock::now())};
            }
            publish(finished);
        }
        engine->cut_in_flight(finished);
        std::vector<HttpOperation*> untouched;
        engine->drop_queued(untouched, finished);
        in_flight.store(0);
        std::lock_guard<std::mutex> lock(mutex);
        leftovers.finished = std::move(outbox);
        leftovers.finished.insert(leftovers.finished.end(), finished.begin(), finished.end());
        leftovers.untouched = std::move(untouched);
        outbox.clear();
    }

    // The thread must never let an exception escape (std::terminate would take the
    // whole backend down): a failure hands every operation back as failed.
    void run() noexcept {
        try {
            loop();
            return;
        } catch (const std::exception& e) {
            fail(e.what());
        } catch (...) {
            fail("unknown failure in the HTTP thread");
        }
    }

    void fail(const std::string& why) noexcept {
        try {
            std::vector<HttpOperation*> finished;
            engine->cut_in_flight(finished);
            std::vector<HttpOperation*> untouched;
            engine->drop_queued(untouched, finished);
            std::lock_guard<std::mutex> lock(mutex);
            failure = why;
            outbox.insert(outbox.end(), finished.begin(), finished.end());
            // Never started: hand them back for a retry that costs no attempt.
            leftovers.untouched.insert(leftovers.untouched.end(), untouched.begin(), untouched.end());
            leftovers.untouched.insert(leftovers.untouched.end(), inbox.begin(), inbox.end());
            inbox.clear();
        } catch (...) {
        }
        signal_finished();
    }
};

ThreadedRunner::ThreadedRunner(int max_in_flight) : shared_(std::make_shared<Shared>()) {
    shared_->max_in_flight = std::max(1, max_in_flight);
    // curl_global_init happens here; 429s are sent again, paced, inside the engine.
    shared_->engine = std::make_unique<TransferEngine>(shared_->max_in_flight, true);
    shared_->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (shared_->event_fd < 0) throw std::runtime_error("eventfd failed");
    // Every signal blocked while the thread is created, so it inherits a full mask.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    try {
        shared_->thread = std::thread([s = shared_.get()] { s->run(); });
    } catch (...) {
        pthread_sigmask(SIG_SETMASK, &previous, nullptr);
        close(shared_->event_fd);
        throw;
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

ThreadedRunner::~ThreadedRunner() {
    if (shared_->thread.joinable()) stop(std::chrono::milliseconds(0));
    if (shared_->event_fd >= 0) close(shared_->event_fd);
}

void ThreadedRunner::submit(const std::vector<HttpOperation*>& operations) {
    if (operations.empty()) return;
    {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        shared_->outstanding += operations.size();
        if (!shared_->failure.empty() || shared_->stopping || !shared_->thread.joinable()) {
            shared_->leftovers.untouched.insert(shared_->leftovers.untouched.end(), operations.begin(),
                                                operations.end());
            return;
        }
        shared_->inbox.insert(shared_->inbox.end(), operations.begin(), operations.end());
    }
    shared_->engine->wakeup();
}

std::vector<HttpOperation*> ThreadedRunner::take_finished() {
    std::uint64_t count;
    ssize_t ignored = read(shared_->event_fd, &count, sizeof count);  // resets the eventfd
    (void)ignored;
    std::lock_guard<std::mutex> lock(shared_->mutex);
    std::vector<HttpOperation*> out;
    out.swap(shared_->outbox);
    shared_->outstanding -= out.size();
    return out;
}

int ThreadedRunner::wake_fd() const { return shared_->event_fd; }

void ThreadedRunner::set_max_in_flight(int max_in_flight) {
    {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        shared_->max_in_flight = std::max(1, max_in_flight);
    }
    shared_->engine->wakeup();
}

void ThreadedRunner::set_budget(RequestPacer::Budget budget) {
    {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        if (budget.limit == shared_->budget.limit && budget.window == shared_->budget.window &&
            budget.max_pause == shared_->budget.max_pause)
            return;
        shared_->budget = budget;
        shared_->budget_changed = true;
    }
    shared_->engine->wakeup();
}

void ThreadedRunner::share_budget(SharedRequestWindow* shared) {
    {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        if (shared == shared_->shared_budget) return;
        shared_->shared_budget = shared;
        shared_->shared_changed = true;
    }
    shared_->engine->wakeup();
}

ThreadedRunner::PacerState ThreadedRunner::pacer_state() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->pacer;
}

ThreadedRunner::Stopped ThreadedRunner::stop(std::chrono::milliseconds grace) {
    {
        std::lock_guard<std::mutex> lock(shared_->mutex);
        shared_->stopping = true;
        shared_->stop_deadline = Clock::now() + grace;
    }
    if (shared_->thread.joinable()) {
        shared_->engine->wakeup();
        shared_->thread.join();
    }
    std::lock_guard<std::mutex> lock(shared_->mutex);
    Stopped out = std::move(shared_->leftovers);
    out.finished.insert(out.finished.end(), shared_->outbox.begin(), shared_->outbox.end());
    // Submitted after the thread had ended (never seen by it).
    out.untouched.insert(out.untouched.end(), shared_->inbox.begin(), shared_->inbox.end());
    shared_->outbox.clear();
    shared_->inbox.clear();
    shared_->leftovers = {};
    shared_->outstanding = 0;
    return out;
}

std::size_t ThreadedRunner::outstanding() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->outstanding;
}

int ThreadedRunner::in_flight() const { return shared_->in_flight.load(); }

std::string ThreadedRunner::failure() const {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    return shared_->failure;
}

}  // namespace chatwoot::core
