#include "core/retry_policy.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace chatwoot::core {

Verdict classify_response(const HttpResponse& response) {
    Verdict v;
    if (!response.transport_ok()) {
        v.outcome = Outcome::retry;
        v.reason = std::string("falha de rede (") + to_string(response.error) + "): " + response.error_text;
        return v;
    }
    long s = response.status;
    if (s >= 200 && s < 300) {
        v.outcome = Outcome::success;
        return v;
    }
    v.reason = "HTTP " + std::to_string(s);
    if (!response.body.empty()) v.reason += ": " + response.body.substr(0, 300);
    if (s == 429) {
        v.outcome = Outcome::retry;
        v.throttled = true;
        if (!response.retry_after.empty())
            v.retry_after = parse_retry_after(response.retry_after, static_cast<std::int64_t>(std::time(nullptr)));
        return v;
    }
    if (s >= 500 || s == 408 || s == 401 || s == 403) {
        v.outcome = Outcome::retry;
        if (!response.retry_after.empty())
            v.retry_after = parse_retry_after(response.retry_after, static_cast<std::int64_t>(std::time(nullptr)));
        return v;
    }
    v.outcome = Outcome::permanent;
    return v;
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, std::int64_t now_epoch) {
    std::string v = value;
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    if (v.empty()) return std::nullopt;
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
        if (v.size() > 9) return std::chrono::seconds(24 * 3600);
        return std::chrono::seconds(std::stol(v));
    }
    std::tm tm{};
    // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
    if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
    std::int64_t at = static_cast<std::int64_t>(timegm(&tm));
    return std::chrono::seconds(std::max<std::int64_t>(0, at - now_epoch));
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng) {
    int exponent = std::clamp(attempt - 1, 0, 30);
    double raw = static_cast<double>(policy.base.count()) * std::pow(2.0, exponent);
    raw = std::min(raw, static_cast<double>(policy.cap.count()));
    std::uniform_real_distribution<double> spread(1.0 - policy.jitter, 1.0 + policy.jitter);
    return std::chrono::milliseconds(static_cast<std::int64_t>(raw * spread(rng)));
}

}  // namespace chatwoot::core
