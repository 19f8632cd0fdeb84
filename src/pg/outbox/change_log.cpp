// boundary: c++-style
#include "pg/outbox/change_log.hpp"

#include "pg/boundary/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/outbox/outbox_table.hpp"

namespace chatwoot::pg {

namespace {

// One statement. The pending-job conflict rules are the ones the triggers applied
// when they wrote the outbox themselves: an insert or a deletion is due at once
// (and turns a pending job into its kind); a party only updated waits for the update
// debounce after its last edit, never longer than update_max_wait after its first;
// a pending job already due stays due.
constexpr const char* kIngest =
    "WITH m AS (DELETE FROM chatwoot.mudancas RETURNING id, tabela, tipo_entidade, tipo, ids, criado_em), "
    "valida AS (SELECT m.* FROM m WHERE EXISTS (SELECT 1 FROM chatwoot.rastreamentos r "
    "  WHERE r.tabela::pg_catalog.oid OPERATOR(pg_catalog.=) m.tabela AND r.tipo_entidade OPERATOR(pg_catalog.=) m.tipo_entidade)), "
    "lotes AS (INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, ids, criado_em, executar_apos) "
    "  SELECT 'lote', v.tipo_entidade, 0, v.ids, v.criado_em, v.criado_em FROM valida v "
    "  WHERE v.tipo OPERATOR(pg_catalog.=) 'i' AND pg_catalog.cardinality(v.ids) OPERATOR(pg_catalog.>) 1000 ORDER BY v.id RETURNING 1), "
    "cada AS (SELECT v.tipo_entidade, e.id AS entidade_id, v.tipo, v.criado_em, v.id AS seq, e.ord "
    "  FROM valida v, pg_catalog.unnest(v.ids) WITH ORDINALITY AS e(id, ord) "
    "  WHERE NOT (v.tipo OPERATOR(pg_catalog.=) 'i' AND pg_catalog.cardinality(v.ids) OPERATOR(pg_catalog.>) 1000)), "
    "partes AS (SELECT c.tipo_entidade, c.entidade_id, "
    "    (pg_catalog.array_agg(c.tipo ORDER BY c.seq DESC, c.ord DESC))[1] AS ultima, "
    "    pg_catalog.bool_or(c.tipo OPERATOR(pg_catalog.=) 'r') AS removida, pg_catalog.bool_and(c.tipo OPERATOR(pg_catalog.=) 'u') AS so_edicoes, "
    "    pg_catalog.min(c.criado_em) AS primeira, pg_catalog.max(c.criado_em) AS ultima_vez "
    "  FROM cada c GROUP BY c.tipo_entidade, c.entidade_id), "
    "marcadas AS (UPDATE chatwoot.partes_chatwoot p SET removida = true FROM partes x "
    "  WHERE x.removida AND p.tipo_entidade OPERATOR(pg_catalog.=) x.tipo_entidade AND p.entidade_id OPERATOR(pg_catalog.=) x.entidade_id "
    "    AND p.chatwoot_contact_id IS NOT NULL AND NOT p.removida RETURNING 1), "
    "jobs AS (INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id, executar_apos, criado_em) "
    "SELECT CASE WHEN x.ultima OPERATOR(pg_catalog.=) 'r' THEN 'desativar_contato' ELSE 'upsert_contato' END, x.tipo_entidade, "
    "  x.entidade_id, "
    "  CASE WHEN x.so_edicoes THEN LEAST(x.ultima_vez OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $1::pg_catalog.float8 OPERATOR(pg_catalog./) 1000), "
    "                                    x.primeira OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $2::pg_catalog.float8 OPERATOR(pg_catalog./) 1000)) "
    "       ELSE x.ultima_vez END, x.primeira "
    "FROM partes x "
    OUTBOX_ONE_PENDING_PER_PARTY " DO UPDATE SET "
    "  tipo = EXCLUDED.tipo, atualizado_em = pg_catalog.now(), "
    "  executar_apos = CASE WHEN EXCLUDED.executar_apos OPERATOR(pg_catalog.<=) pg_catalog.now() "
    "      THEN LEAST(f.executar_apos, EXCLUDED.executar_apos) "
    "    WHEN f.executar_apos OPERATOR(pg_catalog.<=) pg_catalog.now() THEN f.executar_apos "
    "    ELSE LEAST(EXCLUDED.executar_apos, "
    "               f.criado_em OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $2::pg_catalog.float8 OPERATOR(pg_catalog./) 1000)) END RETURNING 1) "
    "SELECT pg_catalog.count(*) FROM m";

}  // namespace

std::int64_t ingest_changes() {
    // Nothing to drain is the common case of a cycle: one cheap look first.
    if (sql_rows("SELECT 1 FROM chatwoot.mudancas LIMIT 1").empty()) return 0;
    auto rows = sql_rows(kIngest, {arg_int4(settings.update_debounce_ms), arg_int4(settings.update_max_wait_ms)});
    return rows.at(0).int8(0);
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
