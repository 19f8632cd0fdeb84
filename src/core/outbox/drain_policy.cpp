#include "core/outbox/drain_policy.hpp"

#include <algorithm>

namespace chatwoot::core {

int DrainPolicy::max_in_flight() const { return std::max(1, max_concurrency); }

std::chrono::seconds DrainPolicy::lease() const {
    return std::chrono::seconds(std::max(60, request_timeout_ms * 8 / 1000));
}

bool DrainPolicy::lease_due_for_renewal(Clock::time_point claimed_at, Clock::time_point now) const {
    return claimed_at < now - lease() / 3;
}

int DrainPolicy::claim_size() const {
    int batch = std::max(1, batch_size);
    if (budget_limit <= 0 || budget_window.count() <= 0) return batch;
    long long per_claim = static_cast<long long>(budget_limit) * kClaimSeconds / budget_window.count();
    long long floor = max_in_flight();
    return static_cast<int>(std::min<long long>(batch, std::max(per_claim, floor)));
}

bool DrainPolicy::may_claim(std::size_t on_the_wire, bool http_wake_only, bool backlog_empty) const {
    if (http_wake_only && backlog_empty) return false;
    return on_the_wire < 2 * static_cast<std::size_t>(claim_size());
}

DrainPolicy::AfterClaim DrainPolicy::after_claim(int claimed, bool lotes_pending, bool claim_again,
                                                 std::size_t on_the_wire) const {
    AfterClaim out;
    out.backlog_empty = claimed < claim_size() && !lotes_pending && !claim_again;
    out.claim_again = claim_again ||
                      (!out.backlog_empty && on_the_wire < 2 * static_cast<std::size_t>(claim_size()) &&
                       claimed > 0);
    return out;
}

bool DrainPolicy::recording_due(std::size_t finished, bool untouched, bool on_the_wire_empty,
                                Clock::duration first_waited) const {
    if (finished == 0) return untouched;
    std::size_t group = static_cast<std::size_t>(std::max(1, claim_size() / 4));
    return finished >= group || on_the_wire_empty || first_waited >= kRecordDelay;
}

std::chrono::milliseconds DrainPolicy::record_within(Clock::duration first_waited) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kRecordDelay - first_waited);
    return std::max(std::chrono::milliseconds(0), left);
}

std::chrono::milliseconds DrainPolicy::throttled_wait(std::optional<std::chrono::seconds> retry_after) const {
    if (!retry_after) return std::chrono::milliseconds(0);
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::min(*retry_after, max_backoff));
}

DrainPolicy::BackOff DrainPolicy::after_record(const Tally& tally) {
    if (tally.successes == 0 && tally.transient_failures > 0 && tally.on_the_wire_empty && tally.shortest_backoff)
        return BackOff::start;
    if (tally.successes > 0) return BackOff::end;
    return BackOff::keep;
}

DrainPolicy::Pause DrainPolicy::pause(const Standing& standing) {
    Pause out;
    if (standing.no_connection) {
        out.kind = Pause::Kind::no_connection;  // quiet (nothing can be sent), not shown as a pause
        out.until_changed = true;
    } else if (standing.refused) {
        out.kind = Pause::Kind::refused;
        out.until_changed = out.shown = true;
        out.reason = "integração pausada: " + *standing.refused + " (chatwoot.configurar retoma)";
    } else if (standing.backing_off) {
        out.kind = Pause::Kind::backing_off;
        out.shown = true;
        out.reason = "todas as tentativas recentes falharam; os trabalhos aguardam a próxima tentativa";
    } else if (standing.pacer_paused) {
        out.kind = Pause::Kind::throttled;
        out.shown = true;
        out.reason = "limite de requisições do Chatwoot (orçamento " + std::to_string(standing.pacer_limit) +
                     " por janela)";
    }
    return out;
}

}  // namespace chatwoot::core
