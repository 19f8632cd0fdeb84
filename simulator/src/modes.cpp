#include "modes.hpp"

#include "util.hpp"

namespace sim {

namespace {

json_t* rate_limit_json(const std::optional<RateLimit>& r) {
    if (!r) return json_null();
    json_t* o = json_object();
    json_object_set_new(o, "limit", json_integer(r->limit));
    json_object_set_new(o, "period_s", json_integer(r->period_s));
    return o;
}

std::optional<std::string> read_rate_limit(const char* key, const json_t* v, std::optional<RateLimit>& out) {
    if (json_is_null(v)) {
        out.reset();
        return std::nullopt;
    }
    const std::string err = std::string(key) +
                            " must be null or {\"limit\": N, \"period_s\": S} with integers N >= 1 and 1 <= S <= 86400";
    if (!json_is_object(v) || json_object_size(v) != 2) return err;
    json_t* limit = json_object_get(v, "limit");
    json_t* period = json_object_get(v, "period_s");
    if (!json_is_integer(limit) || !json_is_integer(period)) return err;
    if (json_integer_value(limit) < 1 || json_integer_value(period) < 1 || json_integer_value(period) > 86400)
        return err;
    out = RateLimit{json_integer_value(limit), json_integer_value(period)};
    return std::nullopt;
}

std::optional<std::string> read_bool(const char* key, const json_t* v, bool& out) {
    if (!json_is_boolean(v)) return std::string(key) + " must be a boolean";
    out = json_is_true(v);
    return std::nullopt;
}

}  // namespace

json_t* modes_to_json(const Modes& m) {
    json_t* o = json_object();
    json_object_set_new(o, "proxy_drops_underscore_headers", json_boolean(m.proxy_drops_underscore_headers));
    json_object_set_new(o, "concurrency", json_string(m.concurrency == Concurrency::real ? "real" : "serialized"));
    json_object_set_new(o, "rate_limit", rate_limit_json(m.rate_limit));
    json_object_set_new(o, "search_rate_limit", rate_limit_json(m.search_rate_limit));
    json_object_set_new(o, "crm_v2", json_boolean(m.crm_v2));
    json_object_set_new(o, "race_window_ms", json_integer(m.race_window_ms));
    json_object_set_new(o, "log_headers", json_boolean(m.log_headers));
    return o;
}

std::optional<std::string> apply_modes_patch(Modes& m, const json_t* patch) {
    if (!json_is_object(patch)) return std::string("body must be a JSON object");
    Modes next = m;
    const char* key;
    json_t* v;
    json_object_foreach(const_cast<json_t*>(patch), key, v) {
        std::string k = key;
        std::optional<std::string> err;
        if (k == "proxy_drops_underscore_headers") err = read_bool(key, v, next.proxy_drops_underscore_headers);
        else if (k == "crm_v2") err = read_bool(key, v, next.crm_v2);
        else if (k == "log_headers") err = read_bool(key, v, next.log_headers);
        else if (k == "rate_limit") err = read_rate_limit(key, v, next.rate_limit);
        else if (k == "search_rate_limit") err = read_rate_limit(key, v, next.search_rate_limit);
        else if (k == "concurrency") {
            std::string c = json_is_string(v) ? json_string_value(v) : "";
            if (c == "real") next.concurrency = Concurrency::real;
            else if (c == "serialized") next.concurrency = Concurrency::serialized;
            else err = "concurrency must be \"real\" or \"serialized\"";
        } else if (k == "race_window_ms") {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 60000)
                err = "race_window_ms must be an integer between 0 and 60000";
            else next.race_window_ms = static_cast<int>(json_integer_value(v));
        } else {
            err = "unknown mode: " + k;
        }
        if (err) return err;
    }
    m = next;
    return std::nullopt;
}

std::optional<RateLimit> parse_rate_limit(const std::string& text) {
    std::size_t slash = text.find('/');
    if (slash == std::string::npos) return std::nullopt;
    auto n = parse_int(text.substr(0, slash));
    auto s = parse_int(text.substr(slash + 1));
    if (!n || !s || *n < 1 || *s < 1 || *s > 86400) return std::nullopt;
    return RateLimit{*n, *s};
}

std::optional<std::string> ModeSwitch::apply(const json_t* patch) {
    std::lock_guard<std::mutex> lk(mu_);
    return apply_modes_patch(current_, patch);
}

bool RateLimiter::hit(const std::string& key, const RateLimit& rl, std::int64_t now_s) {
    const std::int64_t window = now_s / rl.period_s;
    std::lock_guard<std::mutex> lk(mu_);
    if (counters_.size() > 4096) {  // forget windows that are over
        for (auto it = counters_.begin(); it != counters_.end();)
            it = now_s / it->second.period != it->second.window ? counters_.erase(it) : std::next(it);
    }
    Counter& c = counters_[key];
    if (c.window != window || c.period != rl.period_s) c = Counter{window, rl.period_s, 0};
    return ++c.count > rl.limit;
}

void RateLimiter::clear() {
    std::lock_guard<std::mutex> lk(mu_);
    counters_.clear();
}

}  // namespace sim
