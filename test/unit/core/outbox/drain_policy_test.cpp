#include "core/outbox/drain_policy.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;
using namespace std::chrono_literals;

namespace {

DrainPolicy policy(int batch = 100) {
    DrainPolicy p;
    p.batch_size = batch;
    p.request_timeout_ms = 5000;
    p.max_concurrency = 16;
    p.max_backoff = 300s;
    return p;
}

}  // namespace

TEST(DrainPolicy, AtLeastOneRequestInFlight) {
    DrainPolicy p = policy();
    EXPECT_EQ(p.max_in_flight(), 16);
    p.max_concurrency = 0;
    EXPECT_EQ(p.max_in_flight(), 1);
}

TEST(DrainPolicy, WithoutABudgetAClaimIsTheBatch) {
    DrainPolicy p = policy(2000);
    EXPECT_EQ(p.claim_size(), 2000);
    p.budget_limit = 0;
    p.budget_window = 60s;
    EXPECT_EQ(p.claim_size(), 2000);
}

TEST(DrainPolicy, UnderABudgetAClaimIsTwoSecondsOfIt) {
    DrainPolicy p = policy(2000);
    p.budget_limit = 3000;  // Chatwoot's default: 50 requests a second
    p.budget_window = 60s;
    EXPECT_EQ(p.claim_size(), 100);
    EXPECT_TRUE(p.may_claim(199, false, false));
    EXPECT_FALSE(p.may_claim(200, false, false));  // two claims on the wire: no more
    p.budget_limit = 600000;                       // a budget larger than the batch
    EXPECT_EQ(p.claim_size(), 2000);
}

TEST(DrainPolicy, AClaimKeepsARoundOfRequestsInFlight) {
    DrainPolicy p = policy(2000);
    p.budget_limit = 60;  // one request a second
    p.budget_window = 60s;
    EXPECT_EQ(p.claim_size(), 16);  // the 16 in flight
    p.batch_size = 10;
    EXPECT_EQ(p.claim_size(), 10);  // the batch still bounds it
}

TEST(DrainPolicy, ABudgetedClaimShorterThanItsSizeIsAnEmptyBacklog) {
    DrainPolicy p = policy(2000);
    p.budget_limit = 3000;
    p.budget_window = 60s;
    EXPECT_FALSE(p.after_claim(100, false, false, 100).backlog_empty);
    EXPECT_TRUE(p.after_claim(99, false, false, 99).backlog_empty);
}

TEST(DrainPolicy, LeaseIsEightRequestTimeoutsAndAtLeastAMinute) {
    DrainPolicy p = policy();
    EXPECT_EQ(p.lease(), 60s);
    p.request_timeout_ms = 30000;
    EXPECT_EQ(p.lease(), 240s);
}

TEST(DrainPolicy, ALeaseIsRenewedOnceAThirdIsGone) {
    DrainPolicy p = policy();  // 60 s lease
    auto now = DrainPolicy::Clock::now();
    EXPECT_FALSE(p.lease_due_for_renewal(now - 19s, now));
    EXPECT_TRUE(p.lease_due_for_renewal(now - 21s, now));
}

TEST(DrainPolicy, ClaimsWhileFewerThanTwoBatchesAreOnTheWire) {
    DrainPolicy p = policy(100);
    EXPECT_TRUE(p.may_claim(199, false, false));
    EXPECT_FALSE(p.may_claim(200, false, false));
    // The HTTP thread alone cannot bring due jobs into an empty backlog.
    EXPECT_FALSE(p.may_claim(0, true, true));
    EXPECT_TRUE(p.may_claim(0, true, false));
    EXPECT_TRUE(p.may_claim(0, false, true));
}

TEST(DrainPolicy, AShortClaimWithNoLoteLeftEmptiesTheBacklog) {
    DrainPolicy p = policy(100);
    auto short_claim = p.after_claim(40, false, false, 40);
    EXPECT_TRUE(short_claim.backlog_empty);
    EXPECT_FALSE(short_claim.claim_again);
    auto lotes_left = p.after_claim(40, true, false, 40);
    EXPECT_FALSE(lotes_left.backlog_empty);
    EXPECT_TRUE(lotes_left.claim_again);
    auto full = p.after_claim(100, false, false, 100);
    EXPECT_FALSE(full.backlog_empty);
    EXPECT_TRUE(full.claim_again);
    auto wire_full = p.after_claim(100, false, false, 200);
    EXPECT_FALSE(wire_full.claim_again);
    auto nothing = p.after_claim(0, true, false, 0);
    EXPECT_FALSE(nothing.claim_again);  // lotes all locked: sleep, do not spin
}

TEST(DrainPolicy, ResultsAreRecordedInGroups) {
    DrainPolicy p = policy(100);
    EXPECT_FALSE(p.recording_due(0, false, true, 0ms));
    EXPECT_TRUE(p.recording_due(0, true, false, 0ms));  // untouched jobs go back at once
    EXPECT_FALSE(p.recording_due(24, false, false, 50ms));
    EXPECT_TRUE(p.recording_due(25, false, false, 0ms));   // a quarter batch
    EXPECT_TRUE(p.recording_due(1, false, true, 0ms));     // nothing else on the wire
    EXPECT_TRUE(p.recording_due(1, false, false, 100ms));  // the first waited long enough
    EXPECT_EQ(DrainPolicy::record_within(30ms), 70ms);
    EXPECT_EQ(DrainPolicy::record_within(150ms), 0ms);
}

TEST(DrainPolicy, AThrottledJobWaitsItsRetryAfterCappedByMaxBackoff) {
    DrainPolicy p = policy();
    EXPECT_EQ(p.throttled_wait(std::nullopt), 0ms);
    EXPECT_EQ(p.throttled_wait(30s), 30000ms);
    EXPECT_EQ(p.throttled_wait(3600s), 300000ms);
}

TEST(DrainPolicy, TheWorkerBacksOffOnlyWhenEveryAttemptFailed) {
    DrainPolicy::Tally down{0, 5, true, 2000ms};
    EXPECT_EQ(DrainPolicy::after_record(down), DrainPolicy::BackOff::start);
    DrainPolicy::Tally still_sending = down;
    still_sending.on_the_wire_empty = false;
    EXPECT_EQ(DrainPolicy::after_record(still_sending), DrainPolicy::BackOff::keep);
    DrainPolicy::Tally one_success{1, 5, true, 2000ms};
    EXPECT_EQ(DrainPolicy::after_record(one_success), DrainPolicy::BackOff::end);
    DrainPolicy::Tally nothing{0, 0, true, std::nullopt};
    EXPECT_EQ(DrainPolicy::after_record(nothing), DrainPolicy::BackOff::keep);
}

TEST(DrainPolicy, WhyTheWorkerIsNotSendingInOrder) {
    DrainPolicy::Standing all;
    all.no_connection = true;
    all.refused = "401";
    all.backing_off = true;
    all.pacer_paused = true;
    all.pacer_limit = 50;
    using Kind = DrainPolicy::Pause::Kind;
    DrainPolicy::Pause p = DrainPolicy::pause(all);
    EXPECT_EQ(p.kind, Kind::no_connection);
    EXPECT_TRUE(p.until_changed);
    EXPECT_FALSE(p.shown);
    all.no_connection = false;
    p = DrainPolicy::pause(all);
    EXPECT_EQ(p.kind, Kind::refused);
    EXPECT_TRUE(p.until_changed && p.shown);
    EXPECT_EQ(p.reason, "integração pausada: 401 (chatwoot.configurar retoma)");
    all.refused.reset();
    p = DrainPolicy::pause(all);
    EXPECT_EQ(p.kind, Kind::backing_off);
    EXPECT_FALSE(p.until_changed);
    all.backing_off = false;
    p = DrainPolicy::pause(all);
    EXPECT_EQ(p.kind, Kind::throttled);
    EXPECT_EQ(p.reason, "limite de requisições do Chatwoot (orçamento 50 por janela)");
    all.pacer_paused = false;
    p = DrainPolicy::pause(all);
    EXPECT_EQ(p.kind, Kind::sending);
    EXPECT_FALSE(p.shown);
    EXPECT_TRUE(p.reason.empty());
}
