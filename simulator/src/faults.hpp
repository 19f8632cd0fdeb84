// Fault injection for the API port, switchable at run time via the control API.
#pragma once
#include <jansson.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "http_types.hpp"

namespace sim {

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
    std::optional<HttpResponse> intercept();
    // Extra delay every API answer gets.
    int latency_ms() const;

private:
    mutable std::mutex mu_;
    FaultConfig cfg_;
};

}  // namespace sim
