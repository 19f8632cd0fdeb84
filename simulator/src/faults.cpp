#include "faults.hpp"

#include <cmath>

#include "json_util.hpp"
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
    if (c.reply) {
        const ReplyFault& r = *c.reply;
        json_t* j = json_object();
        json_object_set_new(j, "status", json_integer(r.status));
        json_object_set_new(j, "content_type", jstr(r.content_type));
        json_object_set_new(j, "body_bytes", json_integer(static_cast<json_int_t>(r.body->size())));
        json_object_set_new(j, "repeat", json_integer(static_cast<json_int_t>(r.repeat)));
        json_t* h = json_object();
        for (const auto& [k, v] : r.headers) json_object_set_new(h, k.c_str(), jstr(v));
        json_object_set_new(j, "headers", h);
        json_object_set_new(j, "echo_header", r.echo_header.empty() ? json_null() : jstr(r.echo_header));
        json_object_set_new(j, "path_regex", r.path_regex.empty() ? json_null() : jstr(r.path_regex));
        json_object_set_new(j, "count", r.count ? json_integer(*r.count) : json_null());
        json_object_set_new(o, "reply", j);
    } else {
        json_object_set_new(o, "reply", json_null());
    }
    if (c.after_apply) {
        const AfterApplyFault& a = *c.after_apply;
        json_t* j = json_object();
        json_object_set_new(j, "action", jstr(a.action));
        json_object_set_new(j, "rate", json_real(a.rate));
        json_object_set_new(j, "next", json_integer(a.next));
        json_object_set_new(j, "path_regex", a.path_regex.empty() ? json_null() : jstr(a.path_regex));
        json_object_set_new(o, "after_apply", j);
    } else {
        json_object_set_new(o, "after_apply", json_null());
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

std::optional<std::string> read_regex(const json_t* v, const char* key, std::string& text,
                                      std::shared_ptr<const std::regex>& re) {
    if (json_is_null(v)) return std::nullopt;
    if (!json_is_string(v)) return std::string(key) + " must be a string (ECMAScript regular expression)";
    try {
        re = std::make_shared<const std::regex>(json_string_value(v), std::regex::ECMAScript);
    } catch (const std::regex_error&) {
        return std::string(key) + " is not a valid regular expression";
    }
    text = json_string_value(v);
    return std::nullopt;
}

bool header_token_ok(const std::string& s) {
    if (s.empty()) return false;
    for (unsigned char ch : s)
        if (ch <= 32 || ch >= 127 || ch == ':') return false;
    return true;
}

bool header_value_ok(const std::string& s) {
    for (unsigned char ch : s)
        if (ch == '\r' || ch == '\n' || ch == 0) return false;
    return true;
}

constexpr std::uint64_t kMaxReplyBytes = 64ULL * 1024 * 1024 * 1024;  // 64 GiB streamed at most

std::optional<std::string> read_reply(const json_t* v, std::optional<ReplyFault>& out) {
    if (json_is_null(v)) {
        out.reset();
        return std::nullopt;
    }
    if (!json_is_object(v)) return std::string("reply must be an object or null");
    ReplyFault r;
    const char* key;
    json_t* f;
    bool have_text = false, have_b64 = false;
    json_object_foreach(const_cast<json_t*>(v), key, f) {
        std::string k = key;
        if (k == "status") {
            if (!json_is_integer(f) || json_integer_value(f) < 100 || json_integer_value(f) > 599)
                return std::string("reply.status must be an integer between 100 and 599");
            r.status = static_cast<int>(json_integer_value(f));
        } else if (k == "content_type") {
            if (!json_is_string(f) || !header_value_ok(json_string_value(f)))
                return std::string("reply.content_type must be a string without line breaks");
            r.content_type = json_string_value(f);
        } else if (k == "body") {
            if (!json_is_string(f)) return std::string("reply.body must be a string");
            r.body = std::make_shared<const std::string>(json_string_value(f), json_string_length(f));
            have_text = true;
        } else if (k == "body_base64") {
            std::optional<std::string> bytes =
                json_is_string(f) ? base64_decode(json_string_value(f)) : std::optional<std::string>();
            if (!bytes) return std::string("reply.body_base64 must be a base64 string");
            r.body = std::make_shared<const std::string>(std::move(*bytes));
            have_b64 = true;
        } else if (k == "repeat") {
            if (!json_is_integer(f) || json_integer_value(f) < 0)
                return std::string("reply.repeat must be a non-negative integer");
            r.repeat = static_cast<std::uint64_t>(json_integer_value(f));
        } else if (k == "headers") {
            if (!json_is_object(f)) return std::string("reply.headers must be an object of strings");
            const char* hk;
            json_t* hv;
            json_object_foreach(f, hk, hv) {
                if (!json_is_string(hv) || !header_token_ok(hk) || !header_value_ok(json_string_value(hv)))
                    return std::string("reply.headers must map header names to single-line strings");
                r.headers.emplace_back(hk, json_string_value(hv));
            }
        } else if (k == "echo_header") {
            if (!json_is_null(f) && (!json_is_string(f) || !header_token_ok(json_string_value(f))))
                return std::string("reply.echo_header must be a header name");
            if (json_is_string(f)) r.echo_header = json_string_value(f);
        } else if (k == "path_regex") {
            if (auto err = read_regex(f, "reply.path_regex", r.path_regex, r.path_re)) return err;
        } else if (k == "count") {
            if (json_is_null(f)) continue;
            if (!json_is_integer(f) || json_integer_value(f) < 1)
                return std::string("reply.count must be a positive integer or null");
            r.count = json_integer_value(f);
        } else {
            return "unknown reply field: " + k;
        }
    }
    if (have_text && have_b64) return std::string("reply takes body or body_base64, not both");
    if (r.repeat > 0 && r.body->size() > kMaxReplyBytes / r.repeat)
        return std::string("reply body * repeat must stay under 64 GiB");
    out = std::move(r);
    return std::nullopt;
}

std::optional<std::string> read_after_apply(const json_t* v, std::optional<AfterApplyFault>& out) {
    if (json_is_null(v)) {
        out.reset();
        return std::nullopt;
    }
    if (!json_is_object(v)) return std::string("after_apply must be an object or null");
    AfterApplyFault a;
    bool have_rate = false, have_next = false;
    const char* key;
    json_t* f;
    json_object_foreach(const_cast<json_t*>(v), key, f) {
        std::string k = key;
        if (k == "action") {
            std::string act = json_is_string(f) ? json_string_value(f) : "";
            if (act != "drop" && act != "error_500")
                return std::string("after_apply.action must be \"drop\" or \"error_500\"");
            a.action = act;
        } else if (k == "rate") {
            if (auto err = read_rate(f, "after_apply.rate", a.rate)) return err;
            have_rate = true;
        } else if (k == "next") {
            if (!json_is_integer(f) || json_integer_value(f) < 0)
                return std::string("after_apply.next must be a non-negative integer");
            a.next = json_integer_value(f);
            have_next = true;
        } else if (k == "path_regex") {
            if (auto err = read_regex(f, "after_apply.path_regex", a.path_regex, a.path_re)) return err;
        } else {
            return "unknown after_apply field: " + k;
        }
    }
    if (a.action.empty()) return std::string("after_apply.action must be \"drop\" or \"error_500\"");
    if (!have_rate && !have_next) a.rate = 1;  // every matching write
    out = std::move(a);
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
        } else if (k == "reply") {
            err = read_reply(v, next.reply);
        } else if (k == "after_apply") {
            err = read_after_apply(v, next.after_apply);
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

namespace {
bool path_matches(const std::shared_ptr<const std::regex>& re, const std::string& path) {
    return !re || std::regex_search(path, *re);
}
}  // namespace

std::optional<std::string> Faults::after_apply(const std::string& path) {
    std::lock_guard<std::mutex> lk(mu_);
    if (!cfg_.after_apply) return std::nullopt;
    AfterApplyFault& a = *cfg_.after_apply;
    if (!path_matches(a.path_re, path)) return std::nullopt;
    if (a.next > 0) {
        --a.next;
        return a.action;
    }
    if (a.rate > 0 && random_unit() < a.rate) return a.action;
    return std::nullopt;
}

std::optional<HttpResponse> Faults::intercept(const HttpRequest& req) {
    std::lock_guard<std::mutex> lk(mu_);
    const FaultConfig& c = cfg_;
    if (cfg_.reply && path_matches(cfg_.reply->path_re, req.path)) {
        const ReplyFault& rf = *cfg_.reply;
        HttpResponse r;
        r.status = rf.status;
        r.content_type = rf.content_type;
        r.headers = rf.headers;
        r.stream = std::make_shared<StreamBody>();
        r.stream->unit = rf.body;
        r.stream->repeat = rf.repeat;
        if (!rf.echo_header.empty()) r.stream->tail = req.header(rf.echo_header.c_str()).value_or("");
        r.fault = "reply";
        if (cfg_.reply->count && --*cfg_.reply->count <= 0) cfg_.reply.reset();
        return r;
    }
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
