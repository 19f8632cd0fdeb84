// One libmicrohttpd daemon (internal epoll + thread pool). Delayed answers are
// parked with MHD_suspend_connection and resumed by a timer thread, so latency
// and hang faults never hold a worker thread. The daemon can be stopped and
// started again on the same port (the "down" fault really stops listening).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "http_types.hpp"

struct MHD_Daemon;

namespace sim {

class HttpServer {
public:
    using Handler = std::function<HttpResponse(const HttpRequest&)>;
    // Called once per answered or dropped request (not for aborted ones).
    using Completion = std::function<void(const HttpRequest&, const HttpResponse&, double duration_ms)>;

    HttpServer(std::string bind, std::uint16_t port, unsigned threads, Handler handler, Completion completion = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    bool start(std::string* error = nullptr);
    void stop();
    bool running() const;
    std::uint16_t port() const { return port_; }

    struct RequestContext;  // per connection-request state, defined in the .cpp

private:
    friend struct ServerCallbacks;
    void timer_loop();
    // Returns false when the daemon is stopping (caller then closes the connection).
    bool park(MHD_Connection* connection, RequestContext* ctx, int delay_ms);

    std::string bind_;
    std::uint16_t port_;
    unsigned threads_;
    Handler handler_;
    Completion completion_;

    mutable std::mutex lifecycle_mu_;
    MHD_Daemon* daemon_ = nullptr;

    std::mutex timer_mu_;
    std::condition_variable timer_cv_;
    std::multimap<std::int64_t, std::pair<MHD_Connection*, RequestContext*>> parked_;
    bool accepting_parks_ = false;
    bool timer_quit_ = false;
    std::thread timer_;
};

}  // namespace sim
