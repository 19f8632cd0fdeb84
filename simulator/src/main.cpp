// chatwoot-sim: a Chatwoot Application API + webhook simulator for tests.
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "app.hpp"
#include "util.hpp"

namespace {

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s --port N --control-port M [--bind 127.0.0.1] [--token T] [--account-id A] "
                 "[--threads K]\n"
                 "          [--proxy] [--concurrency real|serialized] [--race-window-ms MS] [--rate-limit N/S]\n"
                 "          [--search-rate-limit N/S] [--crm-v2] [--log-headers]\n",
                 argv0);
}

bool parse_port(const char* s, std::uint16_t& out) {
    auto v = sim::parse_int(s ? s : "");
    if (!v || *v < 0 || *v > 65535) return false;
    out = static_cast<std::uint16_t>(*v);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    sim::AppConfig cfg;
    bool have_port = false, have_control = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        auto need = [&]() {
            if (!v) { usage(argv[0]); std::exit(2); }
            ++i;
            return v;
        };
        if (a == "--port") { if (!parse_port(need(), cfg.port)) { usage(argv[0]); return 2; } have_port = true; }
        else if (a == "--control-port") { if (!parse_port(need(), cfg.control_port)) { usage(argv[0]); return 2; } have_control = true; }
        else if (a == "--bind") cfg.bind = need();
        else if (a == "--token") cfg.seed.admin_token = need();
        else if (a == "--account-id") {
            auto n = sim::parse_int(need());
            if (!n || *n < 1) { usage(argv[0]); return 2; }
            cfg.seed.account_id = *n;
        } else if (a == "--threads") {
            auto n = sim::parse_int(need());
            if (!n || *n < 1 || *n > 256) { usage(argv[0]); return 2; }
            cfg.threads = static_cast<unsigned>(*n);
        } else if (a == "--proxy") {
            cfg.modes.proxy_drops_underscore_headers = true;
        } else if (a == "--concurrency") {
            std::string c = need();
            if (c == "real") cfg.modes.concurrency = sim::Concurrency::real;
            else if (c == "serialized") cfg.modes.concurrency = sim::Concurrency::serialized;
            else { usage(argv[0]); return 2; }
        } else if (a == "--race-window-ms") {
            auto n = sim::parse_int(need());
            if (!n || *n < 0 || *n > 60000) { usage(argv[0]); return 2; }
            cfg.modes.race_window_ms = static_cast<int>(*n);
        } else if (a == "--rate-limit" || a == "--search-rate-limit") {
            auto rl = sim::parse_rate_limit(need());
            if (!rl) { usage(argv[0]); return 2; }
            (a == "--rate-limit" ? cfg.modes.rate_limit : cfg.modes.search_rate_limit) = *rl;
        } else if (a == "--crm-v2") {
            cfg.modes.crm_v2 = true;
        } else if (a == "--log-headers") {
            cfg.modes.log_headers = true;
        } else if (a == "--help" || a == "-h") { usage(argv[0]); return 0; }
        else { usage(argv[0]); return 2; }
    }
    if (!have_port || !have_control) { usage(argv[0]); return 2; }

    // Block the stop signals in every thread; main waits for them with sigwait.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    auto* app = new sim::App(cfg);
    std::string error;
    if (!app->start(&error)) {
        std::fprintf(stderr, "chatwoot-sim: %s\n", error.c_str());
        return 1;
    }
    std::printf("chatwoot-sim ready port=%u control_port=%u\n", app->config.port, app->config.control_port);
    std::fflush(stdout);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    // Guarantee exit within a second even if a webhook target or client stalls shutdown.
    std::thread([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(900));
        _exit(0);
    }).detach();
    app->stop();
    delete app;
    curl_global_cleanup();
    return 0;
}
