// Everything one simulator process owns, wired together.
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "faults.hpp"
#include "http_server.hpp"
#include "modes.hpp"
#include "request_log.hpp"
#include "state.hpp"
#include "webhook_delivery.hpp"

namespace sim {

struct AppConfig {
    std::string bind = "127.0.0.1";
    std::uint16_t port = 3000;
    std::uint16_t control_port = 3001;
    unsigned threads = 2;
    SeedConfig seed;
    Modes modes;  // as given on the command line; POST /__sim/reset restores them
};

class App {
public:
    explicit App(AppConfig cfg);
    ~App();
    bool start(std::string* error);
    void stop();

    // Back to the seed: state, faults (port up again), modes of the command line,
    // rate-limit counters, request and delivery logs.
    void reset();
    // Applies the "down" fault: really stops / restarts listening on the API port.
    void sync_listening();

    AppConfig config;
    Store store;
    Faults faults;
    ModeSwitch modes;
    RateLimiter limiter;
    RequestLog request_log;
    WebhookDeliverer deliverer;
    std::unique_ptr<HttpServer> api;
    std::unique_ptr<HttpServer> control;

private:
    void monitor_loop();
    std::mutex listen_mu_;
    std::atomic<bool> quit_{false};
    std::thread monitor_;
};

// Entry points of the two ports.
HttpResponse handle_api(App& app, const HttpRequest& req);
HttpResponse handle_control(App& app, const HttpRequest& req);

}  // namespace sim
