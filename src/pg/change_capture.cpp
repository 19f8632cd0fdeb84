// The sync triggers on the app's tables, in C because they run for every row the
// app writes (bulk statements must stay fast):
//
//  * chatwoot._registrar_mudanca(tipo_entidade, id_column, watched columns...):
//    BEFORE ROW. Remembers the party's id in a per-transaction buffer: on INSERT,
//    on DELETE, and on an UPDATE that changed a watched column (an UPDATE of
//    anything else records nothing). No SPI, no allocation beyond the buffer. It
//    never raises: a table it cannot read the id from (the id column renamed or
//    retyped) gets one WARNING per backend, its rows are skipped, and the problem is
//    recorded in chatwoot.rastreamentos.erro by the statement trigger.
//  * chatwoot._enfileirar_mudancas(): AFTER STATEMENT. Writes the recorded ids to
//    chatwoot.fila (one INSERT; for a bulk statement, 'lote' rows of up to 5,000
//    ids) in a subtransaction: a failure is a WARNING and never fails the app's
//    statement. It runs with the app's rights and raises them to the extension
//    owner's only for that write, search_path pinned to pg_catalog, pg_temp; the
//    write queues nothing unless chatwoot.rastreamentos lists the table with that
//    kind. Then it asks for the worker to be woken at commit.
//
// Ids recorded in a subtransaction that aborts (a statement that failed after its
// row triggers ran, rolled back to a savepoint) are dropped with it.
//
// Plain C-style code with no C++ objects, so PostgreSQL errors may unwind freely.
#include "pg/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/worker_registry.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
}

namespace {

constexpr int kMaxWatched = 32;
constexpr int kLoteThreshold = 1000;  // above this many ids, 'lote' jobs instead of one job per id
constexpr int kLoteChunk = 5000;      // ids per 'lote' job: a claim reads (and rewrites, when it takes
                                      // only part) one lote's array, not the whole statement's ids
constexpr int kProblemLength = 256;

// Attribute numbers of a trigger's columns, resolved once per trigger.
struct TriggerColumns {
    Oid trigger_oid;
    Oid relid;
    AttrNumber id_attnum;
    Oid id_type;
    int watched_count;
    AttrNumber watched[kMaxWatched];
    bool broken;                 // no usable id column: rows are skipped
    char problem[kProblemLength];
};

constexpr int kColumnCacheSize = 16;
TriggerColumns column_cache[kColumnCacheSize];
int column_cache_used = 0;
bool invalidation_registered = false;

// A relcache change of a table: re-resolve its triggers' columns (all, for a reset).
void forget_columns(Datum, Oid relid) {
    if (!OidIsValid(relid)) {
        column_cache_used = 0;
        return;
    }
    int kept = 0;
    for (int i = 0; i < column_cache_used; ++i)
        if (column_cache[i].relid != relid) column_cache[kept++] = column_cache[i];
    column_cache_used = kept;
}

const TriggerColumns* columns_for(Trigger* trigger, Relation relation) {
    for (int i = 0; i < column_cache_used; ++i)
        if (column_cache[i].trigger_oid == trigger->tgoid) return &column_cache[i];
    if (!invalidation_registered) {
        CacheRegisterRelcacheCallback(forget_columns, (Datum)0);
        invalidation_registered = true;
    }
    if (column_cache_used == kColumnCacheSize) column_cache_used = 0;
    TriggerColumns* entry = &column_cache[column_cache_used++];
    memset(entry, 0, sizeof(*entry));
    entry->trigger_oid = trigger->tgoid;
    entry->relid = RelationGetRelid(relation);
    entry->id_attnum = InvalidAttrNumber;
    TupleDesc desc = RelationGetDescr(relation);
    if (trigger->tgnargs < 2) {
        entry->broken = true;
        snprintf(entry->problem, kProblemLength, "o gatilho de sincronização de %s não tem os argumentos esperados",
                 RelationGetRelationName(relation));
    } else {
        for (int a = 0; a < desc->natts; ++a) {
            Form_pg_attribute att = TupleDescAttr(desc, a);
            if (att->attisdropped) continue;
            if (strcmp(NameStr(att->attname), trigger->tgargs[1]) == 0) {
                entry->id_attnum = att->attnum;
                entry->id_type = att->atttypid;
            }
            for (int c = 2; c < trigger->tgnargs && entry->watched_count < kMaxWatched; ++c)
                if (strcmp(NameStr(att->attname), trigger->tgargs[c]) == 0)
                    entry->watched[entry->watched_count++] = att->attnum;
        }
        if (entry->id_attnum == InvalidAttrNumber ||
            (entry->id_type != INT8OID && entry->id_type != INT4OID && entry->id_type != INT2OID)) {
            entry->broken = true;
            snprintf(entry->problem, kProblemLength,
                     "a coluna id \"%s\" de %s não existe mais ou não é inteira: mudanças não são sincronizadas",
                     trigger->tgargs[1], RelationGetRelationName(relation));
        }
    }
    if (entry->broken)
        ereport(WARNING, (errmsg("chatwoot_sync: %s", entry->problem),
                          errhint("Restore the column or call chatwoot.rastrear again with the new mapping.")));
    return entry;
}

// Ids recorded in this transaction, per table and operation. `marks` remembers, for
// each open subtransaction that recorded ids, how many there were when it began, so
// an aborted subtransaction takes exactly its own ids away.
enum class Change { insert, update, remove };

struct Mark {
    SubTransactionId subid;
    int count;
};

struct PendingIds {
    Oid relid;
    Change change;
    char tipo_entidade[NAMEDATALEN];
    int64* ids;
    int count;
    int capacity;
    Mark* marks;
    int mark_count;
    int mark_capacity;
    char problem[kProblemLength];  // set when a row was skipped: the problem to record
    PendingIds* next;
};

PendingIds* pending = nullptr;  // lives in TopTransactionContext
bool callbacks_registered = false;

void forget_pending(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
        pending = nullptr;  // its memory goes with TopTransactionContext
}

void on_subtransaction(SubXactEvent event, SubTransactionId subid, SubTransactionId parent, void*) {
    if (event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB) return;
    for (PendingIds* p = pending; p; p = p->next) {
        int first = p->mark_count;  // the marks of `subid` and its descendants (all later ones)
        while (first > 0 && p->marks[first - 1].subid >= subid) --first;
        if (first == p->mark_count) continue;
        if (event == SUBXACT_EVENT_ABORT_SUB) {
            p->count = p->marks[first].count;
            p->mark_count = first;
        } else if (parent == TopSubTransactionId ||
                   (first > 0 && p->marks[first - 1].subid == parent)) {
            p->mark_count = first;  // the parent already marks an earlier count
        } else {
            p->marks[first].subid = parent;  // the ids now belong to the parent
            p->mark_count = first + 1;
        }
    }
}

PendingIds* pending_for(Oid relid, Change change, const char* tipo_entidade) {
    for (PendingIds* p = pending; p; p = p->next)
        if (p->relid == relid && p->change == change) return p;
    if (!callbacks_registered) {
        RegisterXactCallback(forget_pending, nullptr);
        RegisterSubXactCallback(on_subtransaction, nullptr);
        callbacks_registered = true;
    }
    auto* p = static_cast<PendingIds*>(MemoryContextAllocZero(TopTransactionContext, sizeof(PendingIds)));
    p->relid = relid;
    p->change = change;
    strlcpy(p->tipo_entidade, tipo_entidade, NAMEDATALEN);
    p->capacity = 64;
    p->ids = static_cast<int64*>(MemoryContextAlloc(TopTransactionContext, sizeof(int64) * p->capacity));
    p->next = pending;
    pending = p;
    return p;
}

void record(PendingIds* p, int64 id) {
    if (p->count > 0 && p->ids[p->count - 1] == id) return;  // the same row again
    SubTransactionId subid = GetCurrentSubTransactionId();
    if (subid != TopSubTransactionId && (p->mark_count == 0 || p->marks[p->mark_count - 1].subid < subid)) {
        if (p->mark_count == p->mark_capacity) {
            p->mark_capacity = p->mark_capacity ? p->mark_capacity * 2 : 4;
            p->marks = static_cast<Mark*>(p->marks ? repalloc(p->marks, sizeof(Mark) * p->mark_capacity)
                                                   : MemoryContextAlloc(TopTransactionContext,
                                                                        sizeof(Mark) * p->mark_capacity));
        }
        p->marks[p->mark_count++] = {subid, p->count};
    }
    if (p->count == p->capacity) {
        p->capacity *= 2;
        p->ids = static_cast<int64*>(repalloc_huge(p->ids, sizeof(int64) * p->capacity));
    }
    p->ids[p->count++] = id;
}

int64 id_of(HeapTuple tuple, TupleDesc desc, const TriggerColumns* cols, bool* isnull) {
    Datum value = heap_getattr(tuple, cols->id_attnum, desc, isnull);
    if (*isnull) return 0;
    switch (cols->id_type) {
        case INT2OID: return DatumGetInt16(value);
        case INT4OID: return DatumGetInt32(value);
        default: return DatumGetInt64(value);
    }
}

bool watched_column_changed(HeapTuple before, HeapTuple after, TupleDesc desc, const TriggerColumns* cols) {
    for (int i = 0; i < cols->watched_count; ++i) {
        AttrNumber attnum = cols->watched[i];
        bool null_before, null_after;
        Datum a = heap_getattr(before, attnum, desc, &null_before);
        Datum b = heap_getattr(after, attnum, desc, &null_after);
        if (null_before != null_after) return true;
        if (null_before) continue;
        Form_pg_attribute att = TupleDescAttr(desc, attnum - 1);
        if (!datumIsEqual(a, b, att->attbyval, att->attlen)) return true;
    }
    return false;
}

// The role the queue is written as: the owner of the extension's trigger function.
Oid extension_owner(Oid function_oid) {
    static Oid cached_function = InvalidOid, cached_owner = InvalidOid;
    if (function_oid != cached_function) {
        HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function_oid));
        if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for function %u", function_oid);
        cached_owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proowner;
        ReleaseSysCache(tuple);
        cached_function = function_oid;
    }
    return cached_owner;
}

// Every statement below names its schema, and its functions and operators through
// pg_catalog, on top of the pinned search_path. Each queues only when
// chatwoot.rastreamentos lists the table ($5) with the kind ($1).
#define TRACKED "EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tabela OPERATOR(pg_catalog.=) $5 " \
                "AND r.tipo_entidade OPERATOR(pg_catalog.=) $1)"
#define PENDING_CONFLICT "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' "

const char* const kQueueSql[3] = {
    // insert: due at once
    "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id) "
    "SELECT 'upsert_contato', $1, i FROM pg_catalog.unnest($2) AS i WHERE " TRACKED " " PENDING_CONFLICT
    "DO UPDATE SET tipo = 'upsert_contato', executar_apos = LEAST(f.executar_apos, pg_catalog.now()), "
    "atualizado_em = pg_catalog.now()",
    // update: debounced, see queue_ids
    "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id, executar_apos) "
    "SELECT 'upsert_contato', $1, i, pg_catalog.now() OPERATOR(pg_catalog.+) "
    "pg_catalog.make_interval(secs => $3 OPERATOR(pg_catalog./) 1000.0) "
    "FROM pg_catalog.unnest($2) AS i WHERE " TRACKED " " PENDING_CONFLICT
    "DO UPDATE SET atualizado_em = pg_catalog.now(), executar_apos = CASE WHEN f.executar_apos "
    "OPERATOR(pg_catalog.<=) pg_catalog.now() THEN f.executar_apos ELSE LEAST(EXCLUDED.executar_apos, f.criado_em "
    "OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $4 OPERATOR(pg_catalog./) 1000.0)) END",
    // remove: due at once; the mapping is marked removed now, in the app's transaction, so
    // that a new party that reuses the id never inherits the contact
    "WITH ids AS (SELECT i FROM pg_catalog.unnest($2) AS i WHERE " TRACKED "), "
    "removidas AS (UPDATE chatwoot.partes_chatwoot p SET removida = true FROM ids "
    "  WHERE p.tipo_entidade OPERATOR(pg_catalog.=) $1 AND p.entidade_id OPERATOR(pg_catalog.=) ids.i "
    "  AND p.chatwoot_contact_id IS NOT NULL AND NOT p.removida) "
    "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id) "
    "SELECT 'desativar_contato', $1, i FROM ids " PENDING_CONFLICT
    "DO UPDATE SET tipo = 'desativar_contato', executar_apos = LEAST(f.executar_apos, pg_catalog.now()), "
    "atualizado_em = pg_catalog.now()",
};
const char* const kLoteSql =
    "INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, ids) SELECT 'lote', $1, 0, $2 WHERE " TRACKED;
const char* const kProblemSql =
    "UPDATE chatwoot.rastreamentos SET erro = $2, erro_em = pg_catalog.now() "
    "WHERE tabela OPERATOR(pg_catalog.=) $1 AND erro IS DISTINCT FROM $2";

// Queues `p` with one INSERT; in a subtransaction so nothing here fails the app.
//  * inserts and deletions are due at once (a deletion turns a pending upsert into
//    a deactivation);
//  * updates are debounced: due chatwoot_sync.update_debounce from now, and each
//    further update pushes a not-yet-due job forward (but never later than
//    chatwoot_sync.update_max_wait after it was queued), so a burst of edits to one
//    party becomes one request.
void queue_ids(PendingIds* p, Oid owner) {
    static SPIPlanPtr plans[3] = {nullptr, nullptr, nullptr};
    static SPIPlanPtr insert_lote = nullptr;
    static SPIPlanPtr record_problem = nullptr;
    int which = static_cast<int>(p->change);

    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    PG_TRY();
    {
        // Inside the subtransaction: an ERROR rolls back the identity and the setting too.
        Oid app_user;
        int app_context;
        GetUserIdAndSecContext(&app_user, &app_context);
        SetUserIdAndSecContext(owner, app_context | SECURITY_LOCAL_USERID_CHANGE);
        int guc_level = NewGUCNestLevel();
        (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
                                true, 0, false);
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        Oid types[5] = {TEXTOID, INT8ARRAYOID, INT4OID, INT4OID, OIDOID};
        if (plans[which] == nullptr) {
            SPIPlanPtr plan = SPI_prepare(kQueueSql[which], 5, types);
            if (plan == nullptr || SPI_keepplan(plan) != 0) elog(ERROR, "could not prepare the queue insert");
            plans[which] = plan;
        }
        if (insert_lote == nullptr) {
            Oid lote_types[5] = {TEXTOID, INT8ARRAYOID, INT4OID, INT4OID, OIDOID};
            SPIPlanPtr plan = SPI_prepare(kLoteSql, 5, lote_types);
            if (plan == nullptr || SPI_keepplan(plan) != 0) elog(ERROR, "could not prepare the batch insert");
            insert_lote = plan;
        }
        bool bulk = p->count > kLoteThreshold && p->change == Change::insert;
        int chunk = bulk ? kLoteChunk : Max(p->count, 1);
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * chunk));
        Datum values[5] = {CStringGetTextDatum(p->tipo_entidade), (Datum)0,
                           Int32GetDatum(chatwoot::pg::settings.update_debounce_ms),
                           Int32GetDatum(chatwoot::pg::settings.update_max_wait_ms), ObjectIdGetDatum(p->relid)};
        for (int start = 0; start < p->count; start += chunk) {
            int n = Min(chunk, p->count - start);
            for (int i = 0; i < n; ++i) elems[i] = Int64GetDatum(p->ids[start + i]);
            values[1] = PointerGetDatum(
                construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
            int rc = SPI_execute_plan(bulk ? insert_lote : plans[which], values, nullptr, false, 0);
            if (rc != SPI_OK_INSERT && rc != SPI_OK_INSERT_RETURNING) elog(ERROR, "queue insert failed: %d", rc);
        }
        // The last problem this backend recorded is not written again per statement.
        static Oid recorded_relid = InvalidOid;
        static char recorded_problem[kProblemLength];
        if (p->problem[0] && (recorded_relid != p->relid || strcmp(recorded_problem, p->problem) != 0)) {
            if (record_problem == nullptr) {
                Oid problem_types[2] = {OIDOID, TEXTOID};
                SPIPlanPtr plan = SPI_prepare(kProblemSql, 2, problem_types);
                if (plan == nullptr || SPI_keepplan(plan) != 0) elog(ERROR, "could not prepare the problem record");
                record_problem = plan;
            }
            Datum problem[2] = {ObjectIdGetDatum(p->relid), CStringGetTextDatum(p->problem)};
            SPI_execute_plan(record_problem, problem, nullptr, false, 0);
            recorded_relid = p->relid;
            strlcpy(recorded_problem, p->problem, kProblemLength);
        }
        SPI_finish();
        AtEOXact_GUC(true, guc_level);
        SetUserIdAndSecContext(app_user, app_context);
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        ErrorData* error = CopyErrorData();
        FlushErrorState();
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(caller_context);
        CurrentResourceOwner = caller_owner;
        // A cancel or shutdown is not ours to swallow.
        if (error->sqlerrcode == ERRCODE_QUERY_CANCELED || error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN)
            ReThrowError(error);
        ereport(WARNING, (errmsg("chatwoot_sync: could not queue %d change(s) of %s: %s", p->count,
                                 p->tipo_entidade, error->message),
                          errhint("The app's statement succeeded; requeue with chatwoot.sincronizar_app_para_chatwoot().")));
        FreeErrorData(error);
        for (auto& plan : plans) plan = nullptr;  // re-prepare next time (the plans may be what broke)
        insert_lote = nullptr;
        record_problem = nullptr;
    }
    PG_END_TRY();
}

}  // namespace

extern "C" {
PG_FUNCTION_INFO_V1(chatwoot_registrar_mudanca);
PG_FUNCTION_INFO_V1(chatwoot_enfileirar_mudancas);
PG_FUNCTION_INFO_V1(chatwoot_acordar_no_commit);
}

extern "C" Datum chatwoot_registrar_mudanca(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("chatwoot._registrar_mudanca is a trigger function")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("chatwoot._registrar_mudanca must be a BEFORE ROW trigger")));
    HeapTuple result = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
    const TriggerColumns* cols = columns_for(td->tg_trigger, td->tg_relation);
    Oid relid = RelationGetRelid(td->tg_relation);
    const char* tipo_entidade = td->tg_trigger->tgnargs > 0 ? td->tg_trigger->tgargs[0] : "";
    if (cols->broken) {
        strlcpy(pending_for(relid, Change::insert, tipo_entidade)->problem, cols->problem, kProblemLength);
        return PointerGetDatum(result);
    }
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    bool isnull = false;

    if (TRIGGER_FIRED_BY_INSERT(td->tg_event)) {
        int64 id = id_of(td->tg_trigtuple, desc, cols, &isnull);
        if (!isnull) record(pending_for(relid, Change::insert, tipo_entidade), id);
    } else if (TRIGGER_FIRED_BY_UPDATE(td->tg_event)) {
        bool old_null = false;
        int64 old_id = id_of(td->tg_trigtuple, desc, cols, &old_null);
        int64 new_id = id_of(td->tg_newtuple, desc, cols, &isnull);
        if (!isnull && (old_null || old_id != new_id)) {
            record(pending_for(relid, Change::insert, tipo_entidade), new_id);
            if (!old_null) record(pending_for(relid, Change::remove, tipo_entidade), old_id);
        } else if (!isnull && watched_column_changed(td->tg_trigtuple, td->tg_newtuple, desc, cols)) {
            record(pending_for(relid, Change::update, tipo_entidade), new_id);
        }
    } else if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
        int64 id = id_of(td->tg_trigtuple, desc, cols, &isnull);
        if (!isnull) record(pending_for(relid, Change::remove, tipo_entidade), id);
    }
    return PointerGetDatum(result);
}

extern "C" Datum chatwoot_enfileirar_mudancas(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("chatwoot._enfileirar_mudancas is a trigger function")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    Oid relid = RelationGetRelid(td->tg_relation);
    bool queued = false;
    for (PendingIds* p = pending; p; p = p->next) {
        if (p->relid != relid || (p->count == 0 && !p->problem[0])) continue;
        queue_ids(p, extension_owner(fcinfo->flinfo->fn_oid));
        queued = queued || p->count > 0;
        p->count = 0;
        p->mark_count = 0;
        p->problem[0] = '\0';
    }
    if (queued) chatwoot::pg::wake_worker_at_commit();
    return PointerGetDatum(nullptr);
}

// chatwoot._acordar_no_commit(): for SQL functions that queue work.
extern "C" Datum chatwoot_acordar_no_commit(PG_FUNCTION_ARGS) {
    chatwoot::pg::wake_worker_at_commit();
    PG_RETURN_VOID();
}
