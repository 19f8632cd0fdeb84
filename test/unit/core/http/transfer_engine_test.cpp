// The engine's own rules against a small scripted HTTP server in this process:
// exclusive keys, resending 429s under the pacer, and the reply size cap.
#include "core/http/blocking_runner.hpp"
#include "core/http/transfer_engine.hpp"
#include "loopback.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <mutex>
#include <thread>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {

struct Answer {
    long status = 200;
    std::string body = "ok";
    std::chrono::milliseconds delay{0};
    std::string extra_headers;  // "Name: value\r\n"...
};

// Answers each request with what `script(path, n)` says (n: requests seen so far),
// on persistent connections; records which paths were being served at once.
class ScriptedServer {
public:
    using Script = std::function<Answer(const std::string& path, int n)>;
    explicit ScriptedServer(Script script) : script_(std::move(script)) {
        fd_ = chatwoot::test::bind_loopback(64, port_);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~ScriptedServer() {
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
    int requests() const { return requests_; }
    // Were two requests under the same first path segment served at once?
    bool overlapped(const std::string& prefix) {
        std::lock_guard<std::mutex> lock(mutex_);
        return overlaps_.count(prefix) > 0;
    }

private:
    void accept_loop() {
        while (!stop_) {
            int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) return;
            std::lock_guard<std::mutex> lock(mutex_);
            clients_.push_back(client);
            workers_.emplace_back([this, client] { serve(client); });
        }
    }
    void serve(int client) {
        std::string buffer, path;
        while (!stop_) {
            if (!chatwoot::test::read_request(client, buffer, path)) return;
            int n = ++requests_;
            Answer a = script_(path, n);
            std::string key = path.substr(0, path.rfind('/'));  // "/pessoa3/a" -> "/pessoa3"
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (active_[key]++ > 0) overlaps_.insert(key);
            }
            std::this_thread::sleep_for(a.delay);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                --active_[key];
            }
            std::string reply = "HTTP/1.1 " + std::to_string(a.status) + " X\r\nContent-Type: text/plain\r\n" +
                                a.extra_headers + "Content-Length: " + std::to_string(a.body.size()) + "\r\n\r\n" + a.body;
            ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
    }
    Script script_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> requests_{0};
    std::mutex mutex_;
    std::map<std::string, int> active_;
    std::set<std::string> overlaps_;
    std::vector<int> clients_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

// One request to `path`, holding `keys`; remembers the reply.
class Keyed final : public HttpOperation {
public:
    Keyed(const ScriptedServer& server, std::string path, std::vector<std::string> keys, std::size_t max_bytes = 1 << 20)
        : url_(server.url(path)), keys_(std::move(keys)), max_bytes_(max_bytes) {}
    std::optional<HttpRequest> next_request() const override {
        if (done_) return std::nullopt;
        HttpRequest r;
        r.url = url_;
        r.timeout_ms = 5000;
        r.max_response_bytes = max_bytes_;
        return r;
    }
    void on_response(const HttpResponse& response) override {
        response_ = response;
        done_ = true;
        ++responses_;
    }
    std::vector<std::string> exclusive_keys() const override { return keys_; }
    const HttpResponse& response() const { return response_; }
    int responses() const { return responses_; }

private:
    std::string url_;
    std::vector<std::string> keys_;
    std::size_t max_bytes_;
    bool done_ = false;
    int responses_ = 0;
    HttpResponse response_;
};

// Runs the engine until every operation finished.
void drive(TransferEngine& engine, const std::vector<HttpOperation*>& ops, std::chrono::milliseconds limit = 10s) {
    std::vector<HttpOperation*> finished;
    for (HttpOperation* op : ops) engine.add(op, finished);
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (finished.size() < ops.size() && std::chrono::steady_clock::now() < deadline)
        engine.step(50ms, false, finished);
    ASSERT_EQ(finished.size(), ops.size());
}

}  // namespace

TEST(TransferEngine, OperationsSharingAKeyNeverRunAtOnce) {
    ScriptedServer server([](const std::string&, int) { return Answer{200, "ok", 60ms, ""}; });
    // Pairs of the same person (one e-mail) and unrelated people, 8 slots.
    std::vector<std::unique_ptr<Keyed>> ops;
    for (int i = 0; i < 6; ++i) {
        ops.push_back(std::make_unique<Keyed>(server, "/pessoa" + std::to_string(i) + "/a",
                                              std::vector<std::string>{"email:p" + std::to_string(i)}));
        ops.push_back(std::make_unique<Keyed>(server, "/pessoa" + std::to_string(i) + "/b",
                                              std::vector<std::string>{"phone:x" + std::to_string(i), "email:p" + std::to_string(i)}));
    }
    std::vector<HttpOperation*> raw;
    for (auto& op : ops) raw.push_back(op.get());
    TransferEngine engine(8);
    auto started = std::chrono::steady_clock::now();
    drive(engine, raw);
    for (int i = 0; i < 6; ++i) EXPECT_FALSE(server.overlapped("/pessoa" + std::to_string(i))) << i;
    for (auto& op : ops) EXPECT_EQ(op->response().status, 200);
    // The six people ran side by side: two rounds of 60 ms, not twelve.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 500ms);
    EXPECT_EQ(engine.queued(), 0u);
}

TEST(TransferEngine, KeysAreGrantedInArrivalOrder) {
    ScriptedServer server([](const std::string&, int) { return Answer{200, "ok", 30ms, ""}; });
    Keyed first(server, "/k/1", {"a"});
    Keyed second(server, "/k/2", {"a", "b"});
    Keyed third(server, "/k/3", {"b"});  // must wait behind `second`, which waits for `a`
    TransferEngine engine(8);
    std::vector<HttpOperation*> finished;
    engine.add(&first, finished);
    engine.add(&second, finished);
    engine.add(&third, finished);
    EXPECT_EQ(engine.queued(), 3u);  // one ready, two parked
    engine.step(0ms, false, finished);
    EXPECT_EQ(engine.in_flight(), 1);  // `third` holds no key anyone has, but waits its turn for `b`
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (finished.size() < 3 && std::chrono::steady_clock::now() < deadline) engine.step(50ms, false, finished);
    ASSERT_EQ(finished.size(), 3u);
    EXPECT_EQ(finished[0], &first);
    EXPECT_EQ(finished[1], &second);
    EXPECT_EQ(finished[2], &third);
}

TEST(TransferEngine, AnOperationThatJumpsTheQueueStartsBeforeTheBacklog) {
    ScriptedServer server([](const std::string&, int) { return Answer{200, "ok", 20ms, ""}; });
    std::vector<std::unique_ptr<Keyed>> backlog;
    for (int i = 0; i < 6; ++i) backlog.push_back(std::make_unique<Keyed>(server, "/fila/" + std::to_string(i), std::vector<std::string>{}));
    Keyed late(server, "/novo/1", {});
    late.jumps_queue = true;
    TransferEngine engine(1);  // one slot: the order of starts is the order of replies
    std::vector<HttpOperation*> finished;
    for (auto& op : backlog) engine.add(op.get(), finished);
    engine.step(0ms, false, finished);  // the first of the backlog is on the wire
    engine.add(&late, finished);
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (finished.size() < 7 && std::chrono::steady_clock::now() < deadline) engine.step(50ms, false, finished);
    ASSERT_EQ(finished.size(), 7u);
    EXPECT_EQ(finished[0], backlog[0].get());
    EXPECT_EQ(finished[1], &late);  // before the five backlog operations that had not started
    EXPECT_EQ(finished[6], backlog[5].get());
}

TEST(TransferEngine, ParkedOperationsComeBackUntouchedWhenDropped) {
    ScriptedServer server([](const std::string&, int) { return Answer{200, "ok", 200ms, ""}; });
    Keyed running(server, "/d/1", {"a"});
    Keyed parked(server, "/d/2", {"a"});
    TransferEngine engine(2);
    std::vector<HttpOperation*> finished, untouched;
    engine.add(&running, finished);
    engine.add(&parked, finished);
    engine.step(10ms, false, finished);
    engine.cut_in_flight(finished);
    engine.drop_queued(untouched, finished);
    ASSERT_EQ(untouched.size(), 1u);
    EXPECT_EQ(untouched[0], &parked);
    EXPECT_EQ(parked.responses(), 0);
}

TEST(TransferEngine, A429IsSentAgainWhenThePacerAllowsAndTheOperationNeverSeesIt) {
    ScriptedServer server([](const std::string&, int n) {
        if (n <= 2) return Answer{429, "Retry later\n", 0ms, "Retry-After: 1\r\n"};
        return Answer{200, "done", 0ms, ""};
    });
    Keyed op(server, "/r/1", {});
    TransferEngine engine(4, true);
    auto started = std::chrono::steady_clock::now();
    drive(engine, {&op});
    EXPECT_EQ(op.responses(), 1);
    EXPECT_EQ(op.response().status, 200);
    EXPECT_EQ(op.response().body, "done");
    EXPECT_EQ(server.requests(), 3);
    EXPECT_EQ(engine.pacer().throttled(), 2);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 1900ms);  // two Retry-After pauses of 1 s
}

TEST(TransferEngine, WithoutResendingA429ReachesTheOperation) {
    ScriptedServer server([](const std::string&, int) { return Answer{429, "Retry later\n", 0ms, ""}; });
    Keyed op(server, "/r/2", {});
    TransferEngine engine(1, false);
    drive(engine, {&op});
    EXPECT_EQ(op.response().status, 429);
    EXPECT_EQ(server.requests(), 1);
}

TEST(TransferEngine, AReplyLongerThanTheCapIsATransportError) {
    ScriptedServer server([](const std::string& path, int) {
        return Answer{200, std::string(path == "/big" ? 300000 : 1000, 'x'), 0ms, ""};
    });
    Keyed big(server, "/big", {}, 100000);
    Keyed small(server, "/small", {}, 100000);
    TransferEngine engine(2);
    drive(engine, {&big, &small});
    EXPECT_EQ(big.response().error, TransportError::too_large);
    EXPECT_TRUE(big.response().body.empty());
    EXPECT_NE(big.response().error_text.find("100000"), std::string::npos);
    EXPECT_EQ(small.response().error, TransportError::none);
    EXPECT_EQ(small.response().body.size(), 1000u);
}
