// boundary: postgres-style
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
//  * chatwoot._enfileirar_mudancas(): AFTER STATEMENT. Appends the recorded ids to
//    chatwoot.mudancas, the change log (one row per 5,000 ids), through the heap API:
//    no SQL runs, so nothing of the session's (search_path, its objects, its role)
//    takes part, and the app's role needs no right on the log. In a subtransaction:
//    a failure is a WARNING and never fails the app's statement. Then it asks for
//    the worker to be woken at commit. The worker drains the log into chatwoot.fila
//    and ignores rows whose table and kind chatwoot.rastreamentos does not list, so
//    a trigger attached anywhere else queues nothing.
//
// Ids recorded in a subtransaction that aborts (a statement that failed after its
// row triggers ran, rolled back to a savepoint) are dropped with it.
//
// They never check the schema's version (see pg/boundary/schema_version.hpp): an app
// statement must never fail because of sync, so between a library upgrade and ALTER
// EXTENSION UPDATE they keep recording into the change log (whose shape every version
// keeps), and the updated worker drains it. Neither does _acordar_no_commit, which
// only asks for a wake-up at commit (the TRUNCATE trigger calls it).
//
// Plain C-style code with no C++ objects, so PostgreSQL errors may unwind freely.
#include "core/text/text.hpp"
#include "pg/boundary/boundary.hpp"
#include "pg/boundary/qualified_sql.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/heapam.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "commands/sequence.h"
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

// chatwoot.mudancas, the change log: its relation and identity sequence, looked up
// once per backend (again after a relcache reset or a change of the log itself, e.g.
// DROP / CREATE EXTENSION).
Oid log_relid = InvalidOid;
Oid log_sequence = InvalidOid;

// A relcache change of a table: re-resolve its triggers' columns (all, for a reset).
void forget_columns(Datum, Oid relid) {
    if (!OidIsValid(relid) || relid == log_relid) log_relid = InvalidOid;
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

// Where the current statement's ids start in p->ids: those of the current
// subtransaction and of its committed children. Older ones belong to an outer
// statement on the same table (the app's trigger inserting into it in an exception
// block), which writes them itself: written here, an abort of this subtransaction
// would take them away. Sets *mark to the first of the statement's marks.
int first_of_statement(const PendingIds* p, int* mark) {
    SubTransactionId subid = GetCurrentSubTransactionId();
    if (subid == TopSubTransactionId) {
        *mark = 0;
        return 0;
    }
    int k = p->mark_count;
    while (k > 0 && p->marks[k - 1].subid >= subid) --k;
    *mark = k;
    return k < p->mark_count ? p->marks[k].count : p->count;
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

bool find_change_log() {
    if (OidIsValid(log_relid)) return true;
    Oid schema = get_namespace_oid("chatwoot", true);
    Oid relid = OidIsValid(schema) ? get_relname_relid("mudancas", schema) : InvalidOid;
    if (!OidIsValid(relid)) return false;
    log_sequence = getIdentitySequence(relid, 1, false);
    log_relid = relid;
    return true;
}

constexpr char kChangeCode[3] = {'i', 'u', 'r'};  // mudancas.tipo: insert, update, remove
// The biggest id array one row of the log carries: a claim takes parties from one lote
// of at most this many (see the worker's ingestion), so a bulk statement's work starts
// after its first chunk, not after the whole statement.
constexpr int kLogChunk = 5000;

// Runs body(arg) in an internal subtransaction. Returns NULL when it committed, else
// the error (rolled back, for the caller to report and free). A cancel or a shutdown
// is not ours to swallow: it is thrown on.
struct SubtransactionBody {
    void (*body)(void*);
    void* arg;
};

void run_and_release(void* p) {
    auto* call = static_cast<SubtransactionBody*>(p);
    call->body(call->arg);
    ReleaseCurrentSubTransaction();
}

ErrorData* try_in_subtransaction(void (*body)(void*), void* arg) {
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    SubtransactionBody call{body, arg};
    ErrorData* error = chatwoot::pg::catch_pg_error(run_and_release, &call);
    if (error) RollbackAndReleaseCurrentSubTransaction();  // also restores the user id and the settings
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;
    if (error && (error->sqlerrcode == ERRCODE_QUERY_CANCELED || error->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN))
        ReThrowError(error);
    return error;
}

// What write_changes writes: the ids of `pending` from `from` on.
struct Changes {
    PendingIds* pending;
    int from;  // the first of pending->ids to write
};

// Appends them to chatwoot.mudancas: one row per chunk of ids, written through the heap
// API (the table has no index, no trigger and no constraint by design: the worker
// drains it into chatwoot.fila, checking each row's table and kind against
// chatwoot.rastreamentos). No SQL runs, so nothing of the session (search_path, its
// own objects, its role's rights) takes part.
void write_changes(void* arg) {
    auto* changes = static_cast<Changes*>(arg);
    PendingIds* p = changes->pending;
    if (!find_change_log())
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("chatwoot.mudancas não existe")));
    Relation log = table_open(log_relid, RowExclusiveLock);
    if (RelationGetForm(log)->relhasindex || log->trigdesc != nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("chatwoot.mudancas não pode ter índice nem gatilho")));
    Datum values[6];
    bool nulls[6] = {false, false, false, false, false, false};
    values[1] = ObjectIdGetDatum(p->relid);
    values[2] = CStringGetTextDatum(p->tipo_entidade);
    values[3] = CharGetDatum(kChangeCode[static_cast<int>(p->change)]);
    values[5] = TimestampTzGetDatum(GetCurrentTimestamp());
    int chunk = Min(Max(p->count - changes->from, 1), kLogChunk);
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * chunk));
    for (int start = changes->from; start < p->count; start += chunk) {
        int n = Min(chunk, p->count - start);
        for (int i = 0; i < n; ++i) elems[i] = Int64GetDatum(p->ids[start + i]);
        values[0] = Int64GetDatum(nextval_internal(log_sequence, false));
        values[4] = PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
        HeapTuple tuple = heap_form_tuple(RelationGetDescr(log), values, nulls);
        simple_heap_insert(log, tuple);
        heap_freetuple(tuple);
    }
    table_close(log, NoLock);
}

// Appends the ids from `from` on. A failure is a WARNING and never fails the app's statement.
void append_changes(PendingIds* p, int from) {
    Changes changes{p, from};
    ErrorData* error = try_in_subtransaction(write_changes, &changes);
    if (!error) return;
    log_relid = InvalidOid;  // looked up again next time
    ereport(WARNING, (errmsg("chatwoot_sync: %d mudança(s) de %s não foram enfileiradas: %s", p->count - from,
                             p->tipo_entidade, error->message),
                      errhint("O comando do aplicativo foi executado; reenfileire com chatwoot.sincronizar_app_para_chatwoot().")));
    FreeErrorData(error);
}

struct Problem {
    PendingIds* pending;
    Oid owner;
};

// Writes the problem into chatwoot.rastreamentos.erro as the extension owner, with
// search_path pinned (the subtransaction's end restores both).
void write_problem(void* arg) {
    auto* problem = static_cast<Problem*>(arg);
    Oid app_user;
    int app_context;
    GetUserIdAndSecContext(&app_user, &app_context);
    SetUserIdAndSecContext(problem->owner, app_context | SECURITY_LOCAL_USERID_CHANGE);
    int guc_level = NewGUCNestLevel();
    (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                            0, false);
    if (SPI_connect() != SPI_OK_CONNECT) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
    Oid types[2] = {OIDOID, TEXTOID};
    Datum values[2] = {ObjectIdGetDatum(problem->pending->relid), CStringGetTextDatum(problem->pending->problem)};
    SPI_execute_with_args(
        "UPDATE chatwoot.rastreamentos SET erro = $2, erro_em = pg_catalog.now() "
        "WHERE tabela OPERATOR(pg_catalog.=) $1 AND " SQL_IS_DISTINCT("erro", "$2"),
        2, types, values, nullptr, false, 0);
    SPI_finish();
    AtEOXact_GUC(true, guc_level);
    SetUserIdAndSecContext(app_user, app_context);
}

// A table whose rows the row trigger had to skip: its problem goes to
// chatwoot.rastreamentos.erro (rare: once per backend and problem), in a
// subtransaction that never fails the app.
void record_problem(PendingIds* p, Oid owner) {
    static Oid recorded_relid = InvalidOid;
    static char recorded_problem[kProblemLength];
    if (recorded_relid == p->relid && strcmp(recorded_problem, p->problem) == 0) return;
    Problem problem{p, owner};
    ErrorData* error = try_in_subtransaction(write_problem, &problem);
    if (error) {
        FreeErrorData(error);  // the WARNING of the row trigger has said it
        return;
    }
    recorded_relid = p->relid;
    chatwoot::core::copy_utf8(recorded_problem, kProblemLength, p->problem);
}

// The role a problem is recorded as: the owner of the extension's trigger function.
Oid extension_owner(Oid function_oid) {
    static Oid cached_function = InvalidOid, cached_owner = InvalidOid;
    if (function_oid != cached_function) {
        HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(function_oid));
        if (!HeapTupleIsValid(tuple)) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("cache lookup failed for function %u", function_oid)));
        cached_owner = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple))->proowner;
        ReleaseSysCache(tuple);
        cached_function = function_oid;
    }
    return cached_owner;
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
                        errmsg("chatwoot._registrar_mudanca é uma função de gatilho")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("chatwoot._registrar_mudanca deve ser um gatilho BEFORE ROW")));
    HeapTuple result = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
    const TriggerColumns* cols = columns_for(td->tg_trigger, td->tg_relation);
    Oid relid = RelationGetRelid(td->tg_relation);
    const char* tipo_entidade = td->tg_trigger->tgnargs > 0 ? td->tg_trigger->tgargs[0] : "";
    if (cols->broken) {
        chatwoot::core::copy_utf8(pending_for(relid, Change::insert, tipo_entidade)->problem, kProblemLength, cols->problem);
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
                        errmsg("chatwoot._enfileirar_mudancas é uma função de gatilho")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    Oid relid = RelationGetRelid(td->tg_relation);
    bool queued = false;
    for (PendingIds* p = pending; p; p = p->next) {
        if (p->relid != relid || (p->count == 0 && !p->problem[0])) continue;
        int mark;
        int from = first_of_statement(p, &mark);
        if (p->count > from) append_changes(p, from);
        if (p->problem[0]) record_problem(p, extension_owner(fcinfo->flinfo->fn_oid));
        queued = queued || p->count > from;
        p->count = from;
        p->mark_count = mark;
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
