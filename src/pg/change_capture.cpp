// The sync triggers on the app's tables, in C because they run for every row the
// app writes (bulk statements must stay fast):
//
//  * chatwoot._registrar_mudanca(tipo_entidade, id_column, watched columns...):
//    BEFORE ROW. Remembers the party's id in a per-transaction buffer: on INSERT,
//    on DELETE, and on an UPDATE that changed a watched column (an UPDATE of
//    anything else records nothing). No SPI, no allocation beyond the buffer.
//  * chatwoot._enfileirar_mudancas(): AFTER STATEMENT. Writes the recorded ids to
//    chatwoot.fila (one INSERT; for a bulk statement, 'lote' rows of up to 5,000 ids) in a
//    subtransaction: a failure here is logged as a WARNING and never fails the
//    app's statement. Then it asks for the worker to be woken at commit.
//
// Plain C-style code with no C++ objects, so PostgreSQL errors may unwind freely.
#include "pg/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/worker_registry.hpp"

extern "C" {
#include "access/htup_details.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/resowner.h"
}

namespace {

constexpr int kMaxWatched = 32;
constexpr int kLoteThreshold = 1000;  // above this many ids, 'lote' jobs instead of one job per id
constexpr int kLoteChunk = 5000;      // ids per 'lote' job: a claim reads (and rewrites, when it takes
                                      // only part) one lote's array, not the whole statement's ids

// Attribute numbers of a trigger's columns, resolved once per trigger.
struct TriggerColumns {
    Oid trigger_oid;
    AttrNumber id_attnum;
    Oid id_type;
    int watched_count;
    AttrNumber watched[kMaxWatched];
};

constexpr int kColumnCacheSize = 16;
TriggerColumns column_cache[kColumnCacheSize];
int column_cache_used = 0;
bool invalidation_registered = false;

void forget_columns(Datum, Oid) { column_cache_used = 0; }  // any relcache change: re-resolve

const TriggerColumns* columns_for(Trigger* trigger, TupleDesc desc) {
    for (int i = 0; i < column_cache_used; ++i)
        if (column_cache[i].trigger_oid == trigger->tgoid) return &column_cache[i];
    if (!invalidation_registered) {
        CacheRegisterRelcacheCallback(forget_columns, (Datum)0);
        invalidation_registered = true;
    }
    if (trigger->tgnargs < 2)
        ereport(ERROR, (errmsg("chatwoot._registrar_mudanca needs (tipo_entidade, id_column, columns...)")));
    if (column_cache_used == kColumnCacheSize) column_cache_used = 0;
    TriggerColumns* entry = &column_cache[column_cache_used];
    entry->trigger_oid = trigger->tgoid;
    entry->id_attnum = InvalidAttrNumber;
    entry->watched_count = 0;
    for (int a = 0; a < desc->natts; ++a) {
        Form_pg_attribute att = TupleDescAttr(desc, a);
        if (att->attisdropped) continue;
        if (strcmp(NameStr(att->attname), trigger->tgargs[1]) == 0) {
            entry->id_attnum = att->attnum;
            entry->id_type = att->atttypid;
        }
        for (int c = 2; c < trigger->tgnargs && entry->watched_count < kMaxWatched; ++c)
            if (strcmp(NameStr(att->attname), trigger->tgargs[c]) == 0) entry->watched[entry->watched_count++] = att->attnum;
    }
    if (entry->id_attnum == InvalidAttrNumber ||
        (entry->id_type != INT8OID && entry->id_type != INT4OID && entry->id_type != INT2OID))
        ereport(ERROR, (errmsg("chatwoot_sync: id column \"%s\" must exist and be an integer", trigger->tgargs[1])));
    ++column_cache_used;
    return entry;
}

// Ids recorded in this transaction, per table and operation.
enum class Change { insert, update, remove };

struct PendingIds {
    Oid relid;
    Change change;
    char tipo_entidade[NAMEDATALEN];
    int64* ids;
    int count;
    int capacity;
    PendingIds* next;
};

PendingIds* pending = nullptr;  // lives in TopTransactionContext
bool xact_callback_registered = false;

void forget_pending(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT)
        pending = nullptr;  // its memory goes with TopTransactionContext
}

PendingIds* pending_for(Oid relid, Change change, const char* tipo_entidade) {
    for (PendingIds* p = pending; p; p = p->next)
        if (p->relid == relid && p->change == change) return p;
    if (!xact_callback_registered) {
        RegisterXactCallback(forget_pending, nullptr);
        xact_callback_registered = true;
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

// Queues `p` with one INSERT; in a subtransaction so nothing here fails the app.
//  * inserts and deletions are due at once (a deletion turns a pending upsert into
//    a deactivation);
//  * updates are debounced: due chatwoot_sync.update_debounce from now, and each
//    further update pushes a not-yet-due job forward (but never later than
//    chatwoot_sync.update_max_wait after it was queued), so a burst of edits to one
//    party becomes one request.
void queue_ids(PendingIds* p) {
    static SPIPlanPtr plans[3] = {nullptr, nullptr, nullptr};
    static SPIPlanPtr insert_lote = nullptr;
    static const char* const sql[3] = {
        // insert
        "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id) "
        "SELECT 'upsert_contato', $1, i FROM unnest($2) AS i "
        "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' "
        "DO UPDATE SET tipo = 'upsert_contato', executar_apos = least(f.executar_apos, now()), atualizado_em = now()",
        // update
        "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id, executar_apos) "
        "SELECT 'upsert_contato', $1, i, now() + make_interval(secs => $3 / 1000.0) FROM unnest($2) AS i "
        "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' "
        "DO UPDATE SET atualizado_em = now(), executar_apos = CASE WHEN f.executar_apos <= now() "
        "  THEN f.executar_apos ELSE least(EXCLUDED.executar_apos, f.criado_em + make_interval(secs => $4 / 1000.0)) END",
        // remove
        "INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id) "
        "SELECT 'desativar_contato', $1, i FROM unnest($2) AS i "
        "ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote' "
        "DO UPDATE SET tipo = 'desativar_contato', executar_apos = least(f.executar_apos, now()), atualizado_em = now()",
    };
    int which = static_cast<int>(p->change);

    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    PG_TRY();
    {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        Oid types[4] = {TEXTOID, INT8ARRAYOID, INT4OID, INT4OID};
        if (plans[which] == nullptr) {
            SPIPlanPtr plan = SPI_prepare(sql[which], which == 1 ? 4 : 2, types);
            if (plan == nullptr || SPI_keepplan(plan) != 0) elog(ERROR, "could not prepare the queue insert");
            plans[which] = plan;
        }
        if (insert_lote == nullptr) {
            SPIPlanPtr plan = SPI_prepare(
                "INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, ids) VALUES ('lote', $1, 0, $2)", 2,
                types);
            if (plan == nullptr || SPI_keepplan(plan) != 0) elog(ERROR, "could not prepare the batch insert");
            insert_lote = plan;
        }
        bool bulk = p->count > kLoteThreshold && p->change == Change::insert;
        int chunk = bulk ? kLoteChunk : p->count;
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * chunk));
        Datum values[4] = {CStringGetTextDatum(p->tipo_entidade), (Datum)0,
                           Int32GetDatum(chatwoot::pg::settings.update_debounce_ms),
                           Int32GetDatum(chatwoot::pg::settings.update_max_wait_ms)};
        for (int start = 0; start < p->count; start += chunk) {
            int n = Min(chunk, p->count - start);
            for (int i = 0; i < n; ++i) elems[i] = Int64GetDatum(p->ids[start + i]);
            values[1] = PointerGetDatum(
                construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
            int rc = SPI_execute_plan(bulk ? insert_lote : plans[which], values, nullptr, false, 0);
            if (rc != SPI_OK_INSERT) elog(ERROR, "queue insert failed: %d", rc);
        }
        SPI_finish();
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
    if (!CALLED_AS_TRIGGER(fcinfo)) ereport(ERROR, (errmsg("chatwoot._registrar_mudanca is a trigger function")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
        ereport(ERROR, (errmsg("chatwoot._registrar_mudanca must be a BEFORE ROW trigger")));
    TupleDesc desc = RelationGetDescr(td->tg_relation);
    const TriggerColumns* cols = columns_for(td->tg_trigger, desc);
    Oid relid = RelationGetRelid(td->tg_relation);
    const char* tipo_entidade = td->tg_trigger->tgargs[0];
    bool isnull = false;

    if (TRIGGER_FIRED_BY_INSERT(td->tg_event)) {
        int64 id = id_of(td->tg_trigtuple, desc, cols, &isnull);
        if (!isnull) record(pending_for(relid, Change::insert, tipo_entidade), id);
        return PointerGetDatum(td->tg_trigtuple);
    }
    if (TRIGGER_FIRED_BY_UPDATE(td->tg_event)) {
        bool old_null = false;
        int64 old_id = id_of(td->tg_trigtuple, desc, cols, &old_null);
        int64 new_id = id_of(td->tg_newtuple, desc, cols, &isnull);
        if (!isnull && (old_null || old_id != new_id)) {
            record(pending_for(relid, Change::insert, tipo_entidade), new_id);
            if (!old_null) record(pending_for(relid, Change::remove, tipo_entidade), old_id);
        } else if (!isnull && watched_column_changed(td->tg_trigtuple, td->tg_newtuple, desc, cols)) {
            record(pending_for(relid, Change::update, tipo_entidade), new_id);
        }
        return PointerGetDatum(td->tg_newtuple);
    }
    if (TRIGGER_FIRED_BY_DELETE(td->tg_event)) {
        int64 id = id_of(td->tg_trigtuple, desc, cols, &isnull);
        if (!isnull) record(pending_for(relid, Change::remove, tipo_entidade), id);
        return PointerGetDatum(td->tg_trigtuple);
    }
    return PointerGetDatum(td->tg_trigtuple);
}

extern "C" Datum chatwoot_enfileirar_mudancas(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo)) ereport(ERROR, (errmsg("chatwoot._enfileirar_mudancas is a trigger function")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    Oid relid = RelationGetRelid(td->tg_relation);
    bool queued = false;
    for (PendingIds* p = pending; p; p = p->next) {
        if (p->relid != relid || p->count == 0) continue;
        queue_ids(p);
        p->count = 0;
        queued = true;
    }
    if (queued) chatwoot::pg::wake_worker_at_commit();
    return PointerGetDatum(nullptr);
}

// chatwoot._acordar_no_commit(): for SQL functions that queue work.
extern "C" Datum chatwoot_acordar_no_commit(PG_FUNCTION_ARGS) {
    chatwoot::pg::wake_worker_at_commit();
    PG_RETURN_VOID();
}
