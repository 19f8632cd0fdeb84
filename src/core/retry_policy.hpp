// What to do after a request to Chatwoot: done, retry later (and when), or give
// up. Pure policy, so the worker and the tests agree on one definition.
#pragma once
#include "core/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>

namespace chatwoot::core {

enum class Outcome {
    success,
    retry,            // transient: network, timeout, 5xx, 429
    permanent,        // retrying cannot fix it (most 4xx): dead letter at once
};

struct Verdict {
    Outcome outcome = Outcome::permanent;
    bool throttled = false;                          // a 429: slow the whole tenant down
    std::optional<std::chrono::seconds> retry_after; // the server said when (Retry-After)
    std::string reason;                              // for ultimo_erro
};

// Classifies a finished request. 401 and 403 count as retryable: they mean the
// connection is misconfigured (token, account), not that this job's data is bad,
// and a fixed token should let the queue drain without manual requeueing.
Verdict classify_response(const HttpResponse& response);

// Parses a Retry-After header: delta-seconds or an HTTP-date (relative to `now`).
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, std::int64_t now_epoch);

struct BackoffPolicy {
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds cap{5 * 60 * 1000};
    double jitter = 0.2;  // +-20 %
};

// Delay before attempt number `attempt` (1 = the first retry): base * 2^(attempt-1),
// capped, with multiplicative jitter so a burst of failures does not retry in lockstep.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng);

}  // namespace chatwoot::core
