// boundary: c++-style
// Drains chatwoot.fila, whatever the kind of its jobs (job_kind.hpp: the kinds load,
// plan and record their own work; this file claims, leases, takes parties out of
// lotes, records results, retries, keeps dead letters and paces). Jobs flow: claimed (commit) -> on the wire in the HTTP
// thread (core::ThreadedRunner, no transaction open) -> finished, waiting to be
// recorded -> recorded in one transaction (commit). Up to two batches are on the
// wire at once, so claiming the next batch and recording the last results overlap
// the network, and the window of requests in flight is refilled as slots free.
//
// When the worker cannot send (no connection; Chatwoot refused the connection and
// the integration is paused; the request budget is spent; every recent attempt
// failed and the due jobs back off) it tells the registry to stop waking it for
// every commit (set_worker_quiet_until): a stream of app commits then costs it
// nothing, and a change of the connection still wakes it at once.
#include "pg/outbox/outbox.hpp"

#include "core/chatwoot/chatwoot_api.hpp"
#include "core/http/threaded_runner.hpp"
#include "core/outbox/drain_policy.hpp"
#include "core/outbox/retry_policy.hpp"
#include "core/text/text.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/connections/connection.hpp"
#include "pg/outbox/change_log.hpp"
#include "pg/outbox/job_kind.hpp"
#include "pg/outbox/outbox_table.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>

namespace chatwoot::pg {

namespace {

using core::Outcome;
using Clock = std::chrono::steady_clock;

// `secs` (an SQL expression) seconds from now. Every operator and function of this
// file's SQL is qualified (pg/boundary/qualified_sql.hpp).
#define SQL_SECONDS_FROM_NOW(secs) \
    "pg_catalog.now() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => " secs ")"

// How soon an inbox whose channel could not be read is asked again.
constexpr auto kInboxRetry = std::chrono::seconds(60);

// What one claim shares: the connection, and the request factory its operations
// point into (kept alive until the last of them is recorded).
struct Batch {
    Connection conn;
    std::unique_ptr<core::RequestFactory> requests;
    Clock::time_point claimed_at = Clock::now();  // when its jobs' leases were set
};

// One job held by this worker: what its kind planned, and its claim.
struct Plan {
    std::unique_ptr<PlannedJob> planned;
    std::shared_ptr<Batch> batch;
    JobKind* kind = nullptr;  // nullptr: a tipo no kind drains
    const Job& job() const { return planned->job; }
};

// Worker-local state that outlives a cycle (process memory, never shared memory).
struct DrainState {
    std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t cycles = 0;
    bool cycle_in_progress = false;      // still set when a cycle starts: the last one raised an ERROR
    bool backlog_empty = true;           // the last claim got fewer jobs than it asked for
    bool lotes_pending = false;          // a short claim left lote jobs unclaimed
    bool waiting_for_held = false;       // a due job was skipped: its party had a job in flight
    Clock::time_point next_lease_check{};  // leases are renewed / looked for every few seconds
    // The connection as the worker last used it.
    bool generation_known = false;
    std::uint32_t generation = 0;        // chatwoot.integracoes changes seen (registry counter)
    core::RequestBudget budget;          // Chatwoot's request budget: it bounds a claim
    std::optional<std::int64_t> inbox_probed;  // the default inbox whose channel `inbox` holds (or is being asked)
    std::unique_ptr<core::InboxProbeOperation> probe;  // on the HTTP thread, for this connection:
    Connection probe_conn;                             // nothing is claimed until it is back
    std::uint32_t probe_generation = 0;
    std::optional<core::InboxTarget> inbox;
    std::string inbox_warning;
    Clock::time_point inbox_retry_at{};
    // Why the worker is not sending now, if it is not.
    bool no_connection = false;
    std::optional<std::string> paused;   // the integration is paused (until the connection changes)
    Clock::time_point backing_off_until{};  // every recent attempt failed: due jobs back off
    std::string mapping_warnings;
    std::map<std::string, Clock::time_point> noted_warnings;  // note_drain_warning
    std::unordered_map<core::HttpOperation*, std::unique_ptr<Plan>> on_the_wire;
    std::vector<std::unique_ptr<Plan>> to_record;
    Clock::time_point first_to_record{};
    std::vector<std::int64_t> untouched;  // handed back before any request: requeue, no attempt counted
    // Declared last so it is destroyed first: its thread may still point into the plans.
    std::unique_ptr<core::ThreadedRunner> runner;
    ~DrainState() { runner.reset(); }
};
DrainState state;

core::DrainPolicy drain_policy() {
    core::DrainPolicy policy;
    policy.batch_size = std::max(1, settings.batch_size);
    policy.request_timeout_ms = settings.request_timeout_ms;
    policy.max_concurrency = settings.max_concurrency;
    policy.max_backoff = std::chrono::seconds(settings.max_backoff_s);
    policy.budget_limit = state.budget.limit;  // the connection's, as last loaded
    policy.budget_window = state.budget.window;
    return policy;
}

core::BackoffPolicy backoff_policy() {
    core::BackoffPolicy policy;
    policy.cap = std::chrono::seconds(settings.max_backoff_s);
    return policy;
}

// Every job this worker holds: on the wire, or finished and waiting to be recorded.
template <typename Visit>
void for_each_held_plan(Visit visit) {
    for (auto& [op, plan] : state.on_the_wire) visit(static_cast<const Plan&>(*plan));
    for (auto& plan : state.to_record) visit(static_cast<const Plan&>(*plan));
}

std::vector<std::int64_t> held_job_ids() {
    std::vector<std::int64_t> ids;
    ids.reserve(state.on_the_wire.size() + state.to_record.size());
    for_each_held_plan([&ids](const Plan& plan) { ids.push_back(plan.job().id); });
    return ids;
}

int lease_seconds() { return static_cast<int>(drain_policy().lease().count()); }

// The held jobs whose lease is a third gone. A job is normally recorded well under a
// second after its claim, so during a drain this is empty and no lease is rewritten
// (renewing every held job every few seconds rewrote thousands of rows each time);
// jobs waiting out Chatwoot's rate limit are the ones renewed.
std::vector<std::int64_t> jobs_due_for_renewal() {
    core::DrainPolicy policy = drain_policy();
    auto now = Clock::now();
    std::vector<std::int64_t> ids;
    for_each_held_plan([&](const Plan& plan) {
        if (plan.batch && policy.lease_due_for_renewal(plan.batch->claimed_at, now)) ids.push_back(plan.job().id);
    });
    return ids;
}

// A read that must walk the due-jobs index in order. Statistics on this fast-changing
// table are always stale, and the planner, thinking the backlog tiny, would read and
// sort all of it; with sorting off it walks the index and stops at the LIMIT.
SqlRows rows_in_due_order(const char* sql, const std::vector<SqlArg>& args = {}) {
    return rows_without({"enable_sort"}, sql, args);
}

// Jobs left 'processando' by a worker that died (or by this one, before an ERROR
// reset it) are put back, or dropped when a newer pending job for the same party
// exists: it will send fresher data. At start-up and after a reset every such job is
// orphaned (one worker per database), so all are requeued at once; otherwise every
// few seconds the leases of the jobs this worker has held for long are renewed and
// any other expired lease is requeued.
void requeue_orphaned_jobs(bool all) {
    if (!all && Clock::now() < state.next_lease_check) return;
    state.next_lease_check = Clock::now() + std::chrono::seconds(5);
    std::vector<std::int64_t> held = all ? std::vector<std::int64_t>{} : held_job_ids();
    std::vector<std::int64_t> renew = all ? std::vector<std::int64_t>{} : jobs_due_for_renewal();
    if (!renew.empty()) {
        sql_exec("UPDATE chatwoot.fila SET bloqueado_ate = " SQL_SECONDS_FROM_NOW("$2") " "
                 "WHERE id OPERATOR(pg_catalog.=) ANY ($1) AND estado OPERATOR(pg_catalog.=) 'processando'",
                 {arg_int8_array(renew), arg_int4(lease_seconds())});
    }
    const char* orphaned = all ? "f.estado OPERATOR(pg_catalog.=) 'processando'"
                               : "f.estado OPERATOR(pg_catalog.=) 'processando' AND "
                                 "f.bloqueado_ate OPERATOR(pg_catalog.<) pg_catalog.now() AND "
                                 "f.id OPERATOR(pg_catalog.<>) ALL ($1)";
    std::vector<SqlArg> args;
    if (!all) args.push_back(arg_int8_array(held));
    drop_superseded(orphaned, args);
    std::string requeue = std::string("UPDATE chatwoot.fila f SET estado = 'pendente', bloqueado_ate = NULL, "
                                      "atualizado_em = pg_catalog.now(), ultimo_erro = 'worker interrompido durante "
                                      "o envio; reenfileirado' WHERE ") + orphaned;
    sql_exec(requeue.c_str(), args);
}

void housekeeping(bool startup) {
    requeue_orphaned_jobs(startup);
    if (state.cycles % 50 == 0 && settings.retention_s >= 0) {
        sql_exec(
            "DELETE FROM chatwoot.fila WHERE id OPERATOR(pg_catalog.=) ANY (SELECT id FROM chatwoot.fila "
            "WHERE estado OPERATOR(pg_catalog.=) 'concluido' AND concluido_em OPERATOR(pg_catalog.<) "
            "(pg_catalog.now() OPERATOR(pg_catalog.-) pg_catalog.make_interval(secs => $1)) LIMIT 10000)",
            {arg_int8(settings.retention_s)});
    }
}

using PartyKey = std::pair<std::string, std::int64_t>;

std::set<PartyKey> held_parties() {
    std::set<PartyKey> held;
    for_each_held_plan([&held](const Plan& plan) { held.emplace(plan.job().tipo_entidade, plan.job().entidade_id); });
    return held;
}

Job job_from_row(const SqlRow& r) {  // id, tipo, tipo_entidade, entidade_id, tentativas
    Job j;
    j.id = r.int8(0);
    j.tipo = r.text(1);
    j.tipo_entidade = r.text(2);
    j.entidade_id = r.int8(3);
    j.tentativas = static_cast<int>(r.int8(4));
    return j;
}

// Claims up to `batch` due jobs, in two lanes walking the due-jobs index from both
// ends: most of the batch oldest first (nothing starves), a quarter newest first, so
// a party edited now is not queued behind a bulk UPDATE's million jobs (at 50
// requests a second, hours of them). Then they are leased by id (the cost does not
// depend on the backlog). Parties this worker already holds a job for are skipped
// (never two jobs of one party in flight): every 'processando' job belongs to this
// worker, as there is one worker per database and start-up requeues a dead one's jobs.
#define DUE_JOBS_IN_ORDER(order)                                                              \
    "SELECT id, tipo_entidade, entidade_id FROM chatwoot.fila "                               \
    "WHERE " OUTBOX_PENDING_JOB " AND executar_apos OPERATOR(pg_catalog.<=) pg_catalog.now() " \
    "ORDER BY " order " LIMIT $1 FOR UPDATE SKIP LOCKED"

std::vector<Job> claim_jobs(int batch, int lease_s, const std::set<PartyKey>& held) {
    int newest = batch >= 4 ? batch / 4 : 0;
    auto candidates = rows_in_due_order(DUE_JOBS_IN_ORDER("executar_apos, id"), {arg_int4(batch - newest)});
    SqlRows recent;
    if (newest > 0 && static_cast<int>(candidates.size()) == batch - newest)
        recent = rows_in_due_order(DUE_JOBS_IN_ORDER("executar_apos DESC, id DESC"), {arg_int4(newest)});
    std::vector<std::int64_t> ids;
    std::set<std::int64_t> taken;  // the lanes may meet: a job is taken once
    std::set<std::int64_t> newest_ids;
    for (const SqlRows* lane : {&candidates, &recent}) {
        for (auto& c : *lane) {
            if (!taken.insert(c.int8(0)).second) continue;
            if (lane == &recent) newest_ids.insert(c.int8(0));
            if (held.count({c.text(1), c.int8(2)}))
                state.waiting_for_held = true;  // claimable once that party's job is recorded
            else
                ids.push_back(c.int8(0));
        }
    }
    if (ids.empty()) return {};
    auto rows = sql_rows(
        "UPDATE chatwoot.fila SET estado = 'processando', tentativas = tentativas OPERATOR(pg_catalog.+) 1, "
        "  bloqueado_ate = " SQL_SECONDS_FROM_NOW("$2") ", atualizado_em = pg_catalog.now() "
        "WHERE id OPERATOR(pg_catalog.=) ANY ($1) RETURNING id, tipo, tipo_entidade, entidade_id, tentativas",
        {arg_int8_array(ids), arg_int4(lease_s)});
    std::vector<Job> jobs;
    jobs.reserve(rows.size());
    for (auto& r : rows) {
        jobs.push_back(job_from_row(r));
        jobs.back().newest = newest_ids.count(jobs.back().id) > 0;
    }
    return jobs;
}

// A bulk statement queues its ids in 'lote' jobs. When the due jobs leave room in a
// claim, parties of the oldest lote are claimed straight into jobs of their own, born
// 'processando': one row written per party, where a pending job would be written, then
// locked and rewritten by the next claim. What the claim has no room for stays in the
// lote. A party this claim already took (a due job, or an earlier lote) or that has a
// pending job is left to that job: it reads the row as it is when it runs. A party
// whose job is on the wire since an earlier claim gets a pending job, claimable once
// that one is recorded (never two jobs of one party in flight).
// A lote holds the parties one bulk INSERT created: each becomes a job of this kind.
constexpr const char* kLoteJobTipo = "upsert_contato";

std::vector<Job> claim_from_lotes(int room, int lease_s, const std::set<PartyKey>& held,
                                  const std::vector<Job>& claimed_now) {
    std::vector<Job> jobs;
    std::set<PartyKey> covered;
    for (const Job& j : claimed_now) covered.emplace(j.tipo_entidade, j.entidade_id);
    while (room > 0) {
        auto lote = sql_rows(
            "SELECT id, tipo_entidade, ids[1:$1], pg_catalog.cardinality(ids) FROM chatwoot.fila "
            "WHERE " OUTBOX_PENDING_LOTE " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
            {arg_int4(room)});
        if (lote.empty()) break;
        std::int64_t lote_id = lote[0].int8(0);
        std::string kind = lote[0].text(1);
        const std::vector<std::int64_t>& members = lote[0].int8_array(2);  // a NULL element is skipped
        if (lote[0].int8(3) > room)
            sql_exec("UPDATE chatwoot.fila SET ids = ids[$2 OPERATOR(pg_catalog.+) 1:], atualizado_em = pg_catalog.now() "
                     "WHERE id OPERATOR(pg_catalog.=) $1",
                     {arg_int8(lote_id), arg_int4(room)});
        else
            sql_exec("DELETE FROM chatwoot.fila WHERE id OPERATOR(pg_catalog.=) $1", {arg_int8(lote_id)});
        std::vector<std::int64_t> free, busy;
        for (std::int64_t id : members) {
            if (!covered.emplace(kind, id).second) continue;
            (held.count({kind, id}) ? busy : free).push_back(id);
        }
        if (!busy.empty()) {
            queue_parties(kLoteJobTipo, kind, busy);
            state.waiting_for_held = true;
        }
        room -= static_cast<int>(members.size());
        if (free.empty()) continue;
        // By key: one probe of the one-pending-job-per-party index per party.
        auto rows = rows_by_key(
            "INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, estado, tentativas, bloqueado_ate) "
            "SELECT $4, $1, m.i, 'processando', 1, " SQL_SECONDS_FROM_NOW("$3") " "
            "FROM pg_catalog.unnest($2::pg_catalog.int8[]) AS m(i) "
            "WHERE NOT " OUTBOX_HAS_PENDING_JOB("$1", "m.i") " "
            "RETURNING id, tipo, tipo_entidade, entidade_id, tentativas",
            {arg_text(kind), arg_int8_array(free), arg_int4(lease_s), arg_text(kLoteJobTipo)});
        for (auto& r : rows) jobs.push_back(job_from_row(r));
    }
    return jobs;
}

// --- recording ----------------------------------------------------------------------

// A job that did not succeed. `free`: nothing about the job was wrong (Chatwoot
// refused the connection, rate-limited it, or the worker cut it): pending again
// without losing the attempt. Otherwise a retry with backoff, or a dead letter.
void record_failure(const Plan& plan, Outcome outcome, const std::string& error, std::chrono::milliseconds delay,
                    bool free, int requests) {
    const Job& job = plan.job();
    bool permanent = outcome == Outcome::permanent;
    std::string text = recorded(plan.batch->conn, error);
    // A newer pending job for this party exists: it supersedes this one.
    if (!permanent && drop_superseded("f.id OPERATOR(pg_catalog.=) $1", {arg_int8(job.id)}) > 0) return;
    sql_exec(
        "UPDATE chatwoot.fila SET "
        "  estado = CASE WHEN $2::pg_catalog.bool THEN 'morto' WHEN $7::pg_catalog.bool THEN 'pendente' "
        "    WHEN tentativas OPERATOR(pg_catalog.>=) $3 THEN 'morto' ELSE 'pendente' END, "
        "  tentativas = CASE WHEN $7::pg_catalog.bool THEN GREATEST(tentativas OPERATOR(pg_catalog.-) 1, 0) "
        "    ELSE tentativas END, "
        "  executar_apos = " SQL_SECONDS_FROM_NOW("$4::pg_catalog.float8 OPERATOR(pg_catalog./) 1000") ", "
        "  bloqueado_ate = NULL, ultimo_erro = $5, requisicoes = requisicoes OPERATOR(pg_catalog.+) $6, "
        "  atualizado_em = pg_catalog.now() "
        "WHERE id OPERATOR(pg_catalog.=) $1",
        {arg_int8(job.id), arg_text(permanent ? "true" : "false"), arg_int4(settings.max_attempts),
         arg_int8(delay.count()), arg_text(text), arg_int4(requests), arg_text(free ? "true" : "false")});
    if (permanent && plan.kind) plan.kind->record_dead_letter(job, text);
}

// Chatwoot refused the connection (401/403): the integration pauses until it is
// reconfigured; visible in worker_status(), fila_resumo and erros_sincronizacao.
void pause_integration(const Connection& conn, const std::string& reason) {
    if (!conn.integracao_id) return;  // the deprecated settings: nothing to mark, the worker still stops
    sql_exec("UPDATE chatwoot.integracoes SET pausada_em = pg_catalog.now(), motivo_pausa = $2 "
             "WHERE id OPERATOR(pg_catalog.=) $1 AND pausada_em IS NULL",
             {arg_int8(*conn.integracao_id), arg_text(recorded(conn, reason))});
}

// Jobs handed back before any request was sent (the worker is stopping, or the HTTP
// thread failed): pending again at once, without counting an attempt.
void release_untouched() {
    if (state.untouched.empty()) return;
    drop_superseded("f.id OPERATOR(pg_catalog.=) ANY ($1) AND f.estado OPERATOR(pg_catalog.=) 'processando'",
                    {arg_int8_array(state.untouched)});
    sql_exec("UPDATE chatwoot.fila SET estado = 'pendente', bloqueado_ate = NULL, "
             "tentativas = GREATEST(tentativas OPERATOR(pg_catalog.-) 1, 0), atualizado_em = pg_catalog.now() "
             "WHERE id OPERATOR(pg_catalog.=) ANY ($1) AND estado OPERATOR(pg_catalog.=) 'processando'",
             {arg_int8_array(state.untouched)});
    state.untouched.clear();
}

void set_in_flight(std::int64_t n) {
    pg_call([n] {
        WorkerSlot* slot = my_worker_slot();
        if (!slot) return;
        LWLockAcquire(registry->lock, LW_EXCLUSIVE);
        slot->in_flight = n;
        LWLockRelease(registry->lock);
    });
}

void queue_for_recording(std::unique_ptr<Plan> plan) {
    if (state.to_record.empty()) state.first_to_record = Clock::now();
    state.to_record.push_back(std::move(plan));
}

// Moves what the HTTP thread finished (and what it handed back untouched) over to
// the recording side.
void finish_probe();

void hand_back(const std::vector<core::HttpOperation*>& finished, const std::vector<core::HttpOperation*>& untouched) {
    for (core::HttpOperation* op : finished) {
        if (state.probe && op == state.probe.get()) {
            finish_probe();
            continue;
        }
        auto it = state.on_the_wire.find(op);
        if (it == state.on_the_wire.end()) continue;
        queue_for_recording(std::move(it->second));
        state.on_the_wire.erase(it);
    }
    for (core::HttpOperation* op : untouched) {
        if (state.probe && op == state.probe.get()) {  // never sent: asked again later
            state.probe.reset();
            state.inbox_probed.reset();
            continue;
        }
        auto it = state.on_the_wire.find(op);
        if (it == state.on_the_wire.end()) continue;
        state.untouched.push_back(it->second->job().id);
        state.on_the_wire.erase(it);
    }
}

// Stops the HTTP thread now: what it held comes back (cut requests as aborted,
// unsent operations untouched); a new thread starts with the next claim.
void stop_runner() {
    if (!state.runner) return;
    core::ThreadedRunner::Stopped stopped = state.runner->stop(std::chrono::milliseconds(0));
    state.runner.reset();
    hand_back(stopped.finished, stopped.untouched);
}

void collect_finished() {
    if (!state.runner) return;
    hand_back(state.runner->take_finished(), {});
    if (!state.runner->failure().empty()) {
        // The HTTP thread failed (out of memory...): take everything back, say why,
        // and start a new one next cycle.
        std::string why = core::recorded_text(state.runner->failure(), {});
        stop_runner();
        pg_call([&why] { set_worker_error(("falha na thread HTTP: " + why).c_str()); });
    }
}

// Records every finished job in one short transaction (a SIGTERM only sets a flag,
// so it cannot cut it in half). Returns how many jobs were recorded.
int record_results() {
    if (state.to_record.empty() && state.untouched.empty()) return 0;
    std::vector<std::unique_ptr<Plan>> plans;
    plans.swap(state.to_record);
    begin_worker_transaction("chatwoot_sync: registrando resultados");
    release_untouched();
    core::DrainPolicy policy = drain_policy();
    std::vector<DoneJob> done;
    std::map<std::pair<Batch*, JobKind*>, std::vector<const PlannedJob*>> succeeded;
    core::DrainPolicy::Tally tally;
    std::optional<std::string> refusal;
    const Connection* refused_conn = nullptr;
    for (auto& plan : plans) {
        JobResult r = plan->planned->result();
        if (r.failed_before_sending) {  // not Chatwoot's doing: no say in the worker's back-off
            auto delay = core::backoff_delay(backoff_policy(), plan->job().tentativas, state.rng);
            record_failure(*plan, Outcome::retry, r.error, delay, false, 0);
            continue;
        }
        switch (r.outcome) {
            case Outcome::success:
                done.push_back({plan->job().id, r.requests, r.sent, recorded(plan->batch->conn, r.note)});
                if (plan->planned->operation() && plan->kind) {
                    ++tally.successes;
                    succeeded[{plan->batch.get(), plan->kind}].push_back(plan->planned.get());
                }
                break;
            case Outcome::refused:
                if (!refusal) {
                    refusal = r.error;
                    refused_conn = &plan->batch->conn;
                }
                record_failure(*plan, r.outcome, r.error, std::chrono::milliseconds(0), true, r.requests);
                break;
            case Outcome::retry:
                if (r.aborted || r.throttled) {
                    record_failure(*plan, r.outcome, r.error, policy.throttled_wait(r.retry_after), true, r.requests);
                } else {
                    ++tally.transient_failures;
                    auto delay = core::backoff_delay(backoff_policy(), plan->job().tentativas, state.rng);
                    tally.shortest_backoff = std::min(tally.shortest_backoff.value_or(delay), delay);
                    record_failure(*plan, r.outcome, r.error, delay, false, r.requests);
                }
                break;
            case Outcome::permanent: record_failure(*plan, r.outcome, r.error, std::chrono::milliseconds(0), false, r.requests); break;
        }
    }
    mark_done(done);
    for (auto& [key, group] : succeeded) key.second->record_successes(group, key.first->conn);
    if (refusal) pause_integration(*refused_conn, *refusal);
    commit_worker_transaction();
    int recorded_jobs = static_cast<int>(plans.size());
    if (state.waiting_for_held && recorded_jobs > 0) {
        state.waiting_for_held = false;
        state.backlog_empty = false;  // the skipped jobs may be claimable now
    }
    pg_call([recorded_jobs] { add_jobs_done(recorded_jobs); });
    if (refusal) {
        state.paused = recorded(*refused_conn, *refusal);
        stop_runner();  // nothing more goes out until the connection changes
    } else {
        tally.on_the_wire_empty = state.on_the_wire.empty();
        switch (core::DrainPolicy::after_record(tally)) {
            case core::DrainPolicy::BackOff::start:  // every attempt failed (Chatwoot down): so does the worker
                state.backing_off_until = Clock::now() + *tally.shortest_backoff;
                break;
            case core::DrainPolicy::BackOff::end: state.backing_off_until = Clock::time_point{}; break;
            case core::DrainPolicy::BackOff::keep: break;
        }
    }
    return recorded_jobs;
}

bool recording_due() {
    return drain_policy().recording_due(state.to_record.size(), !state.untouched.empty(), state.on_the_wire.empty(),
                                        Clock::now() - state.first_to_record);
}

// --- planning and sending --------------------------------------------------------------

std::unique_ptr<Plan> plan_job(Job job, const std::shared_ptr<Batch>& batch) {
    auto plan = std::make_unique<Plan>();
    plan->batch = batch;
    plan->kind = job_kind(job.tipo);
    if (plan->kind) {
        plan->planned = plan->kind->plan(std::move(job), PlanContext{batch->conn, *batch->requests, state.inbox});
    } else {
        std::string why = "nenhum tipo de trabalho \"" + job.tipo + "\" nesta versão";
        plan->planned = cannot_run(std::move(job), std::move(why));
    }
    return plan;
}

// Each kind reads what its jobs need (in the claim transaction).
void load_jobs(std::vector<Job>& jobs, const Connection& conn) {
    std::map<JobKind*, std::vector<Job*>> by_kind;
    for (Job& job : jobs)
        if (JobKind* kind = job_kind(job.tipo)) by_kind[kind].push_back(&job);
    for (auto& [kind, kind_jobs] : by_kind) kind->load(kind_jobs, conn);
}

// The HTTP thread, made on first use; it paces every request to the connection's budget.
void ensure_runner(const Connection& conn) {
    int max_in_flight = drain_policy().max_in_flight();
    if (!state.runner) state.runner = std::make_unique<core::ThreadedRunner>(max_in_flight);
    state.runner->set_max_in_flight(max_in_flight);
    state.runner->set_budget(conn.budget);
    state.runner->share_budget(worker_request_window());  // testar_conexao spends it too
}

// The default inbox's channel, asked of Chatwoot once per connection, through the
// HTTP thread (the request counts in the budget). The channel decides which parties
// can have a contact inbox there; no job is claimed until the answer is in.
void start_probe(const Connection& conn) {
    if (state.probe) return;
    state.inbox_probed = conn.config.default_inbox_id;
    state.inbox.reset();
    state.inbox_warning.clear();
    state.probe = std::make_unique<core::InboxProbeOperation>(conn.config, *conn.config.default_inbox_id);
    state.probe_conn = conn;
    state.probe_generation = state.generation;
    ensure_runner(conn);
    state.runner->submit({state.probe.get()});
}

void finish_probe() {
    std::unique_ptr<core::InboxProbeOperation> done = std::move(state.probe);
    const Connection& conn = state.probe_conn;
    if (state.probe_generation != state.generation) {  // the connection changed meanwhile: ask again
        state.inbox_probed.reset();
        return;
    }
    const core::InboxProbe& probe = done->result();
    if (probe.refused) {
        state.inbox_probed.reset();
        begin_worker_transaction("chatwoot_sync: pausando a integração");
        pause_integration(conn, probe.error);
        commit_worker_transaction();
        state.paused = recorded(conn, probe.error);
        return;
    }
    if (!probe.ok) {
        // Unknown: contacts go with the inbox as before, and a refusal for a missing
        // field sends them without it (ContactSync).
        state.inbox = core::InboxTarget{done->inbox_id(), core::InboxChannel::api};
        state.inbox_warning = recorded(conn, "canal do inbox desconhecido: " + probe.error);
        state.inbox_retry_at = Clock::now() + kInboxRetry;
        state.inbox_probed.reset();
        return;
    }
    state.inbox = core::InboxTarget{done->inbox_id(), core::inbox_channel_of(probe.channel_type)};
    if (state.inbox->channel != core::InboxChannel::api)
        state.inbox_warning = "inbox " + std::to_string(state.inbox->id) + " é do canal " +
                              core::recorded_text(probe.channel_type, {}, 64) +
                              ": contatos sem o campo que o canal exige são criados sem inbox";
}

// Claims up to a batch of due jobs and reads their parties (one transaction), then
// hands their operations to the HTTP thread. Returns the number claimed.
int claim_and_send(DrainOutcome& outcome) {
    begin_worker_transaction("chatwoot_sync: reivindicando trabalhos");
    state.lotes_pending = false;
    housekeeping(state.cycles == 1);
    auto batch = std::make_shared<Batch>();
    batch->conn = load_connection();
    const Connection& conn = batch->conn;
    state.no_connection = !conn.found;
    pg_call([&conn] { set_worker_integration(conn.integracao_id.value_or(0)); });
    // A row's pause lives in the row; one of the deprecated settings, in memory until a reload.
    if (conn.integracao_id || !conn.found) state.paused = conn.paused;
    batch->conn.paused = state.paused;
    bool probe_needed = state.probe != nullptr ||
                        (conn.found && !conn.paused && conn.config.default_inbox_id &&
                         state.inbox_probed != conn.config.default_inbox_id && Clock::now() >= state.inbox_retry_at);
    if (!conn.config.default_inbox_id) state.inbox.reset(), state.inbox_warning.clear(), state.inbox_probed.reset();
    bool backing_off = Clock::now() < state.backing_off_until;
    // Standing problems stay in worker_status as long as rastreamentos records them.
    auto misfits = sql_rows("SELECT pg_catalog.string_agg(tipo_entidade OPERATOR(pg_catalog.||) ': ' "
                            "OPERATOR(pg_catalog.||) erro, '; ' ORDER BY tipo_entidade) "
                            "FROM chatwoot.rastreamentos WHERE erro IS NOT NULL");
    state.mapping_warnings = misfits.empty() ? "" : misfits[0].text(0);
    std::vector<Job> jobs;
    bool waiting_work = false;
    if (!conn.found || conn.paused || probe_needed || backing_off) {
        waiting_work = !conn.found &&
                       (!sql_rows("SELECT 1 FROM chatwoot.fila WHERE estado OPERATOR(pg_catalog.=) 'pendente' LIMIT 1").empty() ||
                        !sql_rows("SELECT 1 FROM chatwoot.mudancas LIMIT 1").empty());
    } else {
        // Only a worker that can send drains the change log: one that cannot does no work
        // per commit (fila_resumo counts the log's rows meanwhile).
        ingest_changes();
        std::set<PartyKey> held = held_parties();  // jobs on the wire or waiting to be recorded
        state.budget = conn.budget;
        int claim_size = drain_policy().claim_size();
        jobs = claim_jobs(claim_size, lease_seconds(), held);
        int room = claim_size - static_cast<int>(jobs.size());
        if (room > 0) {
            std::vector<Job> from_lotes = claim_from_lotes(room, lease_seconds(), held, jobs);
            jobs.insert(jobs.end(), std::make_move_iterator(from_lotes.begin()), std::make_move_iterator(from_lotes.end()));
        }
        if (!jobs.empty()) load_jobs(jobs, conn);
        // Debounced jobs are due later: when the due ones ran out, sleep no longer than
        // until the first of the others (the index gives it; no row means none waits).
        if (static_cast<int>(jobs.size()) < claim_size) {
            auto due = rows_in_due_order(
                "SELECT pg_catalog.ceil(pg_catalog.date_part('epoch', executar_apos OPERATOR(pg_catalog.-) "
                "pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.*) 1000)::pg_catalog.int8 "
                "FROM chatwoot.fila WHERE " OUTBOX_PENDING_JOB " "
                "ORDER BY executar_apos LIMIT 1");
            if (!due.empty() && !due[0].is_null(0)) outcome.next_due_ms = std::max<std::int64_t>(0, due[0].int8(0));
            // A short claim with lotes left (all locked, or each party in one already
            // pending or held) is not an empty backlog.
            state.lotes_pending =
                !sql_rows("SELECT 1 FROM chatwoot.fila WHERE " OUTBOX_PENDING_LOTE " LIMIT 1").empty();
        }
    }
    commit_worker_transaction();
    if (!conn.found) {
        // Jobs wait (nothing is lost) until a connection is configured; say why.
        if (waiting_work)
            pg_call([] { set_worker_error("há trabalhos pendentes mas nenhuma integração ativa: use chatwoot.configurar(...)"); });
        return 0;
    }
    if (probe_needed) {
        start_probe(conn);  // its answer wakes the worker (the HTTP thread's eventfd)
        return 0;
    }
    if (jobs.empty()) return 0;

    batch->requests = std::make_unique<core::RequestFactory>(conn.config);
    std::vector<core::HttpOperation*> operations;
    for (auto& job : jobs) {
        bool newest = job.newest;
        std::unique_ptr<Plan> plan = plan_job(std::move(job), batch);
        if (core::HttpOperation* op = plan->planned->operation()) {
            op->jumps_queue = newest;  // ahead of the backlog already on the wire
            operations.push_back(op);
            state.on_the_wire.emplace(op, std::move(plan));
        } else {
            queue_for_recording(std::move(plan));
        }
    }
    ensure_runner(conn);
    state.runner->submit(operations);
    return static_cast<int>(jobs.size());
}

// After a cycle raised an ERROR the worker's bookkeeping may be half done: stop the
// HTTP thread, forget every job held, and requeue all 'processando' jobs (nothing
// else is in flight: one worker per database). Delivery stays at-least-once: a job
// whose request went out is simply sent again, and every request is safe to repeat.
void reset_after_error() {
    if (state.runner) state.runner->stop(std::chrono::milliseconds(0));
    state.runner.reset();
    state.probe.reset();
    state.inbox_probed.reset();
    state.on_the_wire.clear();
    state.to_record.clear();
    state.untouched.clear();
    state.backlog_empty = false;
    state.lotes_pending = false;
    state.waiting_for_held = false;
    begin_worker_transaction("chatwoot_sync: recuperando após erro");
    requeue_orphaned_jobs(true);
    commit_worker_transaction();
}

TimestampTz to_timestamptz(std::chrono::system_clock::time_point t) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
    return static_cast<TimestampTz>(us - (static_cast<std::int64_t>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) *
                                          SECS_PER_DAY * USECS_PER_SEC));
}

TimestampTz to_timestamptz(Clock::time_point t) {
    return to_timestamptz(std::chrono::system_clock::now() +
                          std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now()));
}

// Tells the registry (worker_status, and committing backends) whether and why the
// worker is not sending.
void publish_pause() {
    core::DrainPolicy::Standing standing;
    standing.no_connection = state.no_connection;
    standing.refused = state.paused;
    standing.backing_off = Clock::now() < state.backing_off_until;
    core::ThreadedRunner::PacerState pacer{};
    if (state.runner) {
        pacer = state.runner->pacer_state();
        standing.pacer_paused = pacer.paused_until > std::chrono::system_clock::now();
        standing.pacer_limit = pacer.limit;
    }
    core::DrainPolicy::Pause pause = core::DrainPolicy::pause(standing);
    TimestampTz until = 0, quiet = 0;
    switch (pause.kind) {
        case core::DrainPolicy::Pause::Kind::sending: break;
        case core::DrainPolicy::Pause::Kind::no_connection:
        case core::DrainPolicy::Pause::Kind::refused: quiet = DT_NOEND; break;
        case core::DrainPolicy::Pause::Kind::backing_off: quiet = to_timestamptz(state.backing_off_until); break;
        case core::DrainPolicy::Pause::Kind::throttled: quiet = to_timestamptz(pacer.paused_until); break;
    }
    if (pause.shown) until = quiet;
    std::string warnings = state.mapping_warnings;
    for (auto it = state.noted_warnings.begin(); it != state.noted_warnings.end();) {
        if (Clock::now() - it->second > std::chrono::seconds(15)) {
            it = state.noted_warnings.erase(it);
            continue;
        }
        warnings += (warnings.empty() ? "" : "; ") + it->first;
        ++it;
    }
    if (!state.inbox_warning.empty()) warnings += (warnings.empty() ? "" : "; ") + state.inbox_warning;
    pg_call([&] {
        set_worker_quiet_until(quiet);
        set_worker_pause(until, pause.reason.c_str(), warnings.c_str());
    });
}

DrainOutcome drain_cycle(bool http_wake_only) {
    ++state.cycles;
    DrainOutcome outcome{0, false, 0, -1, -1, false};
    if (state.cycle_in_progress) reset_after_error();
    state.cycle_in_progress = true;

    std::uint32_t generation = current_connection_generation();
    if (!state.generation_known || generation != state.generation) {
        // The connection changed: reload it, forget a pause and the inbox's channel (a
        // row's pause is read again from its row; the settings' one starts afresh).
        state.generation_known = true;
        state.generation = generation;
        state.paused.reset();
        state.inbox_probed.reset();
        state.inbox_retry_at = Clock::time_point{};
        state.backing_off_until = Clock::time_point{};
        state.backlog_empty = false;
    }
    collect_finished();
    // Keep up to two batches beyond the one being sent on the wire, and claim before
    // recording: the HTTP thread must never run dry while this thread is in SQL.
    core::DrainPolicy policy = drain_policy();
    bool claimed_now = false;
    if (policy.may_claim(state.on_the_wire.size(), http_wake_only, state.backlog_empty)) {
        int claimed = claim_and_send(outcome);
        claimed_now = true;
        core::DrainPolicy::AfterClaim after =
            policy.after_claim(claimed, state.lotes_pending, outcome.claim_again, state.on_the_wire.size());
        state.backlog_empty = after.backlog_empty;
        outcome.claim_again = after.claim_again;
    }
    collect_finished();
    if (recording_due()) outcome.jobs_finished = record_results();
    if (!claimed_now && (state.cycles == 1 || Clock::now() >= state.next_lease_check)) {
        begin_worker_transaction("chatwoot_sync: renovando concessões");
        housekeeping(state.cycles == 1);
        commit_worker_transaction();
    }
    publish_pause();
    if (Clock::now() < state.backing_off_until) {
        auto left = state.backing_off_until - Clock::now();
        outcome.pause_ms = std::max<long>(1, std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
    }

    outcome.busy = !state.on_the_wire.empty() || !state.to_record.empty() || !state.untouched.empty() || state.probe;
    outcome.wake_fd = state.runner ? state.runner->wake_fd() : -1;
    if (!state.to_record.empty() || !state.untouched.empty()) {
        outcome.record_in_ms = core::DrainPolicy::record_within(Clock::now() - state.first_to_record).count();
    }
    set_in_flight(state.runner ? state.runner->in_flight() : 0);
    state.cycle_in_progress = false;
    return outcome;
}

// The worker is stopping: requests in flight get the request timeout to finish,
// nothing new starts, and every result (and every untouched job) is recorded.
void finish_for_exit() {
    if (state.cycle_in_progress) return;  // the bookkeeping is not trustworthy; startup requeues it all
    if (state.runner) {
        core::ThreadedRunner::Stopped stopped =
            state.runner->stop(std::chrono::milliseconds(settings.request_timeout_ms));
        state.runner.reset();
        hand_back(stopped.finished, stopped.untouched);
    }
    state.cycle_in_progress = true;
    record_results();
    state.cycle_in_progress = false;
    set_in_flight(0);
}

}  // namespace

DrainOutcome run_drain_cycle(bool http_wake_only) {
    DrainOutcome result{0, false, 0, -1, -1, false};
    DrainOutcome* out = &result;
    cpp_entry("drain_cycle", [out, http_wake_only] {
        *out = drain_cycle(http_wake_only);
        return (Datum)0;
    });
    return result;
}

void note_drain_warning(const char* warning) { state.noted_warnings[warning] = Clock::now(); }

void drain_settings_reloaded() {
    state.paused.reset();
    state.generation_known = false;
}

void finish_drain_for_exit() {
    cpp_entry("finish_drain_for_exit", [] {
        finish_for_exit();
        return (Datum)0;
    });
}

}  // namespace chatwoot::pg
