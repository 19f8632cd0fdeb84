// ConcurrentRunner against a small keep-alive HTTP server running in this process.
#include "core/concurrent_runner.hpp"
#include "loopback.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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
        std::string buffer;
        char chunk[4096];
        while (!stop_) {
            std::size_t end;
            while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
                ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
                if (n <= 0) return;
                buffer.append(chunk, static_cast<std::size_t>(n));
            }
            std::string head = buffer.substr(0, end);
            std::size_t body_length = 0;
            auto cl = head.find("Content-Length: ");
            if (cl != std::string::npos) body_length = std::stoul(head.substr(cl + 16));
            while (buffer.size() < end + 4 + body_length) {
                ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
                if (n <= 0) return;
                buffer.append(chunk, static_cast<std::size_t>(n));
            }
            std::string path = head.substr(head.find(' ') + 1);
            path = path.substr(0, path.find(' '));
            buffer.erase(0, end + 4 + body_length);
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
    Steps(const KeepAliveServer& server, int id, int steps) : server_(server), id_(id), steps_(steps) {}
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
        ++done_;
    }
    bool complete() const { return done_ == steps_; }
    bool failed() const { return failed_; }
    std::string last_error_;

private:
    std::string path() const { return "/op" + std::to_string(id_) + "/" + std::to_string(done_ + 1); }
    const KeepAliveServer& server_;
    int id_;
    int steps_;
    int done_ = 0;
    bool failed_ = false;
};

}  // namespace

TEST(ConcurrentRunner, RunsOperationsConcurrentlyUpToTheLimitOnReusedConnections) {
    KeepAliveServer server(20ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    for (int i = 0; i < 40; ++i) {
        steps.push_back(std::make_unique<Steps>(server, i, 2));
        ops.push_back(steps.back().get());
    }
    ConcurrentRunner runner(8);
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

TEST(ConcurrentRunner, AbortStopsStartingNewRequestsAndReportsTheRest) {
    KeepAliveServer server(50ms);
    std::vector<std::unique_ptr<Steps>> steps;
    std::vector<HttpOperation*> ops;
    for (int i = 0; i < 20; ++i) {
        steps.push_back(std::make_unique<Steps>(server, i, 3));
        ops.push_back(steps.back().get());
    }
    auto started = std::chrono::steady_clock::now();
    ConcurrentRunner runner(4, [&] { return std::chrono::steady_clock::now() - started > 120ms; });
    RunStats stats = runner.run(ops, 1000ms);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_LT(took, 1000ms);
    EXPECT_GT(stats.aborted_operations, 0);
    int complete = 0;
    for (auto& s : steps) complete += s->complete();
    EXPECT_LT(complete, 20);
}

TEST(ConcurrentRunner, AnEmptyBatchIsANoOp) {
    ConcurrentRunner runner(4);
    RunStats stats = runner.run({});
    EXPECT_EQ(stats.requests, 0);
}
