// Behaviour switches of the API port that make the simulator as strict as a
// real Chatwoot deployment (control API /__sim/mode and the matching CLI flags).
#pragma once
#include <jansson.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace sim {

struct RateLimit {
    std::int64_t limit = 0;
    std::int64_t period_s = 0;
};

enum class Concurrency { real, serialized };

struct Modes {
    // nginx without `underscores_in_headers on`: headers whose name has '_' never arrive.
    bool proxy_drops_underscore_headers = false;
    // real: contact create/update validate, wait race_window_ms, then insert, enforcing
    // only the unique indexes Chatwoot's database has. serialized: one write lock per request.
    Concurrency concurrency = Concurrency::real;
    std::optional<RateLimit> rate_limit;         // rack-attack req/ip
    std::optional<RateLimit> search_rate_limit;  // rack-attack contacts/search per account
    bool crm_v2 = false;                         // contacts list/filter start from contact_type = lead
    int race_window_ms = 2;                      // validation-to-insert gap of a real-mode contact write
    bool log_headers = false;                    // request log also records headers and the raw query
};

json_t* modes_to_json(const Modes& m);
// Applies a partial update; on a bad value returns its error text and leaves `m` unchanged.
std::optional<std::string> apply_modes_patch(Modes& m, const json_t* patch);
// "N/S" -> {N, S}; nullopt when malformed.
std::optional<RateLimit> parse_rate_limit(const std::string& text);

class ModeSwitch {
public:
    explicit ModeSwitch(Modes initial = {}) : initial_(initial), current_(initial) {}
    Modes get() const {
        std::lock_guard<std::mutex> lk(mu_);
        return current_;
    }
    std::optional<std::string> apply(const json_t* patch);
    void reset() {
        std::lock_guard<std::mutex> lk(mu_);
        current_ = initial_;
    }

private:
    mutable std::mutex mu_;
    Modes initial_;
    Modes current_;
};

// rack-attack 6.7 throttle counters: fixed windows keyed by epoch_seconds / period,
// one count per discriminator, incremented by every request, throttled ones too.
class RateLimiter {
public:
    // Counts this request; true when the count now exceeds the limit.
    bool hit(const std::string& key, const RateLimit& rl, std::int64_t now_s);
    void clear();

private:
    struct Counter {
        std::int64_t window = -1;
        std::int64_t period = 0;
        std::int64_t count = 0;
    };
    std::mutex mu_;
    std::unordered_map<std::string, Counter> counters_;
};

}  // namespace sim
