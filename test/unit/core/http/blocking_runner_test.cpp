// BlockingRunner against a small keep-alive HTTP server running in this process.
#include "core/http/threaded_runner.hpp"
#include "core/http/blocking_runner.hpp"
#include "loopback.hpp"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <dirent.h>
#include <fstream>
#include <map>
#include <set>
#include <mutex>
#include <thread>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {

// Answers every request with 200 and the request path as body, after `delay`,
// on persistent connections; counts connections and concurrent requests.
class KeepAliveServer {
public:
    explicit KeepAliveServer(std::chrono::milliseconds delay) : delay_(delay) {
        fd_ = chatwoot::test::bind_loopback(64, port_);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~KeepAliveServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        acceptor_.join();
        std::lock_guard<std::mutex> lock(mutex_);
        for (int c : clients_) ::shutdown(c, SHUT_RDWR);
        for (auto& t : workers_) t.join();
        for (int c : clients_) ::close(c);
    }
    std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    int connections() const { return connections_; }
    int max_concurrent() const { return max_concurrent_; }

private:
    void accept_loop() {
        while (!stop_) {
            int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) return;
            ++connections_;
            std::lock_guard<std::mutex> lock(mutex_);
            clients_.push_back(client);
            workers_.emplace_back([this, client] { serve(client); });
        }
    }
    void serve(int client) {
        std::string buffer, path;
        while (!stop_) {
            if (!chatwoot::test::read_request(client, buffer, path)) return;
            int now = ++concurrent_;
            int seen = max_concurrent_;
            while (now > seen && !max_concurrent_.compare_exchange_weak(seen, now)) {}
            std::this_thread::sleep_for(delay_);
            --concurrent_;
            std::string reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                                std::to_string(path.size()) + "\r\n\r\n" + path;
            ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
    }
    std::chrono::milliseconds delay_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> concurrent_{0};
    std::atomic<int> max_concurrent_{0};
    std::mutex mutex_;
    std::vector<int> clients_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

// Sends /op<N>/1 .. /op<N>/<steps>, checking each reply echoes its own path.
class Steps final : public HttpOperation {
public:
    Steps(const KeepAliveServer& server, int id, int steps, std::vector<std::string>* log = nullptr)
        : server_(server), id_(id), steps_(steps), log_(log) {}
    std::optional<HttpRequest> next_request() const override {
        if (done_ >= steps_ || failed_) return std::nullopt;
        HttpRequest r;
        r.method = done_ % 2 ? "PUT" : "POST";
        r.url = server_.url(path());
        r.body = "{\"step\":" + std::to_string(done_) + "}";
        r.timeout_ms = 5000;
        return r;
    }
    void on_response(const HttpResponse& response) override {
        if (!response.transport_ok() || response.status != 200 || response.body != path()) {
            failed_ = true;
            last_error_ = to_string(response.error);
            return;
        }
        if (log_) log_->push_back(path());
        ++done_;
    }
    bool complete() const { return done_ == steps_; }
    bool sent_nothing() const { return done_ == 0 && !failed_; }
    bool failed() const { return failed_; }
    std::string last_error_;

private:
    std::string path() const { return "/op" + std::to_string(id_) + "/" + std::to_string(done_ + 1); }
    const KeepAliveServer& server_;
    int id_;
    int steps_;
    std::vector<std::string>* log_;
    int done_ = 0;
    bool failed_ = false;
};

// `count` operations of `steps_each` requests each; `ops` points into `owned`.
void make_steps(const KeepAliveServer& server, int count, int steps_each, std::vector<std::unique_ptr<Steps>>& owned,
                std::vector<HttpOperation*>& ops, std::vector<std::string>* log = nullptr) {
    for (int i = 0; i < count; ++i) {
        owned.push_back(std::make_unique<Steps>(server, i, steps_each, log));
        ops.push_back(owned.back().get());
    }
}

}  // namespace

TEST(BlockingRunner, RunsOperationsConcurrentlyUpToTheLimitOnReusedConnections) {
    KeepAliveServer server(20ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 40, 2, steps, ops);
    BlockingRunner runner(8);
    RunStats stats = runner.run(ops);
    for (auto& s : steps) EXPECT_TRUE(s->complete()) << s->last_error_;
    EXPECT_EQ(stats.requests, 80);
    EXPECT_EQ(stats.aborted_operations, 0);
    EXPECT_LE(server.max_concurrent(), 8);
    EXPECT_GE(server.max_concurrent(), 6);
    EXPECT_LE(server.connections(), 8);  // kept alive and reused, not one per request
    // 80 requests x 20 ms / 8 at a time is ~200 ms; sequential would be 1.6 s.
    EXPECT_LT(stats.elapsed, 1000ms);
}

TEST(BlockingRunner, AbortStopsStartingNewRequestsAndReportsTheRest) {
    KeepAliveServer server(50ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 20, 3, steps, ops);
    auto started = std::chrono::steady_clock::now();
    BlockingRunner runner(4, [&] { return std::chrono::steady_clock::now() - started > 120ms; });
    RunStats stats = runner.run(ops, 1000ms);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, 1000ms);
    EXPECT_GT(stats.aborted_operations, 0);
    int complete = 0;
    for (auto& s : steps) complete += s->complete();
    EXPECT_LT(complete, 20);
}

// An operation's next request goes before operations that have not started: a
// find-or-create sends its create right after its lookup, not after every other
// party's lookup (with one slot, the order shows it).
TEST(BlockingRunner, AnOperationsNextRequestGoesBeforeOperationsNotStarted) {
    KeepAliveServer server(0ms);
    std::vector<std::string> log;
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 3, 2, steps, ops, &log);
    BlockingRunner runner(1);
    RunStats stats = runner.run(ops);
    EXPECT_EQ(stats.requests, 6);
    EXPECT_EQ(log, (std::vector<std::string>{"/op0/1", "/op0/2", "/op1/1", "/op1/2", "/op2/1", "/op2/2"}));
}

TEST(BlockingRunner, AnEmptyBatchIsANoOp) {
    BlockingRunner runner(4);
    RunStats stats = runner.run({});
    EXPECT_EQ(stats.requests, 0);
}

namespace {

std::vector<HttpOperation*> take_all(ThreadedRunner& runner, std::size_t expected, std::chrono::milliseconds limit) {
    std::vector<HttpOperation*> all;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (all.size() < expected && std::chrono::steady_clock::now() < deadline) {
        pollfd p{runner.wake_fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
        for (HttpOperation* op : runner.take_finished()) all.push_back(op);
    }
    return all;
}

}  // namespace

TEST(ThreadedRunner, RefillsTheWindowWithOperationsSubmittedWhileOthersRun) {
    KeepAliveServer server(20ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> first, second;
    for (int i = 0; i < 40; ++i) {
        steps.push_back(std::make_unique<Steps>(server, i, 2));
        (i < 20 ? first : second).push_back(steps.back().get());
    }
    auto started = std::chrono::steady_clock::now();
    ThreadedRunner runner(8);
    runner.submit(first);
    std::this_thread::sleep_for(30ms);  // the first wave is on the network
    runner.submit(second);
    EXPECT_EQ(runner.outstanding(), 40u);
    auto done = take_all(runner, 40, 5000ms);
    auto took = std::chrono::steady_clock::now() - started;
    ASSERT_EQ(done.size(), 40u);
    EXPECT_EQ(std::set<HttpOperation*>(done.begin(), done.end()).size(), 40u);  // each handed back once
    for (auto& s : steps) EXPECT_TRUE(s->complete()) << s->last_error_;
    EXPECT_EQ(runner.outstanding(), 0u);
    EXPECT_LE(server.max_concurrent(), 8);
    EXPECT_GE(server.max_concurrent(), 6);
    EXPECT_LE(server.connections(), 8);
    // 80 requests x 20 ms / 8 at a time is ~200 ms when the window never empties.
    EXPECT_LT(took, 1000ms);
    EXPECT_TRUE(runner.failure().empty());
}

TEST(ThreadedRunner, StopHandsBackUntouchedOperationsAndCutsTheRestAfterTheGrace) {
    KeepAliveServer server(50ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 20, 3, steps, ops);
    ThreadedRunner runner(2);
    runner.submit(ops);
    std::this_thread::sleep_for(70ms);
    auto before = std::chrono::steady_clock::now();
    ThreadedRunner::Stopped stopped = runner.stop(0ms);
    EXPECT_LT(std::chrono::steady_clock::now() - before, 500ms);
    auto finished = runner.take_finished();  // nothing is left behind after stop()
    EXPECT_TRUE(finished.empty());
    EXPECT_EQ(stopped.finished.size() + stopped.untouched.size(), 20u);
    EXPECT_GE(stopped.untouched.size(), 14u);  // 2 slots: most operations never got one
    for (HttpOperation* op : stopped.untouched) EXPECT_TRUE(static_cast<Steps*>(op)->sent_nothing());
    for (HttpOperation* op : stopped.finished) EXPECT_FALSE(op->next_request()) << "a finished operation wants more";
}

// A stop with time to spare lets every operation that has sent a request finish all
// its requests (a create after its lookup), and starts none of the others.
TEST(ThreadedRunner, StopLetsOperationsUnderWayFinishWithinTheGrace) {
    KeepAliveServer server(30ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 20, 3, steps, ops);
    ThreadedRunner runner(1);
    runner.submit(ops);
    std::this_thread::sleep_for(45ms);  // the first operation is on its second request
    auto before = std::chrono::steady_clock::now();
    ThreadedRunner::Stopped stopped = runner.stop(3000ms);
    EXPECT_LT(std::chrono::steady_clock::now() - before, 1000ms);  // no need to wait out the grace
    auto finished = runner.take_finished();
    std::set<HttpOperation*> done(finished.begin(), finished.end());
    done.insert(stopped.finished.begin(), stopped.finished.end());
    EXPECT_EQ(done.size() + stopped.untouched.size(), 20u);
    EXPECT_GE(done.size(), 1u);
    for (HttpOperation* op : done) EXPECT_TRUE(static_cast<Steps*>(op)->complete()) << "an operation under way was cut";
    for (HttpOperation* op : stopped.untouched) EXPECT_TRUE(static_cast<Steps*>(op)->sent_nothing());
}

TEST(ThreadedRunner, ABudgetPacesStartsToTheWindow) {
    KeepAliveServer server(0ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    make_steps(server, 7, 1, steps, ops);
    ThreadedRunner runner(4);
    runner.set_budget({3, std::chrono::seconds(1)});
    auto started = std::chrono::steady_clock::now();
    runner.submit(ops);
    auto first = take_all(runner, 3, 3000ms);
    EXPECT_EQ(first.size(), 3u);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 700ms);
    auto rest = take_all(runner, 4, 5000ms);
    EXPECT_EQ(rest.size(), 4u);
    // 3 per second (plus its 10 ms margin): the 7th starts in the third window.
    EXPECT_GE(std::chrono::steady_clock::now() - started, 2000ms);
    for (auto& s : steps) EXPECT_TRUE(s->complete());
}

TEST(ThreadedRunner, ItsThreadRunsWithEverySignalBlocked) {
    // SigBlk of every thread of this process, by thread id.
    auto blocked_masks = [] {
        std::map<std::string, unsigned long long> masks;
        DIR* dir = opendir("/proc/self/task");
        while (dirent* entry = readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            std::ifstream status(std::string("/proc/self/task/") + entry->d_name + "/status");
            std::string line;
            while (std::getline(status, line))
                if (line.rfind("SigBlk:", 0) == 0) masks[entry->d_name] = std::stoull(line.substr(7), nullptr, 16);
        }
        closedir(dir);
        return masks;
    };
    // The fullest mask a thread can have here: this thread's while it blocks everything
    // (the kernel never blocks SIGKILL and SIGSTOP; glibc keeps two signals of its own).
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    unsigned long long full = 0;
    {
        std::ifstream status("/proc/thread-self/status");
        std::string line;
        while (std::getline(status, line))
            if (line.rfind("SigBlk:", 0) == 0) full = std::stoull(line.substr(7), nullptr, 16);
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    for (int sig : {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGURG, SIGIO, SIGRTMIN,
                    SIGRTMAX})
        ASSERT_TRUE(full & (1ULL << (sig - 1))) << "signal " << sig << " missing from the reference full mask";

    auto before = blocked_masks();
    ThreadedRunner runner(1);
    auto after = blocked_masks();
    std::vector<unsigned long long> new_threads;
    for (auto& [tid, mask] : after)
        if (!before.count(tid)) new_threads.push_back(mask);
    ASSERT_EQ(new_threads.size(), 1u) << "the runner starts exactly one thread";
    // glibc's own two signals may show as blocked too while the thread starts up: every
    // signal of the full mask must be blocked, more does no harm.
    EXPECT_EQ(new_threads[0] & full, full) << std::hex << "the runner thread blocks " << new_threads[0] << ", a full mask is "
                                    << full << " (missing " << (full & ~new_threads[0]) << ")";
}
