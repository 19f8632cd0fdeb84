// CurlTransport against tiny loopback servers (one thread each) that misbehave on purpose.
#include "core/http_client.hpp"
#include "loopback.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {

// Accepts one connection, reads the request, then does `behaviour`.
class OneShotServer {
public:
    enum class Behaviour { answer, close_without_reply, stall };
    OneShotServer(Behaviour behaviour, std::string reply = {}) : behaviour_(behaviour), reply_(std::move(reply)) {
        fd_ = chatwoot::test::bind_loopback(4, port_);
        thread_ = std::thread([this] { serve(); });
    }
    ~OneShotServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        thread_.join();
    }
    std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
    std::string received() const { return received_; }

private:
    void serve() {
        int client = ::accept(fd_, nullptr, nullptr);
        if (client < 0) return;
        char buffer[8192];
        ssize_t n = ::recv(client, buffer, sizeof(buffer), 0);
        if (n > 0) received_.assign(buffer, static_cast<size_t>(n));
        if (behaviour_ == Behaviour::answer) {
            ::send(client, reply_.data(), reply_.size(), 0);
        } else if (behaviour_ == Behaviour::stall) {
            while (!stop_) std::this_thread::sleep_for(10ms);
        }
        ::close(client);
    }
    Behaviour behaviour_;
    std::string reply_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::string received_;
    std::thread thread_;
};

}  // namespace

TEST(CurlTransport, ReadsStatusBodyContentTypeAndRetryAfter) {
    OneShotServer server(OneShotServer::Behaviour::answer,
                         "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain\r\nRetry-After: 7\r\n"
                         "Content-Length: 12\r\nConnection: close\r\n\r\nRetry later\n");
    CurlTransport transport;
    HttpRequest request;
    request.url = server.url("/api/v1/profile");
    request.headers = {"api_access_token: abc"};
    HttpResponse r = transport.send(request);
    EXPECT_TRUE(r.transport_ok()) << r.error_text;
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.body, "Retry later\n");
    EXPECT_EQ(r.content_type, "text/plain");
    EXPECT_EQ(r.retry_after, "7");
    EXPECT_NE(server.received().find("api_access_token: abc"), std::string::npos);
    EXPECT_NE(server.received().find("GET /api/v1/profile"), std::string::npos);
}

TEST(CurlTransport, SendsTheBodyOfAPost) {
    OneShotServer server(OneShotServer::Behaviour::answer,
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    CurlTransport transport;
    HttpRequest request;
    request.method = "POST";
    request.url = server.url("/x");
    request.body = R"({"name":"Ana"})";
    request.headers = {"Content-Type: application/json"};
    HttpResponse r = transport.send(request);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(server.received().find(R"({"name":"Ana"})"), std::string::npos);
}

TEST(CurlTransport, RefusedConnectionIsConnectFailed) {
    CurlTransport transport;
    HttpRequest request;
    request.url = "http://127.0.0.1:" + std::to_string(chatwoot::test::unused_loopback_port()) + "/";
    HttpResponse r = transport.send(request);
    EXPECT_EQ(r.error, TransportError::connect_failed);
    EXPECT_EQ(r.status, 0);
    EXPECT_FALSE(r.error_text.empty());
}

TEST(CurlTransport, ClosedWithoutReplyIsConnectionLost) {
    OneShotServer server(OneShotServer::Behaviour::close_without_reply);
    CurlTransport transport;
    HttpRequest request;
    request.url = server.url();
    HttpResponse r = transport.send(request);
    EXPECT_EQ(r.error, TransportError::connection_lost) << to_string(r.error) << " " << r.error_text;
}

TEST(CurlTransport, AStalledServerTimesOutOnTime) {
    OneShotServer server(OneShotServer::Behaviour::stall);
    CurlTransport transport;
    HttpRequest request;
    request.url = server.url();
    request.timeout_ms = 300;
    auto started = std::chrono::steady_clock::now();
    HttpResponse r = transport.send(request);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.error, TransportError::timed_out);
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 1500ms);
}

TEST(CurlTransport, AbortCheckStopsAHangingRequestQuickly) {
    OneShotServer server(OneShotServer::Behaviour::stall);
    auto started = std::chrono::steady_clock::now();
    CurlTransport transport([&] { return std::chrono::steady_clock::now() - started > 200ms; });
    HttpRequest request;
    request.url = server.url();
    request.timeout_ms = 10000;
    HttpResponse r = transport.send(request);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.error, TransportError::aborted);
    EXPECT_LT(took, 1000ms);
}

TEST(CurlTransport, TlsIsVerifiedByDefault) {
    HttpRequest request;
    EXPECT_TRUE(request.verify_tls);
}
