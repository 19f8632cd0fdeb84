// The outbox worker's decisions that need no database: how long a lease lasts and
// when it is renewed, how much is kept on the wire, when finished jobs are recorded,
// how long a throttled job waits, and when the whole worker backs off. The PostgreSQL
// side (src/pg/outbox) applies them; the unit tests pin them down.
#pragma once
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace chatwoot::core {

struct DrainPolicy {
    using Clock = std::chrono::steady_clock;

    // Results wait at most this long, or until a quarter batch has finished, before
    // they are recorded: one transaction per group, not per job. Each recording has a
    // fixed cost (planning its statement, a commit that waits for the WAL flush), so
    // the groups are made large; a result waiting here is already in Chatwoot.
    static constexpr std::chrono::milliseconds kRecordDelay{100};

    int batch_size = 1;           // jobs per claim at most (>= 1)
    int request_timeout_ms = 5000;
    int max_concurrency = 16;     // requests in flight
    std::chrono::seconds max_backoff{300};
    int budget_limit = 0;                    // Chatwoot's requests per window; 0: none
    std::chrono::seconds budget_window{60};

    // Jobs per claim: the batch, but under a request budget no more than about
    // kClaimSeconds of it (a job is one request at least), and never fewer than a
    // round of requests in flight. What waits on the wire is what every job claimed
    // later waits behind: at Chatwoot's 50 requests a second, 4,000 jobs held in
    // memory would put a client inserted now minutes back.
    static constexpr int kClaimSeconds = 2;
    int claim_size() const;

    // Requests on the wire at once: at least one.
    int max_in_flight() const;
    // How long a claim holds a job: eight request timeouts, and never less than a minute.
    std::chrono::seconds lease() const;
    // A held job is renewed once a third of its lease is gone. A job is normally
    // recorded well under a second after its claim, so during a drain none is; the
    // jobs waiting out Chatwoot's rate limit are.
    bool lease_due_for_renewal(Clock::time_point claimed_at, Clock::time_point now) const;

    // Claim again while fewer than two claims are on the wire (the HTTP thread must
    // never run dry while the backend is in SQL). A wake from the HTTP thread alone
    // cannot bring new due jobs once the last claim found the backlog empty: only
    // commits and due times can.
    bool may_claim(std::size_t on_the_wire, bool http_wake_only, bool backlog_empty) const;

    struct AfterClaim {
        bool backlog_empty;  // the claim got fewer than it asked for, and no lote waits
        bool claim_again;    // claim at once, without sleeping
    };
    AfterClaim after_claim(int claimed, bool lotes_pending, bool claim_again, std::size_t on_the_wire) const;

    // Whether the finished jobs are recorded now: a quarter batch is waiting, nothing
    // else is on the wire, or the first waited kRecordDelay. Jobs handed back untouched
    // are always recorded at once.
    bool recording_due(std::size_t finished, bool untouched, bool on_the_wire_empty,
                       Clock::duration first_waited) const;
    // When the worker must wake to record what waits.
    static std::chrono::milliseconds record_within(Clock::duration first_waited);

    // A job cut by the worker or throttled by Chatwoot is pending again without losing
    // its attempt, after the Retry-After (capped by max_backoff) or at once.
    std::chrono::milliseconds throttled_wait(std::optional<std::chrono::seconds> retry_after) const;

    // After a group of results is recorded: when every attempt failed (Chatwoot is
    // down) and nothing else is on the wire, the worker backs off as long as the
    // shortest of their backoffs; one success ends a back-off.
    struct Tally {
        int successes = 0;
        int transient_failures = 0;
        bool on_the_wire_empty = true;
        std::optional<std::chrono::milliseconds> shortest_backoff;
    };
    enum class BackOff { keep, start, end };
    static BackOff after_record(const Tally& tally);

    // Why the worker is not sending now, if it is not, in the order that decides:
    // no connection, the connection refused (paused until it changes), every recent
    // attempt failed (backing off), Chatwoot's rate limit (the pacer's pause).
    struct Standing {
        bool no_connection = false;
        std::optional<std::string> refused;       // why Chatwoot refused the connection
        bool backing_off = false;
        bool pacer_paused = false;
        int pacer_limit = 0;                      // the budget in force
    };
    struct Pause {
        enum class Kind { sending, no_connection, refused, backing_off, throttled } kind = Kind::sending;
        bool until_changed = false;  // no end: until the connection changes
        bool shown = false;          // worker_status shows it as a pause (pausado_ate)
        std::string reason;          // worker_status.motivo_pausa (Portuguese)
    };
    static Pause pause(const Standing& standing);
};

}  // namespace chatwoot::core
