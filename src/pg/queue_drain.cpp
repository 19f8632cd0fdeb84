#include "pg/queue_drain.hpp"

#include "core/concurrent_runner.hpp"
#include "core/contact_sync.hpp"
#include "core/retry_policy.hpp"
#include "pg/settings.hpp"
#include "pg/spi_rows.hpp"
#include "pg/worker_registry.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <random>

namespace chatwoot::pg {

namespace {

using core::Outcome;
using Clock = std::chrono::steady_clock;

// Worker-local state that outlives a cycle (process memory, never shared memory).
struct DrainState {
    std::unique_ptr<core::ConcurrentRunner> runner;  // keeps connections to Chatwoot alive
    int runner_limit = 0;
    int concurrency = 0;                 // adapts: halves on 429, grows back by one per clean cycle
    Clock::time_point paused_until{};
    Clock::time_point next_lease_check{};           // expired leases are looked for every few seconds
    int throttle_streak = 0;
    std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t cycles = 0;
};
DrainState state;

struct Connection {
    bool found = false;
    std::optional<std::int64_t> integracao_id;
    core::ConnectionConfig config;
};

struct Job {
    std::int64_t id = 0;
    std::string tipo;
    std::string tipo_entidade;
    std::int64_t entidade_id = 0;
    int tentativas = 0;
    std::optional<core::PartySnapshot> party;  // the row as it is now; empty when deleted
    std::optional<std::int64_t> contact_id;    // current mapping
};

std::string quote_ident(const std::string& name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    return out + "\"";
}

std::int64_t to_int(const SqlValue& v) { return v ? std::stoll(*v) : 0; }

Connection load_connection() {
    Connection conn;
    auto rows = sql_rows(
        "SELECT id, api_url, api_key, account_id, default_inbox_id FROM chatwoot.integracoes "
        "WHERE ativo ORDER BY id LIMIT 1");
    if (!rows.empty()) {
        conn.found = true;
        conn.integracao_id = to_int(rows[0][0]);
        conn.config.api_url = rows[0][1].value_or("");
        conn.config.api_key = rows[0][2].value_or("");
        conn.config.account_id = to_int(rows[0][3]);
        if (rows[0][4]) conn.config.default_inbox_id = to_int(rows[0][4]);
    } else if (settings.api_url && settings.api_url[0]) {
        conn.found = true;  // deprecated fallback; testar_conexao and the docs say so
        conn.config.api_url = settings.api_url;
        conn.config.api_key = settings.api_key ? settings.api_key : "";
        conn.config.account_id = settings.account_id;
        if (settings.default_inbox_id > 0) conn.config.default_inbox_id = settings.default_inbox_id;
    }
    conn.config.timeout_ms = settings.request_timeout_ms;
    conn.config.verify_tls = settings.tls_verify;
    return conn;
}

// Jobs left 'processando' by a worker that died are put back (or dropped when a
// newer pending job for the same party exists: it will send fresher data). At
// start-up every such job is orphaned (one worker per database), so all of them are
// requeued at once instead of waiting for their leases; later, expired leases are
// looked for every few seconds.
void requeue_orphaned_jobs(bool startup) {
    if (!startup && Clock::now() < state.next_lease_check) return;
    state.next_lease_check = Clock::now() + std::chrono::seconds(5);
    const char* orphaned = startup ? "f.estado = 'processando'" : "f.estado = 'processando' AND f.bloqueado_ate < now()";
    std::string drop = std::string("DELETE FROM chatwoot.fila f WHERE ") + orphaned +
                       " AND EXISTS (SELECT 1 FROM chatwoot.fila p WHERE p.estado = 'pendente' AND p.tipo <> 'lote' "
                       "AND p.tipo_entidade = f.tipo_entidade AND p.entidade_id = f.entidade_id)";
    sql_exec(drop.c_str());
    std::string requeue = std::string("UPDATE chatwoot.fila f SET estado = 'pendente', bloqueado_ate = NULL, "
                                      "atualizado_em = now(), ultimo_erro = 'worker interrompido durante o envio; "
                                      "reenfileirado' WHERE ") + orphaned;
    sql_exec(requeue.c_str());
}

void housekeeping(bool startup) {
    requeue_orphaned_jobs(startup);
    // One bulk statement's ids become one job per party.
    sql_exec(
        "WITH lote AS (DELETE FROM chatwoot.fila WHERE id = (SELECT id FROM chatwoot.fila "
        "  WHERE tipo = 'lote' AND estado = 'pendente' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "  RETURNING tipo_entidade, ids) "
        "INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id) "
        "SELECT 'upsert_contato', lote.tipo_entidade, i FROM lote, unnest(lote.ids) AS i "
        "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' DO NOTHING");
    if (state.cycles % 50 == 0 && settings.retention_s >= 0) {
        sql_exec(
            "DELETE FROM chatwoot.fila WHERE id IN (SELECT id FROM chatwoot.fila WHERE estado = 'concluido' "
            "AND concluido_em < now() - make_interval(secs => $1) LIMIT 10000)",
            {arg_int8(settings.retention_s)});
    }
}

std::vector<Job> claim_jobs(int batch, int lease_seconds) {
    auto rows = sql_rows(
        "UPDATE chatwoot.fila f SET estado = 'processando', tentativas = f.tentativas + 1, "
        "  bloqueado_ate = now() + make_interval(secs => $2), atualizado_em = now() "
        // The inner query walks the pending-jobs index in order and stops after $1 rows, so
        // its cost does not depend on the backlog. (With "executar_apos <= now()" inside, stale
        // statistics on this fast-changing table made the planner sort the whole backlog.)
        // Jobs not yet due sort last and are dropped outside, as are parties that still have
        // a job in flight.
        "WHERE f.id IN (SELECT c.id FROM (SELECT id, tipo_entidade, entidade_id, executar_apos FROM chatwoot.fila "
        "    WHERE estado = 'pendente' AND tipo <> 'lote' "
        "    ORDER BY executar_apos, id LIMIT $1 FOR UPDATE SKIP LOCKED) c "
        "  WHERE c.executar_apos <= now() "
        "  AND NOT EXISTS (SELECT 1 FROM chatwoot.fila p WHERE p.estado = 'processando' "
        "                    AND p.tipo_entidade = c.tipo_entidade AND p.entidade_id = c.entidade_id)) "
        "RETURNING f.id, f.tipo, f.tipo_entidade, f.entidade_id, f.tentativas",
        {arg_int4(batch), arg_int4(lease_seconds)});
    std::vector<Job> jobs;
    for (auto& r : rows) {
        Job j;
        j.id = to_int(r[0]);
        j.tipo = r[1].value_or("");
        j.tipo_entidade = r[2].value_or("");
        j.entidade_id = to_int(r[3]);
        j.tentativas = static_cast<int>(to_int(r[4]));
        jobs.push_back(std::move(j));
    }
    return jobs;
}

// Reads the current rows of the claimed parties, table by table, through each
// table's mapping, and their current Chatwoot mappings.
void load_parties(std::vector<Job>& jobs) {
    std::map<std::string, std::vector<Job*>> by_kind;
    for (auto& j : jobs) by_kind[j.tipo_entidade].push_back(&j);
    static const char* keys[] = {"id", "tipo_pessoa", "nome", "emails", "ddd_celular", "numero_celular",
                                 "cpf", "cnpj", "ativo"};
    for (auto& [kind, kind_jobs] : by_kind) {
        std::string select = "SELECT tabela::text";
        for (const char* k : keys) select += std::string(", mapeamento ->> '") + k + "'";
        select += " FROM chatwoot.rastreamentos WHERE tipo_entidade = $1";
        auto meta = sql_rows(select.c_str(), {arg_text(kind)});
        if (meta.empty()) continue;  // no longer tracked: jobs end as "nothing to do"
        auto column = [&](int key) { return meta[0][key + 1]; };
        auto expr = [&](int key, const char* cast) {
            return column(key) ? "t." + quote_ident(*column(key)) + "::" + cast : std::string("NULL::") + cast;
        };
        std::string query = "SELECT " + expr(0, "bigint") + ", " + expr(1, "text") + ", " + expr(2, "text") + ", " +
                            expr(3, "text") + ", " + expr(4, "text") + ", " + expr(5, "text") + ", " +
                            expr(6, "text") + ", " + expr(7, "text") + ", " + expr(8, "boolean") + " FROM " +
                            *meta[0][0] + " t WHERE " + expr(0, "bigint") + " = ANY($1)";
        std::vector<std::int64_t> ids;
        for (Job* j : kind_jobs) ids.push_back(j->entidade_id);
        auto rows = sql_rows(query.c_str(), {arg_int8_array(ids)});
        std::map<std::int64_t, const SqlRow*> found;
        for (auto& r : rows) found[to_int(r[0])] = &r;
        for (Job* j : kind_jobs) {
            auto it = found.find(j->entidade_id);
            if (it == found.end()) continue;
            const SqlRow& r = *it->second;
            core::PartySnapshot p;
            p.tipo_entidade = kind;
            p.entidade_id = j->entidade_id;
            p.tipo_pessoa = r[1].value_or("pf");
            p.nome = r[2].value_or("");
            p.emails_json = r[3].value_or("");
            p.phones.push_back({r[4].value_or(""), r[5].value_or("")});
            p.documento = p.tipo_pessoa == "pj" ? r[7].value_or("") : r[6].value_or("");
            p.ativo = !r[8] || *r[8] == "t";
            j->party = std::move(p);
        }
    }
    std::vector<std::string> kinds;
    std::vector<std::int64_t> ids;
    for (auto& j : jobs) {
        kinds.push_back(j.tipo_entidade);
        ids.push_back(j.entidade_id);
    }
    auto mapped = sql_rows(
        "SELECT p.tipo_entidade, p.entidade_id, p.chatwoot_contact_id FROM chatwoot.partes_chatwoot p "
        "JOIN unnest($1::text[], $2::bigint[]) AS k(tipo_entidade, entidade_id) "
        "ON p.tipo_entidade = k.tipo_entidade AND p.entidade_id = k.entidade_id "
        "WHERE p.chatwoot_contact_id IS NOT NULL",
        {arg_text_array(kinds), arg_int8_array(ids)});
    std::map<std::pair<std::string, std::int64_t>, Job*> by_party;
    for (auto& j : jobs) by_party[{j.tipo_entidade, j.entidade_id}] = &j;
    for (auto& m : mapped) {
        auto it = by_party.find({m[0].value_or(""), to_int(m[1])});
        if (it != by_party.end()) it->second->contact_id = to_int(m[2]);
    }
}

// What one job turned into: an operation to run, or an immediate conclusion.
struct Plan {
    Job* job;
    std::unique_ptr<core::ContactSync> sync;
    std::unique_ptr<core::ContactDeactivation> deactivation;
    std::optional<core::ContactDraft> draft;
    std::string nothing_to_do;  // set when no request is needed
    const core::ContactSyncResult* result() const {
        if (sync) return &sync->result();
        if (deactivation) return &deactivation->result();
        return nullptr;
    }
};

void record_deactivation(const Plan& plan) {
    const Job& job = *plan.job;
    const core::ContactSyncResult& r = *plan.result();
    sql_exec(
        "UPDATE chatwoot.fila SET estado = 'concluido', concluido_em = now(), bloqueado_ate = NULL, "
        "ultimo_erro = NULL, http_status = 200, requisicoes = requisicoes + $2, atualizado_em = now() WHERE id = $1",
        {arg_int8(job.id), arg_int4(r.requests)});
    sql_exec(
        "UPDATE chatwoot.partes_chatwoot SET sincronizado = false, ultima_sincronizacao = now(), "
        "erro_sincronizacao = NULLIF($3, '') WHERE tipo_entidade = $1 AND entidade_id = $2",
        {arg_text(job.tipo_entidade), arg_int8(job.entidade_id), arg_text(r.notes)});
}

// All successful upserts of a batch in one statement: one parse, one plan, one
// round of index maintenance, instead of two statements per job.
void record_successful_upserts(const std::vector<const Plan*>& plans, const Connection& conn) {
    if (plans.empty()) return;
    std::vector<std::int64_t> job_ids, entity_ids, contact_ids, requests;
    std::vector<std::string> kinds, source_ids, sent, received, active, problems;
    for (const Plan* plan : plans) {
        const core::ContactSyncResult& r = *plan->result();
        job_ids.push_back(plan->job->id);
        kinds.push_back(plan->job->tipo_entidade);
        entity_ids.push_back(plan->job->entidade_id);
        contact_ids.push_back(r.contact_id);
        requests.push_back(r.requests);
        source_ids.push_back(r.source_id.value_or(""));
        sent.push_back(plan->draft->request_body(conn.config.default_inbox_id));
        received.push_back(r.snapshot_json.empty() ? "{}" : r.snapshot_json);
        active.push_back(plan->draft->ativo ? "true" : "false");
        std::string text = plan->draft->problems_text();
        if (!r.notes.empty()) text += (text.empty() ? "" : "; ") + r.notes;
        if (r.shared) text += (text.empty() ? "" : "; ") + std::string("contato compartilhado com ") + r.shared_with;
        problems.push_back(text);
    }
    sql_exec(
        "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], "
        "    $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) "
        "    AS r(job_id, tipo_entidade, entidade_id, contact_id, requisicoes, source_id, enviado, chatwoot, ativo, "
        "         problemas)), "
        "concluidos AS (UPDATE chatwoot.fila f SET estado = 'concluido', concluido_em = now(), bloqueado_ate = NULL, "
        "    ultimo_erro = NULL, http_status = 200, requisicoes = f.requisicoes + r.requisicoes, atualizado_em = now() "
        "    FROM r WHERE f.id = r.job_id) "
        "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, integracao_id, chatwoot_contact_id, "
        "  chatwoot_account_id, chatwoot_inbox_id, source_id, ultima_sincronizacao, dados_sincronizados, "
        "  sincronizado, erro_sincronizacao) "
        "SELECT r.tipo_entidade, r.entidade_id, $11, r.contact_id, $12, $13, NULLIF(r.source_id, ''), now(), "
        "  jsonb_build_object('enviado', r.enviado::jsonb, 'chatwoot', r.chatwoot::jsonb), r.ativo::boolean, "
        "  NULLIF(r.problemas, '') FROM r "
        "ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE SET integracao_id = EXCLUDED.integracao_id, "
        "  chatwoot_contact_id = EXCLUDED.chatwoot_contact_id, chatwoot_account_id = EXCLUDED.chatwoot_account_id, "
        "  chatwoot_inbox_id = coalesce(EXCLUDED.chatwoot_inbox_id, p.chatwoot_inbox_id), "
        "  source_id = coalesce(EXCLUDED.source_id, p.source_id), ultima_sincronizacao = now(), "
        "  dados_sincronizados = EXCLUDED.dados_sincronizados, sincronizado = EXCLUDED.sincronizado, "
        "  erro_sincronizacao = EXCLUDED.erro_sincronizacao",
        {arg_int8_array(job_ids), arg_text_array(kinds), arg_int8_array(entity_ids), arg_int8_array(contact_ids),
         arg_int8_array(requests), arg_text_array(source_ids), arg_text_array(sent), arg_text_array(received),
         arg_text_array(active), arg_text_array(problems),
         conn.integracao_id ? arg_int8(*conn.integracao_id) : arg_null(INT8OID), arg_int4(static_cast<int>(conn.config.account_id)),
         conn.config.default_inbox_id ? arg_int4(static_cast<int>(*conn.config.default_inbox_id)) : arg_null(INT4OID)});
}

void record_failure(const Plan& plan, const core::ContactSyncResult& r, std::chrono::milliseconds delay) {
    const Job& job = *plan.job;
    bool permanent = r.outcome == Outcome::permanent;
    if (!permanent) {
        // A newer pending job for this party exists: it supersedes this one.
        if (sql_exec("DELETE FROM chatwoot.fila f WHERE f.id = $1 AND EXISTS (SELECT 1 FROM chatwoot.fila p "
                     "WHERE p.estado = 'pendente' AND p.tipo <> 'lote' AND p.tipo_entidade = f.tipo_entidade "
                     "AND p.entidade_id = f.entidade_id)",
                     {arg_int8(job.id)}) > 0)
            return;
    }
    sql_exec(
        "UPDATE chatwoot.fila SET "
        "  estado = CASE WHEN $2::boolean OR tentativas >= $3 THEN 'morto' ELSE 'pendente' END, "
        "  executar_apos = now() + make_interval(secs => $4::double precision / 1000), bloqueado_ate = NULL, "
        "  ultimo_erro = $5, requisicoes = requisicoes + $6, atualizado_em = now() WHERE id = $1",
        {arg_int8(job.id), arg_text(permanent ? "true" : "false"), arg_int4(settings.max_attempts),
         arg_int8(delay.count()), arg_text(r.error), arg_int4(r.requests)});
    if (permanent) {
        sql_exec(
            "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, sincronizado, erro_sincronizacao) "
            "VALUES ($1, $2, false, $3) ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE "
            "SET erro_sincronizacao = EXCLUDED.erro_sincronizacao",
            {arg_text(job.tipo_entidade), arg_int8(job.entidade_id), arg_text(r.error)});
    }
}

void record_nothing_to_do(const Plan& plan) {
    sql_exec(
        "UPDATE chatwoot.fila SET estado = 'concluido', concluido_em = now(), bloqueado_ate = NULL, "
        "ultimo_erro = $2, atualizado_em = now() WHERE id = $1",
        {arg_int8(plan.job->id), arg_text(plan.nothing_to_do)});
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

DrainOutcome drain_cycle() {
    ++state.cycles;
    DrainOutcome outcome{0, false, 0, -1};
    auto now = Clock::now();
    if (now < state.paused_until) {
        outcome.pause_ms = std::chrono::duration_cast<std::chrono::milliseconds>(state.paused_until - now).count();
        return outcome;
    }
    int max_concurrency = std::max(1, settings.max_concurrency);
    if (state.concurrency <= 0 || state.concurrency > max_concurrency) state.concurrency = max_concurrency;

    begin_worker_transaction("chatwoot_sync: reivindicando trabalhos");
    housekeeping(state.cycles == 1);
    Connection conn = load_connection();
    std::vector<Job> jobs;
    bool waiting_work = false;
    if (!conn.found)
        waiting_work = !sql_rows("SELECT 1 FROM chatwoot.fila WHERE estado = 'pendente' LIMIT 1").empty();
    if (conn.found) {
        int lease = std::max(60, settings.request_timeout_ms * 8 / 1000);
        jobs = claim_jobs(settings.batch_size, lease);
        if (!jobs.empty()) load_parties(jobs);
        // Debounced jobs are due later: sleep no longer than until the first one.
        auto due = sql_rows(
            "SELECT greatest(0, ceil(extract(epoch FROM min(executar_apos) - clock_timestamp()) * 1000))::bigint "
            "FROM chatwoot.fila WHERE estado = 'pendente' AND tipo <> 'lote'");
        if (!due.empty() && due[0][0]) outcome.next_due_ms = to_int(due[0][0]);
    }
    commit_worker_transaction();
    if (!conn.found) {
        // Jobs wait (nothing is lost) until a connection is configured; say why.
        if (waiting_work)
            pg_call([] { set_worker_error("há trabalhos pendentes mas nenhuma integração ativa: use chatwoot.configurar(...)"); });
        return outcome;
    }
    if (jobs.empty()) return outcome;

    // Plan every job, then run all the requests concurrently, with no transaction open.
    core::RequestFactory requests(conn.config);
    std::vector<Plan> plans;
    plans.reserve(jobs.size());
    std::vector<core::HttpOperation*> operations;
    for (auto& job : jobs) {
        Plan plan;
        plan.job = &job;
        bool gone = !job.party;
        if (job.tipo == "upsert_contato" && !gone) {
            plan.draft = core::draft_contact(*job.party);
            plan.sync = std::make_unique<core::ContactSync>(requests, *plan.draft, job.contact_id,
                                                            conn.config.default_inbox_id);
            operations.push_back(plan.sync.get());
        } else if (job.contact_id) {
            plan.deactivation = std::make_unique<core::ContactDeactivation>(requests, *job.contact_id,
                                                                            settings.delete_contacts);
            operations.push_back(plan.deactivation.get());
        } else {
            plan.nothing_to_do = gone ? "a linha não existe mais e não havia contato mapeado" : "nada a fazer";
        }
        plans.push_back(std::move(plan));
    }

    if (!state.runner || state.runner_limit != state.concurrency) {
        state.runner = std::make_unique<core::ConcurrentRunner>(
            state.concurrency, [] { return ProcDiePending || ShutdownRequestPending; });
        state.runner_limit = state.concurrency;
    }
    set_in_flight(static_cast<std::int64_t>(operations.size()));
    state.runner->run(operations, std::chrono::milliseconds(settings.request_timeout_ms));
    set_in_flight(0);

    // Record everything in one short transaction, even if SIGTERM arrived meanwhile.
    bool throttled = false;
    std::optional<std::chrono::seconds> retry_after;
    pg_call([] { HOLD_INTERRUPTS(); });
    begin_worker_transaction("chatwoot_sync: registrando resultados");
    std::vector<const Plan*> upserted;
    for (auto& plan : plans) {
        if (!plan.nothing_to_do.empty()) {
            record_nothing_to_do(plan);
        } else {
            const core::ContactSyncResult& r = *plan.result();
            throttled = throttled || r.throttled;
            if (r.retry_after) retry_after = std::max(retry_after.value_or(std::chrono::seconds(0)), *r.retry_after);
            if (r.outcome == Outcome::success && plan.sync) {
                upserted.push_back(&plan);
            } else if (r.outcome == Outcome::success) {
                record_deactivation(plan);
            } else {
                auto delay = r.retry_after ? std::chrono::duration_cast<std::chrono::milliseconds>(*r.retry_after)
                                           : core::backoff_delay(core::BackoffPolicy{}, plan.job->tentativas, state.rng);
                record_failure(plan, r, delay);
            }
        }
        ++outcome.jobs_finished;
    }
    record_successful_upserts(upserted, conn);
    commit_worker_transaction();
    pg_call([] { RESUME_INTERRUPTS(); });
    int finished = outcome.jobs_finished;
    pg_call([finished] { add_jobs_done(finished); });

    // A 429 slows the whole tenant: fewer requests in flight and a pause that grows
    // while throttling continues; clean cycles win the concurrency back one by one.
    if (throttled) {
        state.throttle_streak = std::min(state.throttle_streak + 1, 6);
        state.concurrency = std::max(1, state.concurrency / 2);
        auto pause = retry_after ? std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after)
                                 : std::chrono::milliseconds(500L << state.throttle_streak);
        state.paused_until = Clock::now() + pause;
        outcome.pause_ms = pause.count();
    } else {
        state.throttle_streak = 0;
        state.concurrency = std::min(max_concurrency, state.concurrency + 1);
    }
    outcome.backlog = static_cast<int>(jobs.size()) >= settings.batch_size;
    return outcome;
}

}  // namespace

DrainOutcome run_drain_cycle() {
    DrainOutcome result{0, false, 0, -1};
    DrainOutcome* out = &result;
    cpp_entry("drain_cycle", [out] {
        *out = drain_cycle();
        return (Datum)0;
    });
    return result;
}

}  // namespace chatwoot::pg
