// One request budget shared by processes: the worker's HTTP thread (its pacer) and
// chatwoot.testar_conexao() in any backend of the same database. Chatwoot counts
// requests per client IP in clock-aligned windows, whoever sends them, so both
// reserve in one count per clock window before a request starts.
//
// SharedRequestWindow is plain data (no constructor, zero bytes = empty), made to live
// in shared memory (the database's worker registry slot): every access is a lock-free
// atomic on a 64-bit word, so a reservation by one process is seen at once by the others.
//
//  * The count word holds a window's start (seconds since the epoch), the requests
//    reserved in it (worker and others) and those reserved by others. A reservation
//    for a newer window starts the count again; one for an older window (a process
//    whose clock lags) counts in the newer one.
//  * The terms word: the budget the worker's pacer runs by (its learned limit when
//    lower than the configured one), so testar_conexao follows what 429s taught.
//  * Two counters for monitoring (chatwoot.requisicoes_chatwoot()): the worker's
//    requests started and the 429s it received, since the worker's integration was set.
#pragma once
#include "core/http/request_pacer.hpp"

#include <chrono>
#include <cstdint>
#include <string>

namespace chatwoot::core {

struct SharedRequestWindow {
    static constexpr int kMostCounted = (1 << 20) - 1;    // a larger limit is counted up to this
    static constexpr int kMostExternal = (1 << 12) - 1;

    struct Usage {
        int used = 0;      // requests reserved in the window, by anyone
        int external = 0;  // ...by others than the worker (testar_conexao)
    };
    struct Terms {
        int limit = 0;  // 0: none published
        int window_s = 0;
    };

    // The worker's request: reserved when the window's count stays within `limit`.
    bool reserve_own(std::int64_t window_start, int limit);
    // The worker's request that starts anyway (a reservation held for an older window).
    void add_own(std::int64_t window_start);
    // `n` requests of another process: reserved when the count stays within `limit`
    // and the others' within `share`.
    bool reserve_external(std::int64_t window_start, int n, int limit, int share);
    Usage usage(std::int64_t window_start) const;

    void publish_terms(int limit, int window_s);
    Terms terms() const;

    struct Counts {
        std::int64_t sent = 0;       // requests started
        std::int64_t throttled = 0;  // 429s received
    };
    void count_sent();
    void count_throttled();
    Counts counts() const;
    void reset_counts();

    // Plain words, accessed only atomically (so the struct stays trivially copyable
    // for the registry's memset).
    std::uint64_t count_word;
    std::uint64_t terms_word;
    std::uint64_t sent_word;
    std::uint64_t throttled_word;
};

// chatwoot.testar_conexao()'s turn at the shared budget, for `requests` requests at
// `now`: at most a tenth of each window's budget (at least one call's requests), and
// only what the window has left. The budget is the connection's, capped by the
// worker's published terms when they are for the same window length.
struct ExternalTurn {
    bool refused = false;
    std::chrono::seconds retry_in{0};  // when refused: until the window ends
    int used = 0;                      // the window's count when refused
    int limit = 0;                     // the budget in force (0: none, never refused for budget)
    int share = 0;                     // the most others may take in a window
    std::chrono::seconds window{0};
    std::string message() const;       // Portuguese, for testar_conexao's "erro"
};
// The clock window (seconds since the epoch) that holds `t`, as Chatwoot aligns them.
std::int64_t clock_window_start(std::chrono::system_clock::time_point t, std::chrono::seconds window);
int external_share(int limit);
ExternalTurn take_external_turn(SharedRequestWindow& shared, RequestBudget budget, int requests,
                                std::chrono::system_clock::time_point now);

}  // namespace chatwoot::core
