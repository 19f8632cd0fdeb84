#include "core/outbox/retry_policy.hpp"

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
}  // namespace

TEST(RetryPolicy, SuccessIs2xx) {
    EXPECT_EQ(classify_response(status(200)).outcome, Outcome::success);
    EXPECT_EQ(classify_response(status(204)).outcome, Outcome::success);
}

TEST(RetryPolicy, TransientFailuresRetry) {
    for (long code : {500L, 502L, 503L, 504L, 408L}) EXPECT_EQ(classify_response(status(code)).outcome, Outcome::retry);
    HttpResponse timeout;
    timeout.error = TransportError::timed_out;
    EXPECT_EQ(classify_response(timeout).outcome, Outcome::retry);
    HttpResponse refused;
    refused.error = TransportError::connect_failed;
    EXPECT_EQ(classify_response(refused).outcome, Outcome::retry);
}

TEST(RetryPolicy, RackAttack429RetriesAndThrottlesWithoutRetryAfter) {
    Verdict v = classify_response(status(429, "Retry later\n"));
    EXPECT_EQ(v.outcome, Outcome::retry);
    EXPECT_TRUE(v.throttled);
    EXPECT_FALSE(v.retry_after);
}

TEST(RetryPolicy, RetryAfterIsObeyedWhenPresent) {
    Verdict v = classify_response(status(429, "", "30"));
    ASSERT_TRUE(v.retry_after);
    EXPECT_EQ(*v.retry_after, 30s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10s);
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0s);
    EXPECT_FALSE(parse_retry_after("soon", 0));
}

TEST(RetryPolicy, DataErrorsArePermanentWithChatwootsMessage) {
    Verdict v = classify_response(status(422, R"({"message":"Email Invalid email","attributes":["email"]})"));
    EXPECT_EQ(v.outcome, Outcome::permanent);
    EXPECT_NE(v.reason.find("Email Invalid email"), std::string::npos);
    EXPECT_EQ(classify_response(status(400)).outcome, Outcome::permanent);
    EXPECT_EQ(classify_response(status(404)).outcome, Outcome::permanent);
}

TEST(RetryPolicy, AnInvalidTokenPausesInsteadOfKillingEveryJob) {
    EXPECT_EQ(classify_response(status(401, R"({"error":"Invalid Access Token"})")).outcome, Outcome::refused);
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
    Verdict v = classify_response(status(429, "", "999999999"));
    ASSERT_TRUE(v.retry_after);
    EXPECT_EQ(*v.retry_after, kMaxRetryAfter);
}

TEST(RetryPolicy, RefusalsPauseTheConnectionAndSayWhy) {
    Verdict proxy = classify_response(status(401, R"({"errors":["You need to sign in or sign up before continuing."]})"));
    EXPECT_EQ(proxy.outcome, Outcome::refused);
    EXPECT_NE(proxy.reason.find("proxy"), std::string::npos);
    EXPECT_EQ(classify_response(status(403, "Forbidden")).outcome, Outcome::refused);
    EXPECT_NE(classify_response(status(401, R"({"error":"Account is suspended"})")).reason.find("suspensa"),
              std::string::npos);
}

TEST(RetryPolicy, ReasonsQuoteABoundedValidPieceOfTheBody) {
    std::string body = std::string(299, 'a') + "ç" + std::string(5000, 'b');
    Verdict v = classify_response(status(500, body));
    EXPECT_LT(v.reason.size(), 330u);
    EXPECT_EQ(v.reason.find("\xc3" "b"), std::string::npos);
}
