// CurlTransport against tiny loopback servers (one thread each) that misbehave on purpose.
#include "core/http/http_client.hpp"
#include "loopback.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {

// Accepts one connection, reads the request, then does `behaviour`.
class OneShotServer {
public:
    enum class Behaviour { answer, close_without_reply, stall, flood };
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
        } else if (behaviour_ == Behaviour::flood) {  // a 4 GB reply, as fast as the client reads
            std::string head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4000000000\r\n\r\n";
            ::send(client, head.data(), head.size(), MSG_NOSIGNAL);
            std::string spaces(1 << 20, ' ');
            while (!stop_ && ::send(client, spaces.data(), spaces.size(), MSG_NOSIGNAL) > 0) {
            }
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

// A real TLS server with a self-signed certificate on a loopback port: `openssl
// s_server -www` (it answers any GET with an HTML status page), started for the test
// and stopped with it.
class SelfSignedTlsServer {
public:
    SelfSignedTlsServer() {
        char dir[] = "/tmp/chatwoot_tls_test.XXXXXX";
        if (!mkdtemp(dir)) return;
        dir_ = dir;
        std::string make_cert = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                                "-subj /CN=localhost -days 1 -keyout " + dir_ + "/key.pem -out " + dir_ +
                                "/cert.pem >/dev/null 2>&1";
        if (std::system(make_cert.c_str()) != 0) return;
        port_ = chatwoot::test::unused_loopback_port();
        // Everything the child needs is built before fork (only exec-safe calls after it).
        std::vector<std::string> args{"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
                                      "-cert", dir_ + "/cert.pem", "-key", dir_ + "/key.pem", "-www", "-quiet"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = fork();
        if (pid_ == 0) {
            int devnull = open("/dev/null", O_RDWR);
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
            execvp("openssl", argv.data());
            _exit(127);
        }
        for (int i = 0; i < 100 && pid_ > 0; ++i) {  // up to 5 s for it to listen
            int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(static_cast<uint16_t>(port_));
            bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
            ::close(fd);
            if (up) {
                listening_ = true;
                break;
            }
            std::this_thread::sleep_for(50ms);
        }
    }
    ~SelfSignedTlsServer() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            waitpid(pid_, nullptr, 0);
        }
        if (!dir_.empty()) {
            std::remove((dir_ + "/key.pem").c_str());
            std::remove((dir_ + "/cert.pem").c_str());
            rmdir(dir_.c_str());
        }
    }
    bool listening() const { return listening_; }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }

private:
    std::string dir_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool listening_ = false;
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

// A cancel while a long reply keeps arriving (a 4 GB body sent as fast as it is read)
// stops the transfer within a step of the multi loop, with nothing of the body kept.
TEST(CurlTransport, AbortCheckStopsAReplyThatKeepsArriving) {
    OneShotServer server(OneShotServer::Behaviour::flood);
    auto started = std::chrono::steady_clock::now();
    CurlTransport transport([&] { return std::chrono::steady_clock::now() - started > 200ms; });
    HttpRequest request;
    request.url = server.url();
    request.timeout_ms = 30000;
    request.max_response_bytes = std::size_t(4) << 30;
    HttpResponse r = transport.send(request);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.error, TransportError::aborted);
    EXPECT_TRUE(r.body.empty());
    EXPECT_LT(took, 400ms);
}

// What CurlTransport does with a request left at its defaults, against a server whose
// certificate nobody vouches for: it refuses the connection as a TLS failure.
TEST(CurlTransport, TlsIsVerifiedByDefault) {
    SelfSignedTlsServer server;
    ASSERT_TRUE(server.listening()) << "openssl s_server did not start (openssl is a test dependency)";
    CurlTransport transport;
    HttpRequest request;
    request.url = server.url();
    request.timeout_ms = 5000;
    HttpResponse r = transport.send(request);
    EXPECT_EQ(r.error, TransportError::tls_failed) << to_string(r.error) << " " << r.error_text;
    EXPECT_EQ(r.status, 0);
}

// The same server with verification off is reached: the refusal above was about the
// certificate, not about reaching the server.
TEST(CurlTransport, TlsVerificationOffReachesTheSameServer) {
    SelfSignedTlsServer server;
    ASSERT_TRUE(server.listening()) << "openssl s_server did not start (openssl is a test dependency)";
    CurlTransport transport;
    HttpRequest request;
    request.url = server.url();
    request.timeout_ms = 5000;
    request.verify_tls = false;
    HttpResponse r = transport.send(request);
    EXPECT_TRUE(r.transport_ok()) << to_string(r.error) << " " << r.error_text;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("s_server"), std::string::npos) << r.body.substr(0, 200);
}
