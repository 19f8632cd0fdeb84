// Bounded in-memory log of API requests, read by tests through the control API.
#pragma once
#include <jansson.h>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sim {

struct RequestLogEntry {
    std::uint64_t seq = 0;
    std::int64_t at_ms = 0;
    std::string method;
    std::string path;
    std::string query;  // raw, with any api_access_token value redacted
    int status = 0;     // 0 when no answer was sent (drop / hang)
    std::optional<std::int64_t> account_id;
    double duration_ms = 0;
    std::string body;
    std::string fault;
    std::optional<int> applied_status;  // after_apply faults: the answer the applied request had
    bool with_headers = false;          // log_headers mode: the two fields below are shown
    std::vector<std::pair<std::string, std::string>> headers;  // token values redacted
    std::string raw_query;                                     // not redacted
};

class RequestLog {
public:
    explicit RequestLog(std::size_t capacity = 200000) : capacity_(capacity) {}
    void add(RequestLogEntry entry);
    // Entries with seq > since, oldest first, at most `limit`.
    json_t* to_json(std::uint64_t since, std::size_t limit) const;
    void clear();
    std::uint64_t last_seq() const;

private:
    std::size_t capacity_;
    mutable std::mutex mu_;
    std::deque<RequestLogEntry> entries_;
    std::uint64_t next_seq_ = 1;
};

// Removes the value of any api_access_token parameter from a raw query string.
std::string redact_query(const std::string& raw);
// Replaces the value of api_access_token / Api-Access-Token (any case) with "[FILTERED]".
std::vector<std::pair<std::string, std::string>> redact_token_headers(
    std::vector<std::pair<std::string, std::string>> headers);

}  // namespace sim
