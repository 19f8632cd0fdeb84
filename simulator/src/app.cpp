#include "app.hpp"

#include <chrono>
#include <cstdio>

#include "events.hpp"

#include "util.hpp"

namespace sim {

App::App(AppConfig cfg) : config(std::move(cfg)), modes(config.modes), deliverer(4, 5000) {
    std::unique_lock<std::shared_mutex> lk(store.mu);
    store.reset(config.seed);
}

App::~App() { stop(); }

bool App::start(std::string* error) {
    deliverer.set_failure_hook([this](const DeliveryJob& job, const std::string& err) {
        // Chatwoot marks the message failed when its API-inbox webhook fails.
        if (job.kind != "api_inbox" || !job.message_id) return;
        if (job.event != "message_created" && job.event != "message_updated") return;
        std::vector<DeliveryJob> jobs;
        {
            std::unique_lock<std::shared_mutex> lk(store.mu);
            auto it = store.messages.find(*job.message_id);
            if (it == store.messages.end()) return;
            Message& m = it->second;
            if (m.status == "failed" && m.external_error == err) return;  // no change, no event
            m.status = "failed";
            m.external_error = err;
            m.updated_us = now_us();
            emit_message(store, m, "message_updated", jobs);
        }
        deliverer.enqueue(std::move(jobs));
    });

    api = std::make_unique<HttpServer>(
        config.bind, config.port, config.threads, [this](const HttpRequest& r) { return handle_api(*this, r); },
        [this](const HttpRequest& r, const HttpResponse& resp, double ms) {
            RequestLogEntry e;
            e.at_ms = now_ms();
            e.method = r.method;
            e.path = r.path;
            e.query = redact_query(r.raw_query);
            e.status = resp.action == HttpResponse::Action::drop ? 0 : resp.status;
            e.account_id = resp.account_id;
            e.duration_ms = ms;
            e.body = r.body;
            e.fault = resp.fault;
            e.applied_status = resp.applied_status;
            if (modes.get().log_headers) {
                e.with_headers = true;
                e.raw_query = r.raw_query;
                e.headers = redact_token_headers(r.headers());
            }
            request_log.add(std::move(e));
        });
    control = std::make_unique<HttpServer>(config.bind, config.control_port, 1,
                                           [this](const HttpRequest& r) { return handle_control(*this, r); });
    if (!api->start(error)) return false;
    if (!control->start(error)) return false;
    config.port = api->port();
    config.control_port = control->port();
    monitor_ = std::thread([this] { monitor_loop(); });
    return true;
}

void App::stop() {
    quit_ = true;
    if (monitor_.joinable()) monitor_.join();
    if (control) control->stop();
    if (api) api->stop();
    deliverer.stop();
}

void App::sync_listening() {
    std::lock_guard<std::mutex> lk(listen_mu_);
    if (!api) return;
    bool down = faults.snapshot().down;
    if (down && api->running()) api->stop();
    if (!down && !api->running()) {
        std::string err;
        if (!api->start(&err)) std::fprintf(stderr, "chatwoot-sim: cannot listen again: %s\n", err.c_str());
    }
}

void App::monitor_loop() {
    // Brings the API port back when a down_for_s window ends.
    while (!quit_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        FaultConfig f = faults.snapshot();
        if (f.down && f.up_at_ms > 0 && now_ms() >= f.up_at_ms) {
            faults.mark_up();
            sync_listening();
        }
    }
}

void App::reset() {
    {
        std::unique_lock<std::shared_mutex> lk(store.mu);
        store.reset(config.seed);
    }
    faults.clear();
    modes.reset();
    limiter.clear();
    sync_listening();
    request_log.clear();
    deliverer.clear();
}

}  // namespace sim
