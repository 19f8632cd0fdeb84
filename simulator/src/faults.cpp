#include "faults.hpp"

#include <cmath>

#include "util.hpp"

namespace sim {

FaultConfig Faults::snapshot() const {
    std::lock_guard<std::mutex> lk(mu_);
    return cfg_;
}

json_t* Faults::to_json() const {
    FaultConfig c = snapshot();
    json_t* o = json_object();
    json_object_set_new(o, "latency_ms", json_integer(c.latency_ms));
    json_object_set_new(o, "error_500_rate", json_real(c.error_500_rate));
    json_object_set_new(o, "throttle_next", json_integer(c.throttle_next));
    json_object_set_new(o, "throttle_rate", json_real(c.throttle_rate));
    json_object_set_new(o, "drop_rate", json_real(c.drop_rate));
    json_object_set_new(o, "hang_ms", json_integer(c.hang_ms));
    json_object_set_new(o, "non_json", json_boolean(c.non_json));
    json_object_set_new(o, "down", json_boolean(c.down));
    if (c.down && c.up_at_ms > 0) {
        double left = static_cast<double>(c.up_at_ms - now_ms()) / 1000.0;
        json_object_set_new(o, "down_for_s", json_real(left > 0 ? left : 0));
    } else {
        json_object_set_new(o, "down_for_s", json_null());
    }
    return o;
}

namespace {
std::optional<std::string> read_rate(const json_t* v, const char* key, double& out) {
    if (!json_is_number(v)) return std::string(key) + " must be a number between 0 and 1";
    double d = json_number_value(v);
    if (!(d >= 0.0 && d <= 1.0)) return std::string(key) + " must be a number between 0 and 1";
    out = d;
    return std::nullopt;
}
std::optional<std::string> read_ms(const json_t* v, const char* key, int& out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3600000)
        return std::string(key) + " must be an integer between 0 and 3600000";
    out = static_cast<int>(json_integer_value(v));
    return std::nullopt;
}
}  // namespace

std::optional<std::string> Faults::apply(const json_t* patch) {
    if (!json_is_object(patch)) return std::string("body must be a JSON object");
    std::lock_guard<std::mutex> lk(mu_);
    FaultConfig next = cfg_;
    const char* key;
    json_t* v;
    json_object_foreach(const_cast<json_t*>(patch), key, v) {
        std::string k = key;
        std::optional<std::string> err;
        if (k == "latency_ms") err = read_ms(v, key, next.latency_ms);
        else if (k == "hang_ms") err = read_ms(v, key, next.hang_ms);
        else if (k == "error_500_rate") err = read_rate(v, key, next.error_500_rate);
        else if (k == "throttle_rate") err = read_rate(v, key, next.throttle_rate);
        else if (k == "drop_rate") err = read_rate(v, key, next.drop_rate);
        else if (k == "throttle_next") {
            if (!json_is_integer(v) || json_integer_value(v) < 0) err = "throttle_next must be a non-negative integer";
            else next.throttle_next = json_integer_value(v);
        } else if (k == "non_json") {
            if (!json_is_boolean(v)) err = "non_json must be a boolean";
            else next.non_json = json_is_true(v);
        } else if (k == "down") {
            if (!json_is_boolean(v)) err = "down must be a boolean";
            else { next.down = json_is_true(v); next.up_at_ms = 0; }
        } else if (k == "down_for_s") {
            if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 3600)
                err = "down_for_s must be a number of seconds in (0, 3600]";
            else {
                next.down = true;
                next.up_at_ms = now_ms() + static_cast<std::int64_t>(std::llround(json_number_value(v) * 1000.0));
            }
        } else {
            err = "unknown fault: " + k;
        }
        if (err) return err;
    }
    cfg_ = next;
    return std::nullopt;
}

void Faults::clear() {
    std::lock_guard<std::mutex> lk(mu_);
    cfg_ = FaultConfig{};
}

void Faults::mark_up() {
    std::lock_guard<std::mutex> lk(mu_);
    cfg_.down = false;
    cfg_.up_at_ms = 0;
}

int Faults::latency_ms() const {
    std::lock_guard<std::mutex> lk(mu_);
    return cfg_.latency_ms;
}

std::optional<HttpResponse> Faults::intercept() {
    std::lock_guard<std::mutex> lk(mu_);
    const FaultConfig& c = cfg_;
    if (c.drop_rate > 0 && random_unit() < c.drop_rate) {
        HttpResponse r;
        r.action = HttpResponse::Action::drop;
        r.status = 0;
        r.fault = "drop";
        return r;
    }
    if (c.hang_ms > 0) {
        // Not applied; the connection is closed without an answer after hang_ms.
        HttpResponse r;
        r.action = HttpResponse::Action::drop;
        r.status = 0;
        r.delay_ms = c.hang_ms;
        r.fault = "hang";
        return r;
    }
    bool throttle = false;
    if (cfg_.throttle_next > 0) {
        --cfg_.throttle_next;
        throttle = true;
    } else if (c.throttle_rate > 0 && random_unit() < c.throttle_rate) {
        throttle = true;
    }
    if (throttle) {
        // rack-attack's default responder: text/plain, "Retry later\n", no Retry-After.
        HttpResponse r;
        r.status = 429;
        r.content_type = "text/plain";
        r.body = "Retry later\n";
        r.fault = "throttle";
        return r;
    }
    if (c.error_500_rate > 0 && random_unit() < c.error_500_rate) {
        // Rails' public exceptions app answering a JSON request.
        HttpResponse r = HttpResponse::json(500, R"({"status":500,"error":"Internal Server Error"})");
        r.fault = "error_500";
        return r;
    }
    if (c.non_json) {
        HttpResponse r;
        r.status = 200;
        r.content_type = "text/html; charset=utf-8";
        r.body =
            "<html>\n<head><title>Welcome to nginx!</title></head>\n<body>\n<h1>Welcome to nginx!</h1>\n"
            "<p>If you see this page, the web server is successfully installed.</p>\n</body>\n</html>\n";
        r.fault = "non_json";
        return r;
    }
    return std::nullopt;
}

}  // namespace sim
