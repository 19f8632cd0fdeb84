// What to do after a request to Chatwoot: done, retry later (and when), or give
// up. Pure policy, so the worker and the tests agree on one definition.
#pragma once
#include "core/http/http_client.hpp"

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace chatwoot::core {

enum class Outcome {
    success,
    retry,            // transient: network, timeout, 5xx, 429
    permanent,        // retrying cannot fix it (most 4xx): dead letter at once
    refused,          // 401/403: the connection itself is refused (token, account,
                      // suspension, a proxy dropping the token header): the integration
                      // pauses until it is reconfigured; the job loses no attempt
};

// Chatwoot's answer when Pundit denies one action to the token's user (an agent's
// DELETE, an inbox the agent is not a member of): 401 "You are not authorized to do
// this action" (request_exception_handler.rb). The token itself is good, so only that
// job fails (permanent, with the reason); the integration goes on.
bool is_action_denied(const HttpResponse& response);

// The longest any server-given Retry-After is obeyed: the backoff cap. A reply (or a
// proxy) asking for more must not stop the worker for days.
constexpr std::chrono::seconds kMaxRetryAfter{5 * 60};

struct Verdict {
    Outcome outcome = Outcome::permanent;
    bool throttled = false;                          // a 429: pace the integration, costs no attempt
    bool denied = false;                             // a 401 for one action (is_action_denied): permanent
    std::optional<std::chrono::seconds> retry_after; // the server said when (Retry-After), clamped
    std::string reason;                              // for ultimo_erro (not yet redacted or bounded)
};

// The connection's secrets (API key, webhook secret): every piece of a reply quoted in
// a reason is redacted of them, over the whole text, before it is cut (recorded_text).
using Secrets = std::initializer_list<std::string_view>;

// Classifies a finished request. A redirect (3xx, never followed) is a retry whose
// reason names the Location: a misconfigured api_url (http for https, a moved host)
// must not turn every job into a dead letter at its first attempt.
Verdict classify_response(const HttpResponse& response, Secrets secrets);

// Why Chatwoot refused the connection, in Portuguese, from a 401/403 reply; explains
// Devise's "You need to sign in" as the token header never reaching Chatwoot (a proxy
// that drops headers with '_').
std::string refusal_reason(const HttpResponse& response, Secrets secrets);

// "HTTP 302: redirecionamento para '<Location>' não seguido; ...", the Location
// redacted, valid UTF-8 and bounded.
std::string redirect_reason(const HttpResponse& response, Secrets secrets);
inline bool is_redirect(const HttpResponse& response) {
    return response.transport_ok() && response.status >= 300 && response.status < 400;
}

// Parses a Retry-After header: delta-seconds or an HTTP-date (relative to `now`),
// clamped to [0, cap].
std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, std::int64_t now_epoch,
                                                      std::chrono::seconds cap = kMaxRetryAfter);

struct BackoffPolicy {
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds cap{5 * 60 * 1000};
    double jitter = 0.2;  // +-20 %
};

// Delay before attempt number `attempt` (1 = the first retry): base * 2^(attempt-1),
// capped, with multiplicative jitter so a burst of failures does not retry in lockstep.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng);

}  // namespace chatwoot::core
