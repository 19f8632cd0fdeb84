// boundary: c++-style
// The rules of chatwoot.fila, each written once.
//
// The SQL text of a rule is a macro so that statements embed it at compile time. A
// pending job is the predicate of the partial indexes fila_um_pendente_por_parte
// (one pending job per party; the ON CONFLICT target) and fila_a_executar (the due
// jobs, walked in order), and must stay the same for the planner to use them. In SQL,
// the same rule is the indexes' and chatwoot._enfileirar's (sql/src/outbox). Its
// operators are qualified (pg/boundary/qualified_sql.hpp): they resolve to the
// operators the index predicates were built with, so the planner still proves the
// predicates and infers the ON CONFLICT target (worker_qualified_sql.sh runs it).
#pragma once
#include "pg/boundary/qualified_sql.hpp"
#include "pg/boundary/spi_rows.hpp"

#include <cstdint>
#include <string>
#include <vector>

// A job waiting to run (not a lote of ids), optionally of a table alias: "p."
#define OUTBOX_PENDING_JOB_OF(alias) \
    alias "estado OPERATOR(pg_catalog.=) 'pendente' AND " alias "tipo OPERATOR(pg_catalog.<>) 'lote'"
#define OUTBOX_PENDING_JOB OUTBOX_PENDING_JOB_OF("")
// A lote waiting to be taken apart (the predicate of the index fila_lotes).
#define OUTBOX_PENDING_LOTE "tipo OPERATOR(pg_catalog.=) 'lote' AND estado OPERATOR(pg_catalog.=) 'pendente'"
// Queue a job unless the party has a pending one already: the conflict target.
#define OUTBOX_ONE_PENDING_PER_PARTY "ON CONFLICT (tipo_entidade, entidade_id) WHERE " OUTBOX_PENDING_JOB
// The party (kind_expr, id_expr) has a pending job.
#define OUTBOX_HAS_PENDING_JOB(kind_expr, id_expr)                                          \
    "EXISTS (SELECT 1 FROM chatwoot.fila p WHERE " OUTBOX_PENDING_JOB_OF("p.")                 \
    " AND p.tipo_entidade OPERATOR(pg_catalog.=) " kind_expr " AND p.entidade_id OPERATOR(pg_catalog.=) " id_expr ")"
// Job `alias` is superseded: a newer pending job of its party will send fresher data.
#define OUTBOX_SUPERSEDED(alias) OUTBOX_HAS_PENDING_JOB(alias ".tipo_entidade", alias ".entidade_id")

namespace chatwoot::pg {

// Queues a job of kind `tipo` for each party (tipo_entidade, id) that has no pending
// job, by chatwoot._enfileirar (a party with one keeps it: it reads the row when it runs).
void queue_parties(const char* tipo, const std::string& tipo_entidade, const std::vector<std::int64_t>& ids);

// A job that ended well: concluido. `sent`: it sent requests (http_status 200);
// `note`: why nothing was sent, kept in ultimo_erro (empty: cleared).
struct DoneJob {
    std::int64_t id;
    int requests;
    bool sent;
    std::string note;
};
// Marks them all in one statement.
void mark_done(const std::vector<DoneJob>& jobs);

// Deletes the jobs matching `where` (over alias f, with `args`) that are superseded.
// Returns how many.
std::uint64_t drop_superseded(const char* where, const std::vector<SqlArg>& args);

}  // namespace chatwoot::pg
