#include "request_log.hpp"

#include <algorithm>
#include <cctype>

#include "json_util.hpp"

namespace sim {

static constexpr std::size_t kMaxLoggedBody = 64 * 1024;

void RequestLog::add(RequestLogEntry entry) {
    if (entry.body.size() > kMaxLoggedBody) entry.body.resize(kMaxLoggedBody);
    std::lock_guard<std::mutex> lk(mu_);
    entry.seq = next_seq_++;
    entries_.push_back(std::move(entry));
    if (entries_.size() > capacity_) entries_.pop_front();
}

json_t* RequestLog::to_json(std::uint64_t since, std::size_t limit) const {
    json_t* arr = json_array();
    std::lock_guard<std::mutex> lk(mu_);
    // seqs are increasing: binary search the first entry after `since`.
    auto it = std::upper_bound(entries_.begin(), entries_.end(), since,
                               [](std::uint64_t s, const RequestLogEntry& e) { return s < e.seq; });
    for (std::size_t n = 0; it != entries_.end() && n < limit; ++it, ++n) {
        const RequestLogEntry& e = *it;
        json_t* o = json_object();
        json_object_set_new(o, "seq", json_integer(static_cast<json_int_t>(e.seq)));
        json_object_set_new(o, "at_ms", json_integer(e.at_ms));
        json_object_set_new(o, "method", jstr(e.method));
        json_object_set_new(o, "path", jstr(e.path));
        json_object_set_new(o, "query", jstr(e.query));
        json_object_set_new(o, "status", json_integer(e.status));
        json_object_set_new(o, "account_id", jint_opt(e.account_id));
        json_object_set_new(o, "duration_ms", json_real(e.duration_ms));
        json_object_set_new(o, "body", jstr(e.body));
        json_object_set_new(o, "fault", e.fault.empty() ? json_null() : jstr(e.fault));
        if (e.applied_status) json_object_set_new(o, "applied_status", json_integer(*e.applied_status));
        if (e.with_headers) {
            json_t* h = json_object();
            // Repeated names keep the last value, as a hash would.
            for (const auto& [k, v] : e.headers) json_object_set_new(h, k.c_str(), jstr(v));
            json_object_set_new(o, "headers", h);
            json_object_set_new(o, "raw_query", jstr(e.raw_query));
        }
        json_array_append_new(arr, o);
    }
    return arr;
}

void RequestLog::clear() {
    std::lock_guard<std::mutex> lk(mu_);
    entries_.clear();
}

std::uint64_t RequestLog::last_seq() const {
    std::lock_guard<std::mutex> lk(mu_);
    return next_seq_ - 1;
}

std::vector<std::pair<std::string, std::string>> redact_token_headers(
    std::vector<std::pair<std::string, std::string>> headers) {
    for (auto& [k, v] : headers) {
        std::string lower;
        for (char ch : k) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
        if (lower == "api_access_token" || lower == "api-access-token") v = "[FILTERED]";
    }
    return headers;
}

std::string redact_query(const std::string& raw) {
    if (raw.find("api_access_token") == std::string::npos) return raw;
    std::string out;
    std::size_t pos = 0;
    while (pos <= raw.size()) {
        std::size_t amp = raw.find('&', pos);
        std::string part = raw.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
        if (part.rfind("api_access_token=", 0) == 0) part = "api_access_token=[FILTERED]";
        if (!out.empty()) out += '&';
        out += part;
        if (amp == std::string::npos) break;
        pos = amp + 1;
    }
    return out;
}

}  // namespace sim
