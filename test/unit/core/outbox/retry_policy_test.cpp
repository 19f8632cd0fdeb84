#include "core/outbox/retry_policy.hpp"
#include "core/text/text.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {
HttpResponse status(long code, std::string body = {}, std::string retry_after = {}) {
    HttpResponse r;
    r.status = code;
    r.body = std::move(body);
    r.retry_after = std::move(retry_after);
    return r;
}
HttpResponse status_body(long code, std::string body) { return status(code, std::move(body)); }
// The classification with no secret to redact (the tests of redaction pass theirs).
Verdict classify(const HttpResponse& response) { return classify_response(response, {}); }
}  // namespace

TEST(RetryPolicy, SuccessIs2xx) {
    EXPECT_EQ(classify(status(200)).outcome, Outcome::success);
    EXPECT_EQ(classify(status(204)).outcome, Outcome::success);
}

TEST(RetryPolicy, TransientFailuresRetry) {
    for (long code : {500L, 502L, 503L, 504L, 408L}) EXPECT_EQ(classify(status(code)).outcome, Outcome::retry);
    HttpResponse timeout;
    timeout.error = TransportError::timed_out;
    EXPECT_EQ(classify(timeout).outcome, Outcome::retry);
    HttpResponse refused;
    refused.error = TransportError::connect_failed;
    EXPECT_EQ(classify(refused).outcome, Outcome::retry);
}

TEST(RetryPolicy, RackAttack429RetriesAndThrottlesWithoutRetryAfter) {
    Verdict v = classify(status(429, "Retry later\n"));
    EXPECT_EQ(v.outcome, Outcome::retry);
    EXPECT_TRUE(v.throttled);
    EXPECT_FALSE(v.retry_after);
}

TEST(RetryPolicy, RetryAfterIsObeyedWhenPresent) {
    Verdict v = classify(status(429, "", "30"));
    ASSERT_TRUE(v.retry_after);
    EXPECT_EQ(*v.retry_after, 30s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0s);
    EXPECT_FALSE(parse_retry_after("soon", 0));
}

TEST(RetryPolicy, DataErrorsArePermanentWithChatwootsMessage) {
    Verdict v = classify(status(422, R"({"message":"Email Invalid email","attributes":["email"]})"));
    EXPECT_EQ(v.outcome, Outcome::permanent);
    EXPECT_NE(v.reason.find("Email Invalid email"), std::string::npos);
    EXPECT_EQ(classify(status(400)).outcome, Outcome::permanent);
    EXPECT_EQ(classify(status(404)).outcome, Outcome::permanent);
}

TEST(RetryPolicy, AnInvalidTokenPausesInsteadOfKillingEveryJob) {
    EXPECT_EQ(classify(status(401, R"({"error":"Invalid Access Token"})")).outcome, Outcome::refused);
}

TEST(RetryPolicy, BackoffGrowsExponentiallyWithJitterAndACap) {
    std::mt19937_64 rng(42);
    BackoffPolicy p;
    for (int attempt = 1; attempt <= 20; ++attempt) {
        auto d = backoff_delay(p, attempt, rng);
        double nominal = std::min(1000.0 * std::pow(2.0, attempt - 1), 300000.0);
        EXPECT_GE(d.count(), nominal * 0.8 - 1) << attempt;
        EXPECT_LE(d.count(), nominal * 1.2 + 1) << attempt;
    }
    // Jitter really spreads retries.
    auto a = backoff_delay(p, 5, rng), b = backoff_delay(p, 5, rng), c = backoff_delay(p, 5, rng);
    EXPECT_FALSE(a == b && b == c);
}

TEST(RetryPolicy, RetryAfterInEitherFormIsClampedToTheBackoffCap) {
    EXPECT_EQ(parse_retry_after("999999999", 0), kMaxRetryAfter);
    EXPECT_EQ(parse_retry_after("86400", 0), kMaxRetryAfter);
    EXPECT_EQ(parse_retry_after("99999999999999999999", 0), kMaxRetryAfter);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2065 07:28:00 GMT", 1445412470), kMaxRetryAfter);
    EXPECT_EQ(parse_retry_after("120", 0), 120s);
    Verdict v = classify(status(429, "", "999999999"));
    ASSERT_TRUE(v.retry_after);
    EXPECT_EQ(*v.retry_after, kMaxRetryAfter);
}

TEST(RetryPolicy, RefusalsPauseTheConnectionAndSayWhy) {
    Verdict proxy = classify(status(401, R"({"errors":["You need to sign in or sign up before continuing."]})"));
    EXPECT_EQ(proxy.outcome, Outcome::refused);
    EXPECT_NE(proxy.reason.find("proxy"), std::string::npos);
    EXPECT_EQ(classify(status(403, "Forbidden")).outcome, Outcome::refused);
    EXPECT_NE(classify(status(401, R"({"error":"Account is suspended"})")).reason.find("suspensa"),
              std::string::npos);
}

TEST(RetryPolicy, ReasonsQuoteABoundedValidPieceOfTheBody) {
    std::string body = std::string(299, 'a') + "ç" + std::string(5000, 'b');
    Verdict v = classify(status(500, body));
    EXPECT_LT(v.reason.size(), 330u);
    EXPECT_EQ(v.reason.find("\xc3" "b"), std::string::npos);
}

namespace {
const std::string kKey = "Zx9kQ2mN7pL4vB8cR1tY6wHs";
const std::string kWebhook = "whsec-Q7n2Lp9xK4";
bool holds_a_piece(const std::string& text) {  // 8+ of either secret's first characters
    return text.find(kKey.substr(0, 8)) != std::string::npos || text.find(kWebhook.substr(0, 8)) != std::string::npos;
}
std::string json_with(const char* field, const std::string& text) {
    return std::string("{\"") + field + "\":\"" + text + "\"}";
}
}  // namespace

// T3-7 (probe 5.7): a 422 message longer than 300 bytes and a 401 error longer than 200
// that echo a secret across the cut, at every offset around it: nothing of either
// secret is in the reason (it reaches erros_sincronizacao and motivo_pausa).
TEST(RetryPolicy, AReplyEchoingASecretAcrossTheCutKeepsNothingOfIt) {
    for (const std::string* secret : {&kKey, &kWebhook}) {
        for (std::size_t pad = 150; pad <= 310; ++pad) {
            std::string echo = std::string(pad, 'x') + *secret + " (header echoed by the proxy)";
            for (long status : {422L, 500L}) {
                Verdict raw = classify_response(status_body(status, echo), {kKey, kWebhook});
                EXPECT_FALSE(holds_a_piece(raw.reason)) << status << " raw " << pad << ": " << raw.reason;
            }
            for (const char* field : {"error", "message"}) {
                Verdict refused = classify_response(status_body(401, json_with(field, echo)), {kKey, kWebhook});
                EXPECT_EQ(refused.outcome, Outcome::refused);
                EXPECT_FALSE(holds_a_piece(refused.reason)) << field << " " << pad << ": " << refused.reason;
            }
            Verdict errors = classify_response(status_body(403, "{\"errors\":[\"" + echo + "\"]}"), {kKey, kWebhook});
            EXPECT_FALSE(holds_a_piece(errors.reason)) << pad << ": " << errors.reason;
            std::string refusal = refusal_reason(status_body(401, echo), {kKey, kWebhook});
            EXPECT_FALSE(holds_a_piece(refusal)) << pad << ": " << refusal;
        }
    }
    // Redacted before the cut: the words after the key are quoted where they fit.
    Verdict v = classify_response(status_body(401, json_with("error", std::string(170, 'x') + kKey + " fim")),
                                  {kKey, kWebhook});
    EXPECT_NE(v.reason.find("[redacted] fim"), std::string::npos) << v.reason;
}

// T3-11 (probe 5.5): a redirect is never followed, and is no dead letter: a retry whose
// reason names the Location, redacted, bounded and valid UTF-8.
TEST(RetryPolicy, ARedirectIsARetryThatNamesItsLocation) {
    HttpResponse moved = status(302, "{}");
    moved.location = "https://chat.example.com/api/v1/accounts/1/contacts/filter";
    Verdict v = classify(moved);
    EXPECT_EQ(v.outcome, Outcome::retry);
    EXPECT_FALSE(v.throttled);
    EXPECT_NE(v.reason.find("HTTP 302"), std::string::npos) << v.reason;
    EXPECT_NE(v.reason.find("redirecionamento para 'https://chat.example.com/api/v1/accounts/1/contacts/filter'"),
              std::string::npos)
        << v.reason;
    for (long code : {301L, 303L, 307L, 308L}) EXPECT_EQ(classify(status(code)).outcome, Outcome::retry) << code;
    EXPECT_NE(classify(status(301)).reason.find("sem Location"), std::string::npos);

    HttpResponse hostile = status(302);
    hostile.location = "https://login.example.com/?token=" + kKey + "&s=" + kWebhook + "&\xff" + std::string(20000, 'p');
    Verdict h = classify_response(hostile, {kKey, kWebhook});
    EXPECT_FALSE(holds_a_piece(h.reason)) << h.reason;
    EXPECT_NE(h.reason.find("token=[redacted]&s=[redacted]&\xEF\xBF\xBD"), std::string::npos) << h.reason;
    EXPECT_LT(h.reason.size(), 500u);
    EXPECT_EQ(valid_utf8(h.reason), h.reason);
    // Cut inside the key: the piece left is masked all the same.
    for (std::size_t pad = 250; pad <= 300; ++pad) {
        hostile.location = "https://x/" + std::string(pad, 'q') + kKey;
        EXPECT_FALSE(holds_a_piece(classify_response(hostile, {kKey, kWebhook}).reason)) << pad;
    }
}
