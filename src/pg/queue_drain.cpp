// Drains chatwoot.fila. Jobs flow: claimed (commit) -> on the wire in the HTTP
// thread (core::BackgroundRunner, no transaction open) -> finished, waiting to be
// recorded -> recorded in one transaction (commit). Up to two batches are on the
// wire at once, so claiming the next batch and recording the last results overlap
// the network, and the window of requests in flight is refilled as slots free.
#include "pg/queue_drain.hpp"

#include "core/background_runner.hpp"
#include "core/contact_sync.hpp"
#include "core/retry_policy.hpp"
#include "pg/settings.hpp"
#include "pg/spi_rows.hpp"
#include "pg/worker_registry.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>

namespace chatwoot::pg {

namespace {

using core::Outcome;
using Clock = std::chrono::steady_clock;

// Results wait at most this long, or until a quarter batch has finished, before
// they are recorded: one transaction per group, not per job. Each recording has a
// fixed cost (planning its statement, a commit that waits for the WAL flush), so the
// groups are made large; a result waiting here is already in Chatwoot.
constexpr auto kRecordDelay = std::chrono::milliseconds(100);

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

// What one claim shares: the connection, and the request factory its operations
// point into (kept alive until the last of them is recorded).
struct Batch {
    Connection conn;
    std::unique_ptr<core::RequestFactory> requests;
    Clock::time_point claimed_at = Clock::now();  // when its jobs' leases were set
};

// What one job turned into: an operation to run, or an immediate conclusion.
struct Plan {
    Job job;
    std::shared_ptr<Batch> batch;
    std::unique_ptr<core::ContactSync> sync;
    std::unique_ptr<core::ContactDeactivation> deactivation;
    std::string nothing_to_do;  // set when no request is needed
    core::HttpOperation* operation() const {
        if (sync) return sync.get();
        return deactivation.get();
    }
    const core::ContactSyncResult* result() const {
        if (sync) return &sync->result();
        if (deactivation) return &deactivation->result();
        return nullptr;
    }
};

// Worker-local state that outlives a cycle (process memory, never shared memory).
struct DrainState {
    int concurrency = 0;                 // adapts: halves on 429, grows back by one per clean recording
    Clock::time_point paused_until{};
    Clock::time_point next_lease_check{};  // leases are renewed / looked for every few seconds
    int throttle_streak = 0;
    std::mt19937_64 rng{std::random_device{}()};
    std::uint64_t cycles = 0;
    bool cycle_in_progress = false;      // still set when a cycle starts: the last one raised an ERROR
    bool backlog_empty = true;           // the last claim got fewer jobs than it asked for
    bool lotes_pending = false;          // a short claim left lote jobs unclaimed
    bool waiting_for_held = false;       // a due job was skipped: its party had a job in flight
    std::unordered_map<core::HttpOperation*, std::unique_ptr<Plan>> on_the_wire;
    std::vector<std::unique_ptr<Plan>> to_record;
    Clock::time_point first_to_record{};
    std::vector<std::int64_t> untouched;  // handed back before any request: requeue, no attempt counted
    // Declared last so it is destroyed first: its thread may still point into the plans.
    std::unique_ptr<core::BackgroundRunner> runner;
    ~DrainState() { runner.reset(); }
};
DrainState state;

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

// Every job this worker holds: on the wire, or finished and waiting to be recorded.
template <typename Visit>
void for_each_held_plan(Visit visit) {
    for (auto& [op, plan] : state.on_the_wire) visit(static_cast<const Plan&>(*plan));
    for (auto& plan : state.to_record) visit(static_cast<const Plan&>(*plan));
}

std::vector<std::int64_t> held_job_ids() {
    std::vector<std::int64_t> ids;
    ids.reserve(state.on_the_wire.size() + state.to_record.size());
    for_each_held_plan([&ids](const Plan& plan) { ids.push_back(plan.job.id); });
    return ids;
}

// How long a claim holds a job: eight request timeouts, and never less than a minute.
int lease_seconds() { return std::max(60, settings.request_timeout_ms * 8 / 1000); }

// The held jobs whose lease is a third gone. A job is normally recorded well under a
// second after its claim, so during a drain this is empty and no lease is rewritten
// (renewing every held job every few seconds rewrote thousands of rows each time).
std::vector<std::int64_t> jobs_due_for_renewal() {
    auto renew_before = Clock::now() - std::chrono::seconds(lease_seconds() / 3);
    std::vector<std::int64_t> ids;
    for_each_held_plan([&](const Plan& plan) {
        if (plan.batch && plan.batch->claimed_at < renew_before) ids.push_back(plan.job.id);
    });
    return ids;
}

// Runs one read with some of the planner's plan types switched off for it alone
// (SET LOCAL, put back after). The statistics of the outbox, and of tables a bulk
// load has just filled, lag far behind, and the reads below must keep to an index
// whatever the planner believes.
std::vector<SqlRow> rows_without(std::initializer_list<const char*> plan_types, const char* sql,
                                 const std::vector<SqlArg>& args) {
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " = off").c_str());
    auto rows = sql_rows(sql, args);
    for (const char* type : plan_types) sql_exec((std::string("SET LOCAL ") + type + " TO DEFAULT").c_str());
    return rows;
}

// A read that must walk the due-jobs index in order. Statistics on this fast-changing
// table are always stale, and the planner, thinking the backlog tiny, would read and
// sort all of it; with sorting off it walks the index and stops at the LIMIT.
std::vector<SqlRow> rows_in_due_order(const char* sql, const std::vector<SqlArg>& args = {}) {
    return rows_without({"enable_sort"}, sql, args);
}

// A statement that reaches a claim's parties by key: one index probe each. The
// planner, costing random reads as if from disk and with statistics that lag a bulk
// load, would rather scan and hash the whole table (all the firm's clients, every
// mapping, every pending job) on every claim. A table without an index on the key is
// still read, by a scan.
std::vector<SqlRow> rows_by_key(const char* sql, const std::vector<SqlArg>& args) {
    return rows_without({"enable_seqscan", "enable_hashjoin", "enable_mergejoin"}, sql, args);
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
        sql_exec("UPDATE chatwoot.fila SET bloqueado_ate = now() + make_interval(secs => $2) "
                 "WHERE id = ANY($1) AND estado = 'processando'",
                 {arg_int8_array(renew), arg_int4(lease_seconds())});
    }
    const char* orphaned = all ? "f.estado = 'processando'"
                               : "f.estado = 'processando' AND f.bloqueado_ate < now() AND f.id <> ALL($1)";
    std::vector<SqlArg> args;
    if (!all) args.push_back(arg_int8_array(held));
    std::string drop = std::string("DELETE FROM chatwoot.fila f WHERE ") + orphaned +
                       " AND EXISTS (SELECT 1 FROM chatwoot.fila p WHERE p.estado = 'pendente' AND p.tipo <> 'lote' "
                       "AND p.tipo_entidade = f.tipo_entidade AND p.entidade_id = f.entidade_id)";
    sql_exec(drop.c_str(), args);
    std::string requeue = std::string("UPDATE chatwoot.fila f SET estado = 'pendente', bloqueado_ate = NULL, "
                                      "atualizado_em = now(), ultimo_erro = 'worker interrompido durante o envio; "
                                      "reenfileirado' WHERE ") + orphaned;
    sql_exec(requeue.c_str(), args);
}

void housekeeping(bool startup) {
    requeue_orphaned_jobs(startup);
    if (state.cycles % 50 == 0 && settings.retention_s >= 0) {
        sql_exec(
            "DELETE FROM chatwoot.fila WHERE id IN (SELECT id FROM chatwoot.fila WHERE estado = 'concluido' "
            "AND concluido_em < now() - make_interval(secs => $1) LIMIT 10000)",
            {arg_int8(settings.retention_s)});
    }
}

using PartyKey = std::pair<std::string, std::int64_t>;

std::set<PartyKey> held_parties() {
    std::set<PartyKey> held;
    for_each_held_plan([&held](const Plan& plan) { held.emplace(plan.job.tipo_entidade, plan.job.entidade_id); });
    return held;
}

Job job_from_row(const SqlRow& r) {  // id, tipo, tipo_entidade, entidade_id, tentativas
    Job j;
    j.id = to_int(r[0]);
    j.tipo = r[1].value_or("");
    j.tipo_entidade = r[2].value_or("");
    j.entidade_id = to_int(r[3]);
    j.tentativas = static_cast<int>(to_int(r[4]));
    return j;
}

// A bigint[] in its text form, "{1,2,3}"; an element that is not a number (NULL) is
// skipped: a bad lote must not stop the worker.
std::vector<std::int64_t> int8_array_from_text(const std::string& text) {
    std::vector<std::int64_t> out;
    const char* p = std::strchr(text.c_str(), '{');
    while (p && *p && *p != '}') {
        ++p;  // past '{' or ','
        char* end = nullptr;
        errno = 0;
        long long value = std::strtoll(p, &end, 10);
        if (end != p && errno == 0 && (*end == ',' || *end == '}')) out.push_back(value);
        p = std::strpbrk(p, ",}");
    }
    return out;
}
// Claims up to `batch` due jobs. Two statements: pick candidates walking the
// due-jobs index in order (its cost does not depend on the backlog), then lease
// them by id. Parties this worker already holds a job for are skipped (never two
// jobs of one party in flight): every 'processando' job belongs to this worker, as
// there is one worker per database and start-up requeues a dead one's jobs.
std::vector<Job> claim_jobs(int batch, int lease_s, const std::set<PartyKey>& held) {
    auto candidates = rows_in_due_order(
        "SELECT id, tipo_entidade, entidade_id FROM chatwoot.fila "
        "WHERE estado = 'pendente' AND tipo <> 'lote' AND executar_apos <= now() "
        "ORDER BY executar_apos, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        {arg_int4(batch)});
    if (candidates.empty()) return {};
    std::vector<std::int64_t> ids;
    for (auto& c : candidates) {
        if (held.count({c[1].value_or(""), to_int(c[2])}))
            state.waiting_for_held = true;  // claimable once that party's job is recorded
        else
            ids.push_back(to_int(c[0]));
    }
    if (ids.empty()) return {};
    auto rows = sql_rows(
        "UPDATE chatwoot.fila SET estado = 'processando', tentativas = tentativas + 1, "
        "  bloqueado_ate = now() + make_interval(secs => $2), atualizado_em = now() "
        "WHERE id = ANY($1) RETURNING id, tipo, tipo_entidade, entidade_id, tentativas",
        {arg_int8_array(ids), arg_int4(lease_s)});
    std::vector<Job> jobs;
    jobs.reserve(rows.size());
    for (auto& r : rows) jobs.push_back(job_from_row(r));
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
std::vector<Job> claim_from_lotes(int room, int lease_s, const std::set<PartyKey>& held,
                                  const std::vector<Job>& claimed_now) {
    std::vector<Job> jobs;
    std::set<PartyKey> covered;
    for (const Job& j : claimed_now) covered.emplace(j.tipo_entidade, j.entidade_id);
    while (room > 0) {
        auto lote = sql_rows(
            "SELECT id, tipo_entidade, ids[1:$1]::text, cardinality(ids) FROM chatwoot.fila "
            "WHERE tipo = 'lote' AND estado = 'pendente' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
            {arg_int4(room)});
        if (lote.empty()) break;
        std::int64_t lote_id = to_int(lote[0][0]);
        std::string kind = lote[0][1].value_or("");
        std::vector<std::int64_t> members = int8_array_from_text(lote[0][2].value_or("{}"));
        if (to_int(lote[0][3]) > room)
            sql_exec("UPDATE chatwoot.fila SET ids = ids[$2 + 1:], atualizado_em = now() WHERE id = $1",
                     {arg_int8(lote_id), arg_int4(room)});
        else
            sql_exec("DELETE FROM chatwoot.fila WHERE id = $1", {arg_int8(lote_id)});
        std::vector<std::int64_t> free, busy;
        for (std::int64_t id : members) {
            if (!covered.emplace(kind, id).second) continue;
            (held.count({kind, id}) ? busy : free).push_back(id);
        }
        if (!busy.empty()) {
            sql_exec("INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id) "
                     "SELECT 'upsert_contato', $1, i FROM unnest($2::bigint[]) AS i "
                     "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' DO NOTHING",
                     {arg_text(kind), arg_int8_array(busy)});
            state.waiting_for_held = true;
        }
        room -= static_cast<int>(members.size());
        if (free.empty()) continue;
        // By key: one probe of the one-pending-job-per-party index per party.
        auto rows = rows_by_key(
            "INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, estado, tentativas, bloqueado_ate) "
            "SELECT 'upsert_contato', $1, m.i, 'processando', 1, now() + make_interval(secs => $3) "
            "FROM unnest($2::bigint[]) AS m(i) "
            "WHERE NOT EXISTS (SELECT 1 FROM chatwoot.fila p WHERE p.estado = 'pendente' AND p.tipo <> 'lote' "
            "  AND p.tipo_entidade = $1 AND p.entidade_id = m.i) "
            "RETURNING id, tipo, tipo_entidade, entidade_id, tentativas",
            {arg_text(kind), arg_int8_array(free), arg_int4(lease_s)});
        for (auto& r : rows) jobs.push_back(job_from_row(r));
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
        auto rows = rows_by_key(query.c_str(), {arg_int8_array(ids)});
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
    auto mapped = rows_by_key(
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

void record_deactivation(const Plan& plan) {
    const Job& job = plan.job;
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
    std::vector<std::string> kinds, source_ids, snapshots, active, problems;
    for (const Plan* plan : plans) {
        const core::ContactSyncResult& r = *plan->result();
        job_ids.push_back(plan->job.id);
        kinds.push_back(plan->job.tipo_entidade);
        entity_ids.push_back(plan->job.entidade_id);
        contact_ids.push_back(r.contact_id);
        requests.push_back(r.requests);
        source_ids.push_back(r.source_id.value_or(""));
        // dados_sincronizados: what we sent and what Chatwoot holds, two JSON texts the
        // core produced, joined here and parsed once by the server.
        snapshots.push_back("{\"enviado\":" + plan->sync->wanted_body() +
                            ",\"chatwoot\":" + (r.snapshot_json.empty() ? std::string("{}") : r.snapshot_json) + "}");
        active.push_back(plan->sync->draft().ativo ? "true" : "false");
        std::string text = plan->sync->draft().problems_text();
        if (!r.notes.empty()) text += (text.empty() ? "" : "; ") + r.notes;
        if (r.shared) text += (text.empty() ? "" : "; ") + std::string("contato compartilhado com ") + r.shared_with;
        problems.push_back(text);
    }
    // The redundant `f.id = ANY($1)` has the planner reach fila through its primary
    // key: joined on the unnest alone it may hash a scan of the whole table, whose
    // statistics lag far behind a bulk drain (the done jobs kept for retention pile up).
    sql_exec(
        "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], "
        "    $6::text[], $7::text[], $8::text[], $9::text[]) "
        "    AS r(job_id, tipo_entidade, entidade_id, contact_id, requisicoes, source_id, dados, ativo, problemas)), "
        "concluidos AS (UPDATE chatwoot.fila f SET estado = 'concluido', concluido_em = now(), bloqueado_ate = NULL, "
        "    ultimo_erro = NULL, http_status = 200, requisicoes = f.requisicoes + r.requisicoes, atualizado_em = now() "
        "    FROM r WHERE f.id = r.job_id AND f.id = ANY($1)) "
        "INSERT INTO chatwoot.partes_chatwoot AS p (tipo_entidade, entidade_id, integracao_id, chatwoot_contact_id, "
        "  chatwoot_account_id, chatwoot_inbox_id, source_id, ultima_sincronizacao, dados_sincronizados, "
        "  sincronizado, erro_sincronizacao) "
        "SELECT r.tipo_entidade, r.entidade_id, $10, r.contact_id, $11, $12, NULLIF(r.source_id, ''), now(), "
        "  r.dados::jsonb, r.ativo::boolean, "
        "  NULLIF(r.problemas, '') FROM r "
        "ON CONFLICT (tipo_entidade, entidade_id) DO UPDATE SET integracao_id = EXCLUDED.integracao_id, "
        "  chatwoot_contact_id = EXCLUDED.chatwoot_contact_id, chatwoot_account_id = EXCLUDED.chatwoot_account_id, "
        "  chatwoot_inbox_id = coalesce(EXCLUDED.chatwoot_inbox_id, p.chatwoot_inbox_id), "
        "  source_id = coalesce(EXCLUDED.source_id, p.source_id), ultima_sincronizacao = now(), "
        "  dados_sincronizados = EXCLUDED.dados_sincronizados, sincronizado = EXCLUDED.sincronizado, "
        "  erro_sincronizacao = EXCLUDED.erro_sincronizacao",
        {arg_int8_array(job_ids), arg_text_array(kinds), arg_int8_array(entity_ids), arg_int8_array(contact_ids),
         arg_int8_array(requests), arg_text_array(source_ids), arg_text_array(snapshots),
         arg_text_array(active), arg_text_array(problems),
         conn.integracao_id ? arg_int8(*conn.integracao_id) : arg_null(INT8OID), arg_int4(static_cast<int>(conn.config.account_id)),
         conn.config.default_inbox_id ? arg_int4(static_cast<int>(*conn.config.default_inbox_id)) : arg_null(INT4OID)});
}

void record_failure(const Plan& plan, const core::ContactSyncResult& r, std::chrono::milliseconds delay) {
    const Job& job = plan.job;
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
        {arg_int8(plan.job.id), arg_text(plan.nothing_to_do)});
}

// Jobs handed back before any request was sent (the worker is stopping, or the HTTP
// thread failed): pending again at once, without counting an attempt.
void release_untouched() {
    if (state.untouched.empty()) return;
    sql_exec("DELETE FROM chatwoot.fila f WHERE f.id = ANY($1) AND f.estado = 'processando' "
             "AND EXISTS (SELECT 1 FROM chatwoot.fila p WHERE p.estado = 'pendente' AND p.tipo <> 'lote' "
             "AND p.tipo_entidade = f.tipo_entidade AND p.entidade_id = f.entidade_id)",
             {arg_int8_array(state.untouched)});
    sql_exec("UPDATE chatwoot.fila SET estado = 'pendente', bloqueado_ate = NULL, "
             "tentativas = greatest(tentativas - 1, 0), atualizado_em = now() "
             "WHERE id = ANY($1) AND estado = 'processando'",
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
void hand_back(const std::vector<core::HttpOperation*>& finished, const std::vector<core::HttpOperation*>& untouched) {
    for (core::HttpOperation* op : finished) {
        auto it = state.on_the_wire.find(op);
        if (it == state.on_the_wire.end()) continue;
        queue_for_recording(std::move(it->second));
        state.on_the_wire.erase(it);
    }
    for (core::HttpOperation* op : untouched) {
        auto it = state.on_the_wire.find(op);
        if (it == state.on_the_wire.end()) continue;
        state.untouched.push_back(it->second->job.id);
        state.on_the_wire.erase(it);
    }
}

void collect_finished() {
    if (!state.runner) return;
    hand_back(state.runner->take_finished(), {});
    if (!state.runner->failure().empty()) {
        // The HTTP thread failed (out of memory...): take everything back, say why,
        // and start a new one next cycle.
        std::string why = state.runner->failure();
        core::BackgroundRunner::Stopped stopped = state.runner->stop(std::chrono::milliseconds(0));
        state.runner.reset();
        hand_back(stopped.finished, stopped.untouched);
        pg_call([&why] { set_worker_error(("falha na thread HTTP: " + why).c_str()); });
    }
}

// Records every finished job in one short transaction, interrupts held so a
// SIGTERM cannot cut it in half. Returns how many jobs were recorded.
int record_results() {
    if (state.to_record.empty() && state.untouched.empty()) return 0;
    bool throttled = false;
    std::optional<std::chrono::seconds> retry_after;
    std::vector<std::unique_ptr<Plan>> plans;
    plans.swap(state.to_record);
    pg_call([] { HOLD_INTERRUPTS(); });
    begin_worker_transaction("chatwoot_sync: registrando resultados");
    release_untouched();
    std::map<Batch*, std::vector<const Plan*>> upserted;
    for (auto& plan : plans) {
        if (!plan->nothing_to_do.empty()) {
            record_nothing_to_do(*plan);
            continue;
        }
        const core::ContactSyncResult& r = *plan->result();
        throttled = throttled || r.throttled;
        if (r.retry_after) retry_after = std::max(retry_after.value_or(std::chrono::seconds(0)), *r.retry_after);
        if (r.outcome == Outcome::success && plan->sync) {
            upserted[plan->batch.get()].push_back(plan.get());
        } else if (r.outcome == Outcome::success) {
            record_deactivation(*plan);
        } else {
            auto delay = r.retry_after ? std::chrono::duration_cast<std::chrono::milliseconds>(*r.retry_after)
                                       : core::backoff_delay(core::BackoffPolicy{}, plan->job.tentativas, state.rng);
            record_failure(*plan, r, delay);
        }
    }
    for (auto& [batch, group] : upserted) record_successful_upserts(group, batch->conn);
    commit_worker_transaction();
    pg_call([] { RESUME_INTERRUPTS(); });
    int recorded = static_cast<int>(plans.size());
    if (state.waiting_for_held && recorded > 0) {
        state.waiting_for_held = false;
        state.backlog_empty = false;  // the skipped jobs may be claimable now
    }
    pg_call([recorded] { add_jobs_done(recorded); });

    // A 429 slows the whole tenant: fewer requests in flight and a pause that grows
    // while throttling continues; clean recordings win the concurrency back one by one.
    int max_concurrency = std::max(1, settings.max_concurrency);
    if (throttled) {
        state.throttle_streak = std::min(state.throttle_streak + 1, 6);
        state.concurrency = std::max(1, state.concurrency / 2);
        auto pause = retry_after ? std::chrono::duration_cast<std::chrono::milliseconds>(*retry_after)
                                 : std::chrono::milliseconds(500L << state.throttle_streak);
        state.paused_until = Clock::now() + pause;
    } else if (recorded > 0) {
        state.throttle_streak = 0;
        state.concurrency = std::min(max_concurrency, state.concurrency + 1);
    }
    if (state.runner) state.runner->throttle(state.concurrency, state.paused_until);
    return recorded;
}

bool recording_due() {
    if (state.to_record.empty()) return !state.untouched.empty();
    std::size_t group = static_cast<std::size_t>(std::max(1, settings.batch_size / 4));
    return state.to_record.size() >= group || state.on_the_wire.empty() ||
           Clock::now() - state.first_to_record >= kRecordDelay;
}

// Claims up to a batch of due jobs and reads their parties (one transaction), then
// hands their operations to the HTTP thread. Returns the number claimed.
int claim_and_send(DrainOutcome& outcome) {
    begin_worker_transaction("chatwoot_sync: reivindicando trabalhos");
    state.lotes_pending = false;
    housekeeping(state.cycles == 1);
    auto batch = std::make_shared<Batch>();
    batch->conn = load_connection();
    std::vector<Job> jobs;
    bool waiting_work = false;
    if (!batch->conn.found) {
        waiting_work = !sql_rows("SELECT 1 FROM chatwoot.fila WHERE estado = 'pendente' LIMIT 1").empty();
    } else {
        std::set<PartyKey> held = held_parties();  // jobs on the wire or waiting to be recorded
        jobs = claim_jobs(settings.batch_size, lease_seconds(), held);
        int room = settings.batch_size - static_cast<int>(jobs.size());
        if (room > 0) {
            std::vector<Job> from_lotes = claim_from_lotes(room, lease_seconds(), held, jobs);
            jobs.insert(jobs.end(), std::make_move_iterator(from_lotes.begin()), std::make_move_iterator(from_lotes.end()));
        }
        if (!jobs.empty()) load_parties(jobs);
        // Debounced jobs are due later: when the due ones ran out, sleep no longer than
        // until the first of the others (the index gives it; no row means none waits).
        if (static_cast<int>(jobs.size()) < settings.batch_size) {
            auto due = rows_in_due_order(
                "SELECT ceil(extract(epoch FROM executar_apos - clock_timestamp()) * 1000)::bigint "
                "FROM chatwoot.fila WHERE estado = 'pendente' AND tipo <> 'lote' ORDER BY executar_apos LIMIT 1");
            if (!due.empty() && due[0][0]) outcome.next_due_ms = std::max<std::int64_t>(0, to_int(due[0][0]));
            // A short claim with lotes left (all locked, or each party in one already
            // pending or held) is not an empty backlog.
            state.lotes_pending =
                !sql_rows("SELECT 1 FROM chatwoot.fila WHERE tipo = 'lote' AND estado = 'pendente' LIMIT 1").empty();
        }
    }
    commit_worker_transaction();
    if (!batch->conn.found) {
        // Jobs wait (nothing is lost) until a connection is configured; say why.
        if (waiting_work)
            pg_call([] { set_worker_error("há trabalhos pendentes mas nenhuma integração ativa: use chatwoot.configurar(...)"); });
        return 0;
    }
    if (jobs.empty()) return 0;

    batch->requests = std::make_unique<core::RequestFactory>(batch->conn.config);
    std::vector<core::HttpOperation*> operations;
    for (auto& job : jobs) {
        auto plan = std::make_unique<Plan>();
        plan->job = std::move(job);
        plan->batch = batch;
        const Job& j = plan->job;
        bool gone = !j.party;
        if (j.tipo == "upsert_contato" && !gone) {
            plan->sync = std::make_unique<core::ContactSync>(*batch->requests, core::draft_contact(*j.party),
                                                             j.contact_id, batch->conn.config.default_inbox_id);
        } else if (j.contact_id) {
            plan->deactivation = std::make_unique<core::ContactDeactivation>(*batch->requests, *j.contact_id,
                                                                             settings.delete_contacts);
        } else {
            plan->nothing_to_do = gone ? "a linha não existe mais e não havia contato mapeado" : "nada a fazer";
        }
        if (core::HttpOperation* op = plan->operation()) {
            operations.push_back(op);
            state.on_the_wire.emplace(op, std::move(plan));
        } else {
            queue_for_recording(std::move(plan));
        }
    }
    if (!state.runner) state.runner = std::make_unique<core::BackgroundRunner>(state.concurrency);
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

DrainOutcome drain_cycle(bool http_wake_only) {
    ++state.cycles;
    DrainOutcome outcome{0, false, 0, -1, -1, false};
    if (state.cycle_in_progress) reset_after_error();
    state.cycle_in_progress = true;
    int max_concurrency = std::max(1, settings.max_concurrency);
    if (state.concurrency <= 0 || state.concurrency > max_concurrency) state.concurrency = max_concurrency;

    collect_finished();
    auto now = Clock::now();
    bool paused = now < state.paused_until;
    if (paused) outcome.pause_ms = std::chrono::duration_cast<std::chrono::milliseconds>(state.paused_until - now).count();
    // Keep up to two batches beyond the one being sent on the wire, and claim before
    // recording: the HTTP thread must never run dry while this thread is in SQL.
    std::size_t batch = static_cast<std::size_t>(std::max(1, settings.batch_size));
    bool claimed_now = false;
    // A wake from the HTTP thread alone cannot have brought new due jobs once the last
    // claim found the backlog empty: only commits (latch) and due times (timeout) can.
    bool nothing_new = http_wake_only && state.backlog_empty;
    if (!paused && !nothing_new && state.on_the_wire.size() < 2 * batch) {
        int claimed = claim_and_send(outcome);
        claimed_now = true;
        state.backlog_empty = claimed < settings.batch_size && !state.lotes_pending;
        outcome.claim_again = !state.backlog_empty && state.on_the_wire.size() < 2 * batch;
    }
    collect_finished();
    if (recording_due()) outcome.jobs_finished = record_results();
    if (!claimed_now && (state.cycles == 1 || Clock::now() >= state.next_lease_check)) {
        begin_worker_transaction("chatwoot_sync: renovando concessões");
        housekeeping(state.cycles == 1);
        commit_worker_transaction();
    }

    outcome.busy = !state.on_the_wire.empty() || !state.to_record.empty() || !state.untouched.empty();
    outcome.wake_fd = state.runner ? state.runner->wake_fd() : -1;
    if (!state.to_record.empty() || !state.untouched.empty()) {
        auto left = kRecordDelay - (Clock::now() - state.first_to_record);
        outcome.record_in_ms = std::max<long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
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
        core::BackgroundRunner::Stopped stopped =
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

void finish_drain_for_exit() {
    cpp_entry("finish_drain_for_exit", [] {
        finish_for_exit();
        return (Datum)0;
    });
}

}  // namespace chatwoot::pg
