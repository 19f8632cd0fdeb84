#include "core/http/shared_budget.hpp"

#include <algorithm>

namespace chatwoot::core {

namespace {
// count_word: window start (32 bits) | used (20 bits) | external (12 bits).
constexpr std::uint64_t kUsedMask = (1u << 20) - 1;
constexpr std::uint64_t kExternalMask = (1u << 12) - 1;
static_assert(__atomic_always_lock_free(sizeof(std::uint64_t), 0), "the shared words must be lock-free");

struct Count {
    std::int64_t window;
    int used;
    int external;
};

Count unpack(std::uint64_t word) {
    return {static_cast<std::int64_t>(word >> 32), static_cast<int>((word >> 12) & kUsedMask),
            static_cast<int>(word & kExternalMask)};
}

std::uint64_t pack(const Count& c) {
    return (static_cast<std::uint64_t>(c.window) << 32) | (static_cast<std::uint64_t>(c.used) << 12) |
           static_cast<std::uint64_t>(c.external);
}

// The count as seen for `window_start`: a newer window's counts stand (a lagging
// clock counts there), an older one's are over.
Count as_of(std::uint64_t word, std::int64_t window_start) {
    Count c = unpack(word);
    if (c.window < window_start) return {window_start, 0, 0};
    return c;
}

// Adds (own, external) to the window when `fits` allows; a CAS loop on one word.
template <typename Fits>
bool add(std::uint64_t& word, std::int64_t window_start, int own, int external, Fits fits) {
    std::uint64_t seen = __atomic_load_n(&word, __ATOMIC_ACQUIRE);
    for (;;) {
        Count c = as_of(seen, window_start);
        if (!fits(c)) return false;
        c.used = static_cast<int>(std::min<std::int64_t>(kUsedMask, std::int64_t{c.used} + own + external));
        c.external = static_cast<int>(std::min<std::int64_t>(kExternalMask, std::int64_t{c.external} + external));
        if (__atomic_compare_exchange_n(&word, &seen, pack(c), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return true;
    }
}
}  // namespace

bool SharedRequestWindow::reserve_own(std::int64_t window_start, int limit) {
    int most = std::min(limit, kMostCounted);
    return add(count_word, window_start, 1, 0, [most](const Count& c) { return c.used + 1 <= most; });
}

void SharedRequestWindow::add_own(std::int64_t window_start) {
    add(count_word, window_start, 1, 0, [](const Count&) { return true; });
}

bool SharedRequestWindow::reserve_external(std::int64_t window_start, int n, int limit, int share) {
    int most = std::min(limit, kMostCounted);
    int most_external = std::min(share, kMostExternal);
    return add(count_word, window_start, 0, n, [=](const Count& c) {
        return c.used + n <= most && c.external + n <= most_external;
    });
}

SharedRequestWindow::Usage SharedRequestWindow::usage(std::int64_t window_start) const {
    Count c = as_of(__atomic_load_n(&count_word, __ATOMIC_ACQUIRE), window_start);
    return {c.used, c.external};
}

void SharedRequestWindow::publish_terms(int limit, int window_s) {
    std::uint64_t word = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(std::max(0, limit))) << 32) |
                         static_cast<std::uint32_t>(std::max(0, window_s));
    // Read first: the pacer publishes before every start, and an unchanged word is
    // not written (no cache line bouncing between processes).
    if (__atomic_load_n(&terms_word, __ATOMIC_RELAXED) != word) __atomic_store_n(&terms_word, word, __ATOMIC_RELEASE);
}

SharedRequestWindow::Terms SharedRequestWindow::terms() const {
    std::uint64_t word = __atomic_load_n(&terms_word, __ATOMIC_ACQUIRE);
    return {static_cast<int>(word >> 32), static_cast<int>(word & 0xffffffffu)};
}

void SharedRequestWindow::count_sent() { __atomic_fetch_add(&sent_word, 1, __ATOMIC_RELAXED); }
void SharedRequestWindow::count_throttled() { __atomic_fetch_add(&throttled_word, 1, __ATOMIC_RELAXED); }

SharedRequestWindow::Counts SharedRequestWindow::counts() const {
    return {static_cast<std::int64_t>(__atomic_load_n(&sent_word, __ATOMIC_RELAXED)),
            static_cast<std::int64_t>(__atomic_load_n(&throttled_word, __ATOMIC_RELAXED))};
}

void SharedRequestWindow::reset_counts() {
    __atomic_store_n(&sent_word, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&throttled_word, 0, __ATOMIC_RELAXED);
}

std::int64_t clock_window_start(std::chrono::system_clock::time_point t, std::chrono::seconds window) {
    auto since_epoch = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
    auto w = std::max<std::int64_t>(1, window.count());
    return since_epoch - (since_epoch % w + w) % w;
}

// A tenth of the window: a loop of testar_conexao slows the worker's jobs by at most
// that much, and one call (two requests) always fits.
int external_share(int limit) { return std::min(SharedRequestWindow::kMostExternal, std::max(2, limit / 10)); }

ExternalTurn take_external_turn(SharedRequestWindow& shared, RequestBudget budget, int requests,
                                std::chrono::system_clock::time_point now) {
    ExternalTurn turn;
    turn.window = std::max(std::chrono::seconds(1), budget.window);
    turn.limit = budget.limit;
    SharedRequestWindow::Terms terms = shared.terms();
    if (terms.limit > 0 && terms.window_s == turn.window.count() && turn.limit > 0)
        turn.limit = std::min(turn.limit, terms.limit);
    if (turn.limit <= 0) return turn;  // no budget (a safelisted IP): nothing to share
    turn.share = external_share(turn.limit);
    // A budget under one call's requests: the call still goes, as one budget's worth.
    int n = std::min(requests, turn.limit);
    std::int64_t window = clock_window_start(now, turn.window);
    if (shared.reserve_external(window, n, turn.limit, turn.share)) return turn;
    turn.refused = true;
    turn.used = shared.usage(window).used;
    auto end = std::chrono::system_clock::time_point(std::chrono::seconds(window) + turn.window);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
    turn.retry_in = std::chrono::seconds(std::max<std::int64_t>(1, (left + 999) / 1000));
    return turn;
}

std::string ExternalTurn::message() const {
    return "orçamento de requisições ao Chatwoot esgotado; tente de novo em " + std::to_string(retry_in.count()) +
           " s (janela de " + std::to_string(window.count()) + " s: " + std::to_string(used) + " de " +
           std::to_string(limit) + " usadas; testar_conexao usa no máximo " + std::to_string(share) + ")";
}

}  // namespace chatwoot::core
