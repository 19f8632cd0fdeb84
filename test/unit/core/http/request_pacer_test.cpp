#include "core/http/request_pacer.hpp"

#include "core/http/shared_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>
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
        p.on_response(p.on_start(at(now)), status, std::nullopt, at(now));
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
            q.on_response(q.on_start(at(t)), 200, std::nullopt, at(t));
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
    std::multimap<double, std::pair<double, RequestPacer::Start>> pending;  // reply time -> start
    std::uint32_t seed = 12345;
    auto latency = [&seed] {
        seed = seed * 1103515245u + 12345u;
        double u = ((seed >> 8) % 10000) / 10000.0;
        return u < 0.8 ? u * 0.05 : u * 4.0;  // mostly fast, some up to 4 s
    };
    for (double t = 0; t < 120; t += 0.001) {
        while (!pending.empty() && pending.begin()->first <= t) {
            p.on_response(pending.begin()->second.second, 200, std::nullopt, at(pending.begin()->first));
            done.push_back({pending.begin()->second.first, pending.begin()->first});
            pending.erase(pending.begin());
        }
        while (p.may_start(at(t))) {
            auto start = p.on_start(at(t));
            pending.emplace(t + latency(), std::make_pair(t, start));
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

// Sends while the pacer lets it at `now`, against Chatwoot allowing `allowed` in the
// clock window of `now`: `sent_in_window` counts what Chatwoot saw there. Returns the
// number answered 429.
int against_limit(RequestPacer& p, double now, int allowed, int& sent_in_window, int most = 100000) {
    int throttled = 0;
    for (int n = 0; n < most && p.may_start(at(now)); ++n) {
        auto start = p.on_start(at(now));
        bool ok = sent_in_window++ < allowed;
        p.on_response(start, ok ? 200 : 429, std::nullopt, at(now));
        throttled += ok ? 0 : 1;
    }
    return throttled;
}

TEST(RequestPacer, TwoThrottledWindowsInARowTeachTheRealLimit) {
    RequestPacer p({200, 5s});
    // Chatwoot allows 150 per window: 150 succeed, then a 429.
    int seen = 0;
    EXPECT_EQ(against_limit(p, 1.0, 150, seen), 1);
    EXPECT_EQ(seen, 151);            // the first 429 stops it at once
    EXPECT_EQ(p.limit(), 200);       // one throttled window teaches nothing yet...
    EXPECT_EQ(p.paused_until(), at(5.25));  // ...but waits out Chatwoot's window, plus the clock margin
    EXPECT_FALSE(p.may_start(at(5.0)));
    seen = 0;
    EXPECT_EQ(against_limit(p, 5.25, 150, seen), 0);  // the 151 answered at 1.0 are still in the span
    EXPECT_EQ(against_limit(p, 6.02, 150, seen), 1);  // the next window is throttled too
    EXPECT_EQ(p.limit(), 150);       // what fitted
    EXPECT_EQ(p.paused_until(), at(10.25));
    // From then on: 150 per window, and a probe beyond them (answered 429) in the next
    // window, then 2, 4, 8 ... windows later.
    std::vector<int> probed;
    for (double t = 11.1; t < 80; t += 5) {
        seen = 0;
        int throttled = 0;
        // The previous window's answers leave the span 20 ms after their offset.
        for (double dt = 0; dt < 2; dt += 0.05) throttled += against_limit(p, t + dt, 150, seen);
        probed.push_back(throttled);
        EXPECT_EQ(seen, 150 + throttled) << t;
        EXPECT_EQ(p.limit(), 150) << t;
    }
    // Windows starting at:  10 15 20 25 30 35 40 45 50 55 60 65 70 75
    EXPECT_EQ(probed, (std::vector<int>{1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}));
}

// A Chatwoot that allows 150 per 5 s window, a pacer with a budget of 200 and steady
// demand, requests answered 0.1 to 0.3 s after they start: over 200 windows, at most
// 2 % are answered 429 and at least 90 % of Chatwoot's limit is used.
TEST(RequestPacer, UnderALowerLimitFewerThanTwoPercentAre429InSteadyState) {
    RequestPacer p({200, 5s});
    std::multimap<double, std::pair<double, RequestPacer::Start>> in_flight;  // reply time -> start
    std::map<long, int> counted;  // Chatwoot's count per clock window
    int sent = 0, throttled = 0, ok = 0;
    int steady_sent = 0, steady_throttled = 0;
    for (int tick = 0; tick < 200 * 500; ++tick) {  // 10 ms steps
        double now = tick * 0.01;
        while (!in_flight.empty() && in_flight.begin()->first <= now) {
            auto [reply, start] = *in_flight.begin();
            auto [started, ticket] = start;
            in_flight.erase(in_flight.begin());
            // Chatwoot counts the request when it arrives, half-way.
            long window = static_cast<long>((started + reply) / 2 / 5);
            bool allowed = ++counted[window] <= 150;
            p.on_response(ticket, allowed ? 200 : 429, std::nullopt, at(reply));
            if (!allowed) {
                ++throttled;
                if (started >= 100) ++steady_throttled;
            } else {
                ++ok;
            }
        }
        while (in_flight.size() < 16 && p.may_start(at(now))) {
            auto ticket = p.on_start(at(now));
            in_flight.emplace(now + 0.1 + 0.2 * ((tick * 7 + sent * 13) % 11) / 10.0, std::make_pair(now, ticket));
            ++sent;
            if (now >= 100) ++steady_sent;
        }
    }
    EXPECT_LE(steady_throttled * 50, steady_sent) << steady_throttled << " of " << steady_sent;
    EXPECT_GE(ok, 150 * 200 * 9 / 10) << ok;
    EXPECT_LT(throttled, sent);
}

// Two throttled windows in a row, one request fitting in the second: a budget of one.
static void teach_a_budget_of_one(RequestPacer& p) {
    p.on_response(p.on_start(at(0.1)), 429, std::nullopt, at(0.1));
    p.on_response(p.on_start(at(5.3)), 200, std::nullopt, at(5.3));
    p.on_response(p.on_start(at(5.4)), 429, std::nullopt, at(5.4));
}

// A burst of 429s that spans two windows (a proxy's) teaches a budget far too low:
// probing wins it back, one request per round trip, up to the configured one.
TEST(RequestPacer, ALearnedBudgetFarTooLowGrowsBackByProbing) {
    RequestPacer p({200, 5s});
    teach_a_budget_of_one(p);
    EXPECT_EQ(p.limit(), 1);
    // In a later window (the answers of 5.3 and 5.4 have left the span at 10.42): the
    // budget of one, then a probe, and never two probes at once.
    EXPECT_TRUE(p.may_start(at(11.0)));
    auto regular = p.on_start(at(11.0));
    EXPECT_TRUE(p.may_start(at(11.0)));  // the budget is spent in this clock window: a probe
    auto probe = p.on_start(at(11.01));
    EXPECT_FALSE(p.may_start(at(11.02)));  // the probe is unanswered
    p.on_response(probe, 200, std::nullopt, at(11.03));
    EXPECT_EQ(p.limit(), 2);  // it succeeded: one more fits
    p.on_response(regular, 200, std::nullopt, at(11.03));
    // Each probe that succeeds adds one, until the configured budget is in force again:
    // 200 in the window in all.
    EXPECT_EQ(burst(p, 11.1), 198);
    EXPECT_EQ(p.limit(), 200);
    EXPECT_EQ(burst(p, 11.2), 0);
    // Never past the configured budget.
    RequestPacer q({200, 5s});
    q.configure({1, 5s});
    EXPECT_EQ(q.limit(), 1);
}

// The engine reads the clock once per step, so a regular request and a probe can start
// in the same instant. The regular one's reply is not the probe's: it must neither grow
// the budget nor let a second probe go while the first is on the wire (chatwoot_real
// once saw two requests past the budget at once, both 429).
TEST(RequestPacer, AProbeIsKnownByItsTicketNotItsStartTime) {
    RequestPacer p({200, 5s});
    teach_a_budget_of_one(p);
    ASSERT_EQ(p.limit(), 1);
    ASSERT_TRUE(p.may_start(at(11.0)));
    auto regular = p.on_start(at(11.0));
    ASSERT_TRUE(p.may_start(at(11.0)));
    auto probe = p.on_start(at(11.0));
    EXPECT_NE(regular.ticket, probe.ticket);
    p.on_response(regular, 200, std::nullopt, at(11.01));
    EXPECT_EQ(p.limit(), 1);                // the probe has not been answered
    EXPECT_FALSE(p.may_start(at(11.01)));   // and it is still the only one
    p.on_response(probe, 429, std::nullopt, at(11.02));
    EXPECT_EQ(p.limit(), 1);                // its 429 leaves the budget as it was
    EXPECT_FALSE(p.may_start(at(11.03)));   // the rest of Chatwoot's window is waited out
}

TEST(RequestPacer, RetryAfterPausesUntilThenAndTeachesNothing) {
    RequestPacer p({200, 60s});
    p.on_response(p.on_start(at(0)), 429, std::chrono::seconds(30), at(1));
    EXPECT_EQ(p.paused_until(), at(31));
    EXPECT_EQ(p.limit(), 200);
    EXPECT_FALSE(p.may_start(at(30)));
    EXPECT_TRUE(p.may_start(at(31)));
}

TEST(RequestPacer, WithoutABudgetA429StillPacesTheIntegration) {
    RequestPacer p;  // a safelisted IP that turns out not to be
    EXPECT_EQ(burst(p, 3.0, 200, 40), 40);
    p.on_response(p.on_start(at(3.0)), 429, std::nullopt, at(3.0));
    EXPECT_EQ(p.paused_until(), at(61));  // a 60 s window aligned to the clock, plus 1 s margin
    EXPECT_EQ(p.limit(), 0);
    EXPECT_EQ(burst(p, 61.0, 200, 40), 40);
    p.on_response(p.on_start(at(61.0)), 429, std::nullopt, at(61.0));  // the next window is throttled too
    EXPECT_EQ(p.limit(), 40);
    EXPECT_EQ(p.paused_until(), at(121));
}

TEST(RequestPacer, AStray429CostsTheRestOfTheWindowNeverTheBudget) {
    RequestPacer p({0, 5s});  // no budget: a safelisted IP
    EXPECT_EQ(burst(p, 0.5, 200, 500), 500);  // a full window, no 429
    p.on_response(p.on_start(at(5.1)), 429, std::nullopt, at(5.1));  // one stray 429 at the start of the next
    EXPECT_EQ(p.paused_until(), at(10.25));
    EXPECT_EQ(p.limit(), 0);
    EXPECT_EQ(burst(p, 10.25, 200, 500), 500);  // the window after it runs at full speed
    RequestPacer q({3000, 60s});  // a budget: the same
    EXPECT_EQ(burst(q, 0.5, 200, 20), 20);
    q.on_response(q.on_start(at(0.6)), 429, std::nullopt, at(0.6));
    EXPECT_EQ(q.limit(), 3000);
    EXPECT_EQ(q.paused_until(), at(61));
    EXPECT_EQ(burst(q, 61.0), 3000);  // the window after it: the whole budget
}

// --- A budget shared with other processes (chatwoot.testar_conexao; core/http/shared_budget.hpp) ---

namespace {
std::int64_t window_of(double seconds, std::chrono::seconds window = 5s) { return clock_window_start(at(seconds), window); }
}  // namespace

TEST(SharedBudget, OthersRequestsHoldThePacersStartsUntilTheNextClockWindow) {
    SharedRequestWindow shared{};
    RequestPacer p({10, 5s});
    p.share(&shared);
    EXPECT_TRUE(shared.reserve_external(window_of(0.2), 4, 10, 10));  // testar_conexao, twice
    EXPECT_EQ(p.external(at(0.5)), 4);  // the pacer learns them with no message
    EXPECT_EQ(burst(p, 0.5), 6);        // the rest of the window's budget
    EXPECT_EQ(shared.usage(window_of(0.5)).used, 10);
    EXPECT_FALSE(p.may_start(at(4.9)));
    EXPECT_EQ(p.next_start(at(1.0)), at(5.0));  // the shared count is full until the clock window ends
    // The next window: only the pacer's own span holds it (6 answered at 0.5, 4 free).
    EXPECT_EQ(p.external(at(5.0)), 0);
    EXPECT_EQ(burst(p, 5.0), 4);
    EXPECT_EQ(burst(p, 5.6), 6);
    // Alone, the same pacer would have sent all 10 in the first window.
    RequestPacer alone({10, 5s});
    EXPECT_EQ(burst(alone, 0.5), 10);
}

TEST(SharedBudget, ThePacersStartsFillTheSharedCountSoOthersAreRefusedWithoutARequest) {
    SharedRequestWindow shared{};
    RequestPacer p({10, 5s});
    p.share(&shared);
    EXPECT_EQ(burst(p, 0.5), 10);
    EXPECT_EQ(shared.usage(window_of(0.5)).used, 10);
    ExternalTurn turn = take_external_turn(shared, {10, 5s}, 2, at(1.2));
    EXPECT_TRUE(turn.refused);
    EXPECT_EQ(turn.retry_in, 4s);  // 3.8 s left, rounded up
    EXPECT_EQ(turn.message(),
              "orçamento de requisições ao Chatwoot esgotado; tente de novo em 4 s "
              "(janela de 5 s: 10 de 10 usadas; testar_conexao usa no máximo 2)");
    EXPECT_EQ(shared.usage(window_of(1.2)).used, 10);  // a refusal reserves nothing
    EXPECT_FALSE(take_external_turn(shared, {10, 5s}, 2, at(5.0)).refused);  // the next window
    EXPECT_EQ(shared.usage(window_of(5.0)).external, 2);
}

TEST(SharedBudget, OthersTakeAtMostATenthOfEachWindow) {
    SharedRequestWindow shared{};
    RequestPacer p({100, 60s});
    p.share(&shared);
    EXPECT_EQ(external_share(100), 10);
    EXPECT_EQ(external_share(3000), 300);
    EXPECT_EQ(external_share(5), 2);  // one call always fits a budget that holds two
    int calls = 0;
    for (double t = 0.1; t < 59; t += 0.1) calls += take_external_turn(shared, {100, 60s}, 2, at(t)).refused ? 0 : 1;
    EXPECT_EQ(calls, 5);  // a loop: 5 calls of 2 requests in the window, every other refused
    EXPECT_EQ(burst(p, 30.0), 90);  // the worker keeps the other nine tenths
    ExternalTurn late = take_external_turn(shared, {100, 60s}, 2, at(59.5));
    EXPECT_TRUE(late.refused);
    EXPECT_EQ(late.used, 100);
    EXPECT_EQ(late.retry_in, 1s);
}

TEST(SharedBudget, AReservationHeldAcrossQuestionsIsCountedOnce) {
    SharedRequestWindow shared{};
    RequestPacer p({10, 5s});
    p.share(&shared);
    EXPECT_TRUE(p.may_start(at(0.1)));
    EXPECT_TRUE(p.may_start(at(0.2)));  // the engine asks again before it starts
    EXPECT_EQ(shared.usage(window_of(0.2)).used, 1);
    p.on_response(p.on_start(at(0.3)), 200, std::nullopt, at(0.3));
    EXPECT_EQ(shared.usage(window_of(0.3)).used, 1);
    // A start the pacer was not asked about counts anyway.
    p.on_response(p.on_start(at(0.4)), 200, std::nullopt, at(0.4));
    EXPECT_EQ(shared.usage(window_of(0.4)).used, 2);
}

TEST(SharedBudget, OthersFollowTheBudgetThePacerLearned) {
    SharedRequestWindow shared{};
    RequestPacer p({40, 5s});
    p.share(&shared);
    EXPECT_TRUE(p.may_start(at(0.1)));
    EXPECT_EQ(shared.terms().limit, 40);
    EXPECT_EQ(shared.terms().window_s, 5);
    // Chatwoot allows 20: two throttled windows teach it.
    EXPECT_EQ(burst(p, 0.2, 200, 20), 20);
    p.on_response(p.on_start(at(0.3)), 429, std::nullopt, at(0.3));
    EXPECT_EQ(burst(p, 5.3, 200, 20), 20);
    p.on_response(p.on_start(at(5.4)), 429, std::nullopt, at(5.4));
    EXPECT_EQ(p.limit(), 20);
    EXPECT_TRUE(p.may_start(at(10.5)));
    EXPECT_EQ(shared.terms().limit, 20);
    ExternalTurn turn = take_external_turn(shared, {40, 5s}, 2, at(10.6));
    EXPECT_FALSE(turn.refused);
    EXPECT_EQ(turn.limit, 20);
    // Terms for another window length are not the connection's: its own budget stands.
    EXPECT_EQ(take_external_turn(shared, {40, 60s}, 2, at(10.6)).limit, 40);
    // No budget (a safelisted IP): nothing is counted, nothing refused.
    SharedRequestWindow none{};
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(take_external_turn(none, {0, 60s}, 2, at(0.5)).refused);
    EXPECT_EQ(none.usage(window_of(0.5, 60s)).used, 0);
}

TEST(SharedBudget, ALaggingClockCountsInTheNewerWindow) {
    SharedRequestWindow shared{};
    EXPECT_TRUE(shared.reserve_own(window_of(5.1), 3));
    EXPECT_TRUE(shared.reserve_external(window_of(4.9), 2, 3, 2));  // a process whose clock is behind
    EXPECT_EQ(shared.usage(window_of(5.1)).used, 3);
    EXPECT_FALSE(shared.reserve_own(window_of(5.2), 3));
    EXPECT_TRUE(shared.reserve_own(window_of(10.0), 3));  // a new window starts from zero
    EXPECT_EQ(shared.usage(window_of(10.0)).used, 1);
    EXPECT_EQ(shared.usage(window_of(15.0)).used, 0);
}

TEST(SharedBudget, ConcurrentReservationsNeverPassTheLimit) {
    SharedRequestWindow shared{};
    std::int64_t window = window_of(0.0);
    std::atomic<int> own{0}, external{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 20000; ++i) {
                if (t % 2 == 0) {
                    if (shared.reserve_own(window, 1000)) ++own;
                } else if (shared.reserve_external(window, 2, 1000, 100)) {
                    external += 2;
                }
            }
        });
    for (auto& th : threads) th.join();
    EXPECT_EQ(own + external, 1000);
    EXPECT_LE(external.load(), 100);
    EXPECT_EQ(shared.usage(window).used, 1000);
    EXPECT_EQ(shared.usage(window).external, external.load());
}

// Monitoring (chatwoot.requisicoes_chatwoot()): every start and every 429 is counted in
// the shared window, paced or not, and a reset starts the counts again.
TEST(SharedBudget, CountsEveryStartAndEvery429ForMonitoring) {
    SharedRequestWindow shared{};
    RequestPacer p({10, 5s});
    p.share(&shared);
    EXPECT_EQ(burst(p, 0.5, 200, 4), 4);
    EXPECT_EQ(burst(p, 0.6, 429, 3), 1);  // a 429 holds the rest until the window ends
    p.count_reply(200);
    p.count_reply(429);  // a request under a limit of its own (search) answered 429
    EXPECT_EQ(shared.counts().sent, 5);
    EXPECT_EQ(shared.counts().throttled, 1);  // on_response counts nothing: the engine reports each reply once
    RequestPacer unpaced;  // no budget: still counted
    unpaced.share(&shared);
    EXPECT_EQ(burst(unpaced, 1.0, 200, 5), 5);
    EXPECT_EQ(shared.counts().sent, 10);
    shared.reset_counts();
    EXPECT_EQ(shared.counts().sent, 0);
    EXPECT_EQ(shared.counts().throttled, 0);
}
