// Fault injection for the API port, switchable at run time via the control API.
#pragma once
#include <jansson.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "http_types.hpp"

namespace sim {

// A fixed answer instead of the API (a proxy error page, a hostile server).
struct ReplyFault {
    int status = 200;
    std::string content_type = "text/html; charset=utf-8";
    std::shared_ptr<const std::string> body = std::make_shared<const std::string>();
    std::uint64_t repeat = 1;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string echo_header;  // this request header's value is appended to the body
    std::string path_regex;   // empty: every request
    std::shared_ptr<const std::regex> path_re;
    std::optional<std::int64_t> count;  // requests left to answer; absent: all
};

// The request is applied, then its answer is lost (drop) or replaced by a 500.
struct AfterApplyFault {
    std::string action;  // "drop" | "error_500"
    double rate = 0;
    std::int64_t next = 0;
    std::string path_regex;
    std::shared_ptr<const std::regex> path_re;
};

struct FaultConfig {
    int latency_ms = 0;
    double error_500_rate = 0;
    std::int64_t throttle_next = 0;
    double throttle_rate = 0;
    double drop_rate = 0;
    int hang_ms = 0;
    bool non_json = false;
    bool down = false;
    std::int64_t up_at_ms = 0;  // set by down_for_s: when the port comes back by itself
    std::optional<ReplyFault> reply;
    std::optional<AfterApplyFault> after_apply;
};

class Faults {
public:
    FaultConfig snapshot() const;
    json_t* to_json() const;
    // Applies a partial update; returns an error text for bad input (nothing applied then).
    std::optional<std::string> apply(const json_t* patch);
    void clear();
    // Marks the port up again (used when down_for_s expires or down is cleared).
    void mark_up();

    // Decides the fate of one API request before it is handled. Returns a
    // ready response when a fault answers instead of the API, else nullopt.
    std::optional<HttpResponse> intercept(const HttpRequest& req);
    // After a write was applied: "drop" or "error_500" when its answer is to be lost.
    std::optional<std::string> after_apply(const std::string& path);
    // Extra delay every API answer gets.
    int latency_ms() const;

private:
    mutable std::mutex mu_;
    FaultConfig cfg_;
};

}  // namespace sim
