#include "core/request_pacer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

using namespace chatwoot::core;
using namespace std::chrono_literals;
using TimePoint = RequestPacer::TimePoint;

namespace {
// A clock-window start far from the epoch: 2026-12-01T00:00:00Z, a multiple of 60 s and of 5 s.
TimePoint at(double seconds) {
    return TimePoint(std::chrono::seconds(1796083200)) +
           std::chrono::duration_cast<TimePoint::duration>(std::chrono::duration<double>(seconds));
}

// Starts as many requests as the pacer lets through at `now`, all answered `status`.
int burst(RequestPacer& p, double now, long status = 200, int most = 100000) {
    int n = 0;
    while (n < most && p.may_start(at(now))) {
        p.on_start(at(now));
        p.on_response(at(now), status, std::nullopt, at(now));
        ++n;
    }
    return n;
}
}  // namespace

TEST(RequestPacer, WithoutABudgetNothingWaits) {
    RequestPacer p;
    EXPECT_EQ(burst(p, 0, 200, 5000), 5000);
    EXPECT_EQ(p.limit(), 0);
}

TEST(RequestPacer, NeverMoreThanTheBudgetInAnyWindowSpan) {
    RequestPacer p({200, 5s});
    EXPECT_EQ(p.margin(), 20ms);
    EXPECT_EQ(burst(p, 0.0), 200);
    EXPECT_FALSE(p.may_start(at(4.9)));
    // The oldest reply leaves the span at window + margin.
    EXPECT_EQ(p.next_start(at(1.0)), at(5.02));
    EXPECT_FALSE(p.may_start(at(5.01)));
    EXPECT_TRUE(p.may_start(at(5.02)));
    // Spread starts: still never more than 200 in any 5.02 s.
    RequestPacer q({200, 5s});
    std::vector<double> starts;
    for (double t = 0; t < 60; t += 0.01)
        while (q.may_start(at(t))) {
            q.on_start(at(t));
            q.on_response(at(t), 200, std::nullopt, at(t));
            starts.push_back(t);
        }
    for (std::size_t i = 0; i + 200 < starts.size(); ++i) EXPECT_GE(starts[i + 200] - starts[i], 5.02 - 1e-6);
    // ...and so never more than 200 in a clock window of Chatwoot's.
    std::map<long, int> per_window;
    for (double t : starts) ++per_window[static_cast<long>(t / 5)];
    for (auto& [w, n] : per_window) EXPECT_LE(n, 200) << w;
    EXPECT_GE(static_cast<double>(starts.size()), 0.9 * 200 * 60 / 5);
}

// Chatwoot counts a request somewhere between its start and its reply. For every
// window of Chatwoot's, the requests that could have been counted in it (their
// [start, reply] meets the window) never exceed the budget, with latencies up to
// twice the window and replies in any order.
TEST(RequestPacer, NoWindowCanCountMoreThanTheBudgetWhateverTheLatency) {
    RequestPacer p({50, 2s});
    struct Request { double start, reply; };
    std::vector<Request> done;
    std::multimap<double, double> pending;  // reply time -> start time
    std::uint32_t seed = 12345;
    auto latency = [&seed] {
        seed = seed * 1103515245u + 12345u;
        double u = ((seed >> 8) % 10000) / 10000.0;
        return u < 0.8 ? u * 0.05 : u * 4.0;  // mostly fast, some up to 4 s
    };
    for (double t = 0; t < 120; t += 0.001) {
        while (!pending.empty() && pending.begin()->first <= t) {
            p.on_response(at(pending.begin()->second), 200, std::nullopt, at(pending.begin()->first));
            done.push_back({pending.begin()->second, pending.begin()->first});
            pending.erase(pending.begin());
        }
        while (p.may_start(at(t))) {
            p.on_start(at(t));
            pending.emplace(t + latency(), t);
        }
    }
    ASSERT_GT(done.size(), 1000u);
    for (double x = 0; x < 118; x += 0.05) {
        int could_count = 0;
        for (const auto& r : done)
            if (r.start < x + 2.0 && r.reply >= x) ++could_count;
        ASSERT_LE(could_count, 50) << "window at " << x;
    }
}

TEST(RequestPacer, A429WithoutRetryAfterTeachesTheRealLimitAndWaitsOutTheWindow) {
    RequestPacer p({200, 5s});
    // Chatwoot allows 150 per window: 150 succeed, then 429s.
    int sent = 0;
    while (p.may_start(at(1.0)) && sent < 200) {
        p.on_start(at(1.0));
        p.on_response(at(1.0), sent < 150 ? 200 : 429, std::nullopt, at(1.0));
        ++sent;
    }
    EXPECT_EQ(sent, 151);            // the first 429 stops it at once
    EXPECT_EQ(p.limit(), 150);       // what fitted
    EXPECT_EQ(p.paused_until(), at(5.25));  // the end of Chatwoot's window, plus the clock margin
    EXPECT_FALSE(p.may_start(at(5.0)));
    // From then on: 150 per span of a window and its margin, no 429 (the 151 answered
    // at 1.0 leave the span at 6.02).
    EXPECT_EQ(burst(p, 5.25), 0);
    EXPECT_EQ(burst(p, 6.0), 0);
    EXPECT_EQ(burst(p, 6.02), 150);
    EXPECT_EQ(burst(p, 11.5), 150);
    EXPECT_EQ(p.throttled(), 1);
}

TEST(RequestPacer, ALearnedBudgetGrowsBackAfterCleanFullWindows) {
    RequestPacer p({200, 5s});
    p.on_start(at(0.1));
    p.on_response(at(0.1), 200, std::nullopt, at(0.1));
    p.on_start(at(0.2));
    p.on_response(at(0.2), 429, std::nullopt, at(0.2));
    EXPECT_EQ(p.limit(), 1);
    // Steady demand, no more 429s: every few clean full windows the budget grows.
    for (double t = 5.25; t < 200; t += 0.05) burst(p, t);
    EXPECT_GE(p.limit(), 3);
    EXPECT_LE(p.limit(), 8);
    // Never past the configured budget: reaching it forgets what was learned.
    RequestPacer q({200, 5s});
    q.on_start(at(0.1));
    q.on_response(at(0.1), 429, std::nullopt, at(0.1));  // nothing fitted: 1
    EXPECT_EQ(q.limit(), 1);
    q.configure({1, 5s});
    EXPECT_EQ(q.limit(), 1);
}

TEST(RequestPacer, RetryAfterPausesUntilThenAndTeachesNothing) {
    RequestPacer p({200, 60s});
    p.on_start(at(0));
    p.on_response(at(0), 429, std::chrono::seconds(30), at(1));
    EXPECT_EQ(p.paused_until(), at(31));
    EXPECT_EQ(p.limit(), 200);
    EXPECT_FALSE(p.may_start(at(30)));
    EXPECT_TRUE(p.may_start(at(31)));
}

TEST(RequestPacer, WithoutABudgetA429StillPacesTheIntegration) {
    RequestPacer p;  // a safelisted IP that turns out not to be
    EXPECT_EQ(burst(p, 3.0, 200, 40), 40);
    p.on_start(at(3.0));
    p.on_response(at(3.0), 429, std::nullopt, at(3.0));
    EXPECT_EQ(p.limit(), 40);
    EXPECT_EQ(p.paused_until(), at(61));  // a 60 s window aligned to the clock, plus 1 s margin
}

TEST(RequestPacer, AStray429DoesNotShrinkTheBudgetToNothing) {
    RequestPacer p({0, 5s});  // no budget: a safelisted IP
    EXPECT_EQ(burst(p, 0.5, 200, 500), 500);  // a full window, no 429
    p.on_start(at(5.1));
    p.on_response(at(5.1), 429, std::nullopt, at(5.1));  // one stray 429 at the start of the next
    EXPECT_EQ(p.limit(), 450);  // 90 % of what the previous window took
}
