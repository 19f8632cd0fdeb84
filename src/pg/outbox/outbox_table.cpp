// boundary: c++-style
#include "pg/outbox/outbox_table.hpp"

namespace chatwoot::pg {

void queue_parties(const char* tipo, const std::string& tipo_entidade, const std::vector<std::int64_t>& ids) {
    if (ids.empty()) return;
    sql_exec("SELECT pg_catalog.count(*) FROM chatwoot._enfileirar($1, $2, $3::pg_catalog.int8[], false)",
             {arg_text(tipo), arg_text(tipo_entidade), arg_int8_array(ids)});
}

void mark_done(const std::vector<DoneJob>& jobs) {
    if (jobs.empty()) return;
    std::vector<std::int64_t> ids, requests;
    std::vector<std::string> sent, notes;
    for (const DoneJob& job : jobs) {
        ids.push_back(job.id);
        requests.push_back(job.requests);
        sent.push_back(job.sent ? "true" : "false");
        notes.push_back(job.note);
    }
    // The redundant `f.id = ANY($1)` has the planner reach fila through its primary
    // key: joined on the unnest alone it may hash a scan of the whole table, whose
    // statistics lag far behind a bulk drain (the done jobs kept for retention pile up).
    sql_exec(
        "UPDATE chatwoot.fila f SET estado = 'concluido', concluido_em = pg_catalog.now(), bloqueado_ate = NULL, "
        "  ultimo_erro = " SQL_NULLIF("d.nota", "''") ", "
        "  http_status = CASE WHEN d.enviado::pg_catalog.bool THEN 200 ELSE f.http_status END, "
        "  requisicoes = f.requisicoes OPERATOR(pg_catalog.+) d.requisicoes, atualizado_em = pg_catalog.now() "
        "FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.int8[]), pg_catalog.unnest($2::pg_catalog.int8[]), "
        "    pg_catalog.unnest($3::pg_catalog.text[]), pg_catalog.unnest($4::pg_catalog.text[])) "
        "  AS d(id, requisicoes, enviado, nota) "
        "WHERE f.id OPERATOR(pg_catalog.=) d.id AND f.id OPERATOR(pg_catalog.=) ANY ($1)",
        {arg_int8_array(ids), arg_int8_array(requests), arg_text_array(sent), arg_text_array(notes)});
}

std::uint64_t drop_superseded(const char* where, const std::vector<SqlArg>& args) {
    std::string sql = std::string("DELETE FROM chatwoot.fila f WHERE (") + where + ") AND " OUTBOX_SUPERSEDED("f");
    return sql_exec(sql.c_str(), args);
}

}  // namespace chatwoot::pg
