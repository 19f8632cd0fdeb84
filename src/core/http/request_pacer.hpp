// Keeps one integration inside Chatwoot's rate limit. Chatwoot (rack-attack's req/ip
// throttle) counts requests per client IP in fixed windows aligned to the clock,
// 3,000 per 60 s by default, and answers 429 "Retry later" without Retry-After once a
// window is full (docs/SIMULATOR.md cites the code).
//
//  * A budget: a request may start while fewer than `limit` others are in flight or
//    were answered within the last `window + margin`. Chatwoot counts a request at
//    some moment between its start and its reply, so no window of Chatwoot's (aligned
//    to any clock) can see more than `limit`, whatever the latency: a request the
//    budget forgot was answered, so had arrived, a whole window before the next began.
//    The margin (20 ms at most) covers clock granularity: the bound does not depend
//    on where Chatwoot's windows start.
//  * Learning: a 429 that carries no Retry-After means the window is full: nothing
//    starts until it is over (by our clock, plus a margin for Chatwoot's: a twentieth
//    of the window, at most 1 s). When the next window is throttled too, the real
//    limit is lower than the budget (or the IP is shared): the requests that
//    succeeded in that clock window are what fits, and become the budget. One
//    throttled window alone teaches nothing, so a stray 429 (a proxy's burst) costs
//    the rest of a window, never the budget.
//  * Probing: once a learned budget is spent in a clock window, one more request at a
//    time may go; each that succeeds raises the learned budget by one (back to the
//    configured one, which is never passed), and a 429 sets it to what fitted in that
//    window (a probe's own 429 leaves it as it is). After such a 429 the next probe waits
//    2, 4, 8, then 16 windows (a success beyond that edge resets it), so a real
//    lower limit costs few 429s; a budget learned far too low grows back at one
//    request per round trip.
//  * A Retry-After (already clamped by parse_retry_after) pauses until then.
//  * Shared (share()): other processes spend the same budget (chatwoot.testar_conexao
//    in the app's backends; core/http/shared_budget.hpp). Every start also reserves
//    in the shared count of its clock window, up to the configured limit, and nothing
//    starts while others have filled it: the pacer learns their requests at once, with
//    no message. The pacer publishes its terms there (the learned limit included).
//
// Pure policy over a caller-supplied clock: the HTTP engine asks it before every start.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <optional>

namespace chatwoot::core {

struct SharedRequestWindow;

struct RequestBudget {
    int limit = 0;                       // requests per window; 0: no budget (a safelisted IP)
    std::chrono::seconds window{60};
    std::chrono::seconds max_pause{300};  // the longest a server's Retry-After is obeyed (the backoff cap)
};

class RequestPacer {
public:
    using Clock = std::chrono::system_clock;
    using TimePoint = Clock::time_point;
    using Budget = RequestBudget;
    static constexpr int kMostWindowsBetweenProbes = 16;
    // One request's start. Several requests may start at the same instant (the engine
    // reads the clock once per step), so a start is known by its ticket, not its time.
    struct Start {
        TimePoint at{};
        std::uint64_t ticket = 0;
    };
    explicit RequestPacer(Budget budget = {});

    // A new budget (configurar changed it). What 429s taught is kept while the window
    // stays the same, and capped by the new limit.
    void configure(Budget budget);

    bool may_start(TimePoint now);
    // The earliest time a request may start (now when it may).
    TimePoint next_start(TimePoint now);
    Start on_start(TimePoint now);
    // The reply to the request of `started` (status 0: no reply, a transport error).
    void on_response(const Start& started, long status, std::optional<std::chrono::seconds> retry_after,
                     TimePoint now);
    // The end of a request whose reply teaches nothing (a request under a limit of its
    // own, or one cut off): it stops being in flight.
    void on_done(const Start& started, TimePoint now);
    // Every reply's status, paced or not (status 0: none): counts a 429 in the shared
    // window's monitoring counter.
    void count_reply(long status);

    // Spend the budget together with other processes (nullptr: alone). The window must
    // outlive the pacer (it lives in shared memory).
    void share(SharedRequestWindow* shared);
    // Requests others reserved in the current clock window (0 when not shared).
    int external(TimePoint now) const;

    // The budget in force: the configured one, or the learned one when lower; 0 = none.
    int limit() const;
    std::chrono::seconds max_pause() const { return budget_.max_pause; }
    TimePoint paused_until() const { return paused_until_; }
    std::int64_t throttled() const { return throttled_; }
    std::chrono::milliseconds margin() const;        // added to the window for the budget
    std::chrono::milliseconds clock_margin() const;  // added to a clock window's end after a 429

private:
    TimePoint window_start(TimePoint t) const;
    void prune(TimePoint now);
    void close_windows(TimePoint now);
    bool reserve_shared(TimePoint now, int most);  // a start's place in the shared count

    SharedRequestWindow* shared_ = nullptr;
    std::optional<TimePoint> held_;               // the clock window of a shared reservation not yet started

    Budget budget_;
    int learned_ = 0;                             // 0: nothing learned
    std::set<std::uint64_t> in_flight_;           // tickets of requests not answered yet (under a budget)
    std::multiset<TimePoint> answered_;           // replies within the last window + margin (under a budget)
    std::map<TimePoint, int> ok_by_window_;       // replies other than 429, by the window their request started in
    std::set<TimePoint> throttled_windows_;       // recent windows that saw a 429
    TimePoint paused_until_{};
    TimePoint learned_in_window_{};               // the window whose 429 set learned_
    TimePoint current_window_{};                  // the clock window of the latest event
    int starts_in_window_ = 0;                    // requests started in it
    std::uint64_t next_ticket_ = 1;
    std::optional<std::uint64_t> probe_;          // the ticket of the probe in flight
    TimePoint probe_not_before_{};                // after a 429 at the learned edge
    int probe_rest_ = 0;                          // windows to wait after the next such 429
    int edge_ = 0;                                // the budget a probe last found too much
    std::int64_t throttled_ = 0;
};

}  // namespace chatwoot::core
