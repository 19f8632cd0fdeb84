// boundary: c++-style
#include "pg/outbox/change_log.hpp"

#include "pg/boundary/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/outbox/outbox.hpp"
#include "pg/outbox/outbox_table.hpp"

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace chatwoot::pg {

namespace {

// One statement. The pending-job conflict rules are the ones the triggers applied
// when they wrote the outbox themselves: an insert or a deletion is due at once
// (and turns a pending job into its kind); a party only updated waits for the update
// debounce after its last edit, never longer than update_max_wait after its first;
// a pending job already due stays due.
#define INGEST_ALL "WITH m AS (DELETE FROM chatwoot.mudancas RETURNING id, tabela, tipo_entidade, tipo, ids, criado_em), "
// One change ($3) whole.
#define INGEST_CHANGE                                                                                    \
    "WITH m AS (DELETE FROM chatwoot.mudancas WHERE id OPERATOR(pg_catalog.=) $3 "                       \
    "  RETURNING id, tabela, tipo_entidade, tipo, ids, criado_em), "
// One party ($4) of one change ($3): taken out of the change, which keeps its id and
// so its place in the order of the rest.
#define INGEST_PARTY                                                                                     \
    "WITH m AS (UPDATE chatwoot.mudancas SET ids = pg_catalog.array_remove(ids, $4::pg_catalog.int8) "  \
    "  WHERE id OPERATOR(pg_catalog.=) $3 "                                                              \
    "  RETURNING id, tabela, tipo_entidade, tipo, ARRAY[$4::pg_catalog.int8] AS ids, criado_em), "
#define INGEST_REST \
    "valida AS (SELECT m.* FROM m WHERE EXISTS (SELECT 1 FROM chatwoot.rastreamentos r " \
    "  WHERE r.tabela::pg_catalog.oid OPERATOR(pg_catalog.=) m.tabela::pg_catalog.oid AND r.tipo_entidade OPERATOR(pg_catalog.=) m.tipo_entidade)), " \
    "lotes AS (INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, ids, criado_em, executar_apos) " \
    "  SELECT 'lote', v.tipo_entidade, 0, v.ids, v.criado_em, v.criado_em FROM valida v " \
    "  WHERE v.tipo OPERATOR(pg_catalog.=) 'i' AND pg_catalog.cardinality(v.ids) OPERATOR(pg_catalog.>) 1000 ORDER BY v.id RETURNING 1), " \
    "cada AS (SELECT v.tipo_entidade, e.id AS entidade_id, v.tipo, v.criado_em, v.id AS seq, e.ord " \
    "  FROM valida v, pg_catalog.unnest(v.ids) WITH ORDINALITY AS e(id, ord) " \
    "  WHERE NOT (v.tipo OPERATOR(pg_catalog.=) 'i' AND pg_catalog.cardinality(v.ids) OPERATOR(pg_catalog.>) 1000)), " \
    "partes AS (SELECT c.tipo_entidade, c.entidade_id, " \
    "    (pg_catalog.array_agg(c.tipo ORDER BY c.seq DESC, c.ord DESC))[1] AS ultima, " \
    "    pg_catalog.bool_or(c.tipo OPERATOR(pg_catalog.=) 'r') AS removida, pg_catalog.bool_and(c.tipo OPERATOR(pg_catalog.=) 'u') AS so_edicoes, " \
    "    pg_catalog.min(c.criado_em) AS primeira, pg_catalog.max(c.criado_em) AS ultima_vez " \
    "  FROM cada c GROUP BY c.tipo_entidade, c.entidade_id), " \
    "marcadas AS (UPDATE chatwoot.partes_chatwoot p SET removida = true FROM partes x " \
    "  WHERE x.removida AND p.tipo_entidade OPERATOR(pg_catalog.=) x.tipo_entidade AND p.entidade_id OPERATOR(pg_catalog.=) x.entidade_id " \
    "    AND p.chatwoot_contact_id IS NOT NULL AND NOT p.removida RETURNING 1), " \
    "jobs AS (INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id, executar_apos, criado_em) " \
    "SELECT CASE WHEN x.ultima OPERATOR(pg_catalog.=) 'r' THEN 'desativar_contato' ELSE 'upsert_contato' END, x.tipo_entidade, " \
    "  x.entidade_id, " \
    "  CASE WHEN x.so_edicoes THEN LEAST(x.ultima_vez OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $1::pg_catalog.float8 OPERATOR(pg_catalog./) 1000), " \
    "                                    x.primeira OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $2::pg_catalog.float8 OPERATOR(pg_catalog./) 1000)) " \
    "       ELSE x.ultima_vez END, x.primeira " \
    "FROM partes x " \
    OUTBOX_ONE_PENDING_PER_PARTY " DO UPDATE SET " \
    "  tipo = EXCLUDED.tipo, atualizado_em = pg_catalog.now(), " \
    "  executar_apos = CASE WHEN EXCLUDED.executar_apos OPERATOR(pg_catalog.<=) pg_catalog.now() " \
    "      THEN LEAST(f.executar_apos, EXCLUDED.executar_apos) " \
    "    WHEN f.executar_apos OPERATOR(pg_catalog.<=) pg_catalog.now() THEN f.executar_apos " \
    "    ELSE LEAST(EXCLUDED.executar_apos, " \
    "               f.criado_em OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $2::pg_catalog.float8 OPERATOR(pg_catalog./) 1000)) END RETURNING 1) " \
    "SELECT pg_catalog.count(*) FROM m"
constexpr const char* kIngestAll = INGEST_ALL INGEST_REST;
constexpr const char* kIngestChange = INGEST_CHANGE INGEST_REST;
constexpr const char* kIngestParty = INGEST_PARTY INGEST_REST;

// Runs one ingest statement with short lock waits. nullopt when it would have waited
// longer: its work rolls back and the changes stay in the log.
std::optional<std::int64_t> try_ingest(const char* statement, std::vector<SqlArg> args) {
    args.insert(args.begin(), {arg_int4(settings.update_debounce_ms), arg_int4(settings.update_max_wait_ms)});
    std::int64_t moved = 0;
    int sqlstate = 0;
    auto failed = in_subtransaction(
        [&] { with_setting("lock_timeout", "300ms", [&] { moved = sql_rows(statement, args).at(0).int8(0); }); },
        &sqlstate);
    if (!failed) return moved;
    if (sqlstate != ERRCODE_LOCK_NOT_AVAILABLE)
        pg_call([&failed] {
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("chatwoot_sync: mudancas: %s", failed->c_str())));
        });
    return std::nullopt;
}

constexpr int kSplitAtMost = 100;    // a change with more parties is not taken apart
constexpr int kLockWaitsAtMost = 5;  // per cycle: each costs the 300 ms above

// The slow path, when a transaction the app left open (sincronizar_parte,
// desincronizar, a prepared transaction) holds a party's pending job: changes go one
// at a time, a blocked change party by party, and every later change of a blocked
// party waits too, so each party's changes still reach the queue in their order.
std::int64_t ingest_around_blocked_parties() {
    std::set<std::pair<std::string, std::int64_t>> blocked;
    std::int64_t moved = 0;
    int waits = 0;
    bool stopped = false;
    auto rows = sql_rows("SELECT id, tipo_entidade, CASE WHEN pg_catalog.cardinality(ids) OPERATOR(pg_catalog.<=) $1 THEN ids END "
                         "FROM chatwoot.mudancas ORDER BY id LIMIT 1000",
                         {arg_int4(kSplitAtMost)});
    for (auto& row : rows) {
        std::int64_t change = row.int8(0);
        std::string kind = row.text(1);
        if (row.is_null(2)) {  // too many parties to take apart: all of them may be blocked
            if (!blocked.empty() || waits >= kLockWaitsAtMost) { stopped = true; break; }
            if (auto n = try_ingest(kIngestChange, {arg_int8(change)})) { moved += *n; continue; }
            stopped = true;
            break;
        }
        const auto& ids = row.int8_array(2);
        bool touches_blocked = false;
        for (auto id : ids) touches_blocked = touches_blocked || blocked.count({kind, id}) > 0;
        if (!touches_blocked && waits < kLockWaitsAtMost) {
            if (auto n = try_ingest(kIngestChange, {arg_int8(change)})) { moved += *n; continue; }
            ++waits;
        }
        std::set<std::int64_t> seen;
        for (auto id : ids) {
            if (!seen.insert(id).second || blocked.count({kind, id})) continue;
            if (waits >= kLockWaitsAtMost) { blocked.insert({kind, id}); continue; }
            if (auto n = try_ingest(kIngestParty, {arg_int8(change), arg_int8(id)})) {
                moved += *n;
            } else {
                ++waits;
                blocked.insert({kind, id});
            }
        }
        sql_exec("DELETE FROM chatwoot.mudancas WHERE id OPERATOR(pg_catalog.=) $1 "
                 "AND pg_catalog.cardinality(ids) OPERATOR(pg_catalog.=) 0", {arg_int8(change)});
    }
    if (!blocked.empty() || stopped)
        note_drain_warning(("mudanças de " + std::to_string(blocked.size()) +
                            " parte(s) aguardam uma transação aberta que enfileirou a mesma parte (bloqueada)")
                               .c_str());
    return moved;
}

}  // namespace

std::int64_t ingest_changes() {
    // Nothing to drain is the common case of a cycle: one cheap look first.
    if (sql_rows("SELECT 1 FROM chatwoot.mudancas LIMIT 1").empty()) return 0;
    if (auto moved = try_ingest(kIngestAll, {})) return *moved;
    return ingest_around_blocked_parties();
}

}  // namespace chatwoot::pg

// chatwoot.drenar_mudancas(): what the worker does at the start of every cycle in
// which it can send, on demand (a DBA inspecting the outbox while sync is paused,
// the tests). Runs as the caller: only a role that may write chatwoot.fila can.
CHATWOOT_FUNCTION(chatwoot_drenar_mudancas) {
    (void)fcinfo;
    chatwoot::pg::pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
    });
    std::int64_t drained = chatwoot::pg::ingest_changes();
    chatwoot::pg::pg_call([] { SPI_finish(); });
    return Int64GetDatum(drained);
}
