// boundary: postgres-style
// SQL functions about the background workers: chatwoot.worker_status(),
// chatwoot.aguardar_worker(), chatwoot.acordar_worker(), and the launcher
// notification the install script calls. Their bodies own no C++ objects, so
// they call PostgreSQL directly (see boundary.hpp).
#include "pg/boundary/app_code_fence.hpp"
#include "pg/boundary/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"


extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "mb/pg_wchar.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

using namespace chatwoot::pg;

static void require_preload() {
    if (registry == nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("chatwoot_sync não foi carregado por shared_preload_libraries"),
                        errhint("Inclua chatwoot_sync em shared_preload_libraries e reinicie o PostgreSQL.")));
}

static Datum nullable_timestamp(TimestampTz value, bool* isnull) {
    *isnull = value == 0;
    return TimestampTzGetDatum(value);
}

CHATWOOT_FUNCTION_ANY_SCHEMA(chatwoot_worker_status) {
    constexpr int kColumns = 15;
    InitMaterializedSRF(fcinfo, 0);
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (registry == nullptr) return (Datum)0;  // not preloaded: no workers to report

    // Copy under the lock, build tuples after releasing it.
    WorkerSlot slots[kMaxWorkers];
    pid_t launcher_pid;
    TimestampTz launcher_started;
    LWLockAcquire(registry->lock, LW_SHARED);
    memcpy(slots, registry->slots, sizeof(slots));
    launcher_pid = registry->launcher_pid;
    launcher_started = registry->launcher_started_at;
    LWLockRelease(registry->lock);

    {
        Datum values[kColumns];
        bool nulls[kColumns];
        memset(nulls, true, sizeof(nulls));
        values[0] = CStringGetTextDatum("launcher");
        nulls[0] = false;
        if (launcher_pid != 0) {
            values[2] = Int32GetDatum(launcher_pid);
            nulls[2] = false;
        }
        values[3] = CStringGetTextDatum(launcher_pid != 0 ? "ativo" : "parado");
        nulls[3] = false;
        values[4] = nullable_timestamp(launcher_started, &nulls[4]);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    // A role outside pg_monitor sees its own database's worker only (the others' last
    // errors and databases are not its business).
    bool see_all = has_privs_of_role(GetUserId(), ROLE_PG_MONITOR);
    for (const auto& slot : slots) {
        if (slot.state == WorkerState::free) continue;
        if (!see_all && slot.database_oid != MyDatabaseId) continue;
        Datum values[kColumns];
        bool nulls[kColumns];
        memset(nulls, false, sizeof(nulls));
        values[0] = CStringGetTextDatum("worker");
        values[1] = CStringGetTextDatum(slot.database_name);
        values[2] = Int32GetDatum(slot.pid);
        nulls[2] = slot.pid == 0;
        values[3] = CStringGetTextDatum(state_name(slot.state));
        values[4] = nullable_timestamp(slot.started_at, &nulls[4]);
        values[5] = nullable_timestamp(slot.last_loop_at, &nulls[5]);
        values[6] = Int64GetDatum(slot.jobs_done);
        values[7] = Int64GetDatum(slot.in_flight);
        values[8] = CStringGetTextDatum(slot.last_error);
        nulls[8] = slot.last_error[0] == '\0';
        values[9] = Int32GetDatum(slot.config_reloads);
        values[10] = Int32GetDatum(slot.poll_interval_ms);
        values[11] = Float8GetDatum(slot.throughput);
        bool paused = slot.pid != 0 && slot.paused_until > GetCurrentTimestamp();
        values[12] = TimestampTzGetDatum(slot.paused_until);
        nulls[12] = !paused;
        values[13] = CStringGetTextDatum(slot.pause_reason);
        nulls[13] = !paused || slot.pause_reason[0] == '\0';
        values[14] = CStringGetTextDatum(slot.warnings);
        nulls[14] = slot.warnings[0] == '\0';
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// Monitoring: per database worker, the integration it sends with, its requests and
// 429s since that integration was set (reset by a server restart: counters for
// Prometheus), and the request budget in force (what 429s taught, when lower than
// the configured one). Same visibility as worker_status().
CHATWOOT_FUNCTION_ANY_SCHEMA(chatwoot_requisicoes_chatwoot) {
    constexpr int kColumns = 7;
    InitMaterializedSRF(fcinfo, 0);
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (registry == nullptr) return (Datum)0;
    WorkerSlot slots[kMaxWorkers];
    LWLockAcquire(registry->lock, LW_SHARED);
    memcpy(slots, registry->slots, sizeof(slots));
    LWLockRelease(registry->lock);
    bool see_all = has_privs_of_role(GetUserId(), ROLE_PG_MONITOR);
    auto now_s = static_cast<std::int64_t>(time(nullptr));
    for (const auto& slot : slots) {
        if (slot.state == WorkerState::free) continue;
        if (!see_all && slot.database_oid != MyDatabaseId) continue;
        Datum values[kColumns];
        bool nulls[kColumns];
        memset(nulls, false, sizeof(nulls));
        auto counts = slot.requests.counts();
        auto terms = slot.requests.terms();
        values[0] = CStringGetTextDatum(slot.database_name);
        values[1] = Int64GetDatum(slot.integration_id);
        nulls[1] = slot.integration_id == 0;
        values[2] = Int64GetDatum(counts.sent);
        values[3] = Int64GetDatum(counts.throttled);
        values[4] = Int32GetDatum(terms.limit);
        nulls[4] = terms.window_s == 0;  // nothing published: no budget has paced a request yet
        values[5] = Int32GetDatum(terms.window_s);
        nulls[5] = terms.window_s == 0;
        std::int64_t window = terms.window_s > 0 ? chatwoot::core::clock_window_start(
                                                       std::chrono::system_clock::from_time_t(now_s),
                                                       std::chrono::seconds(terms.window_s))
                                                 : 0;
        values[6] = Int32GetDatum(slot.requests.usage(window).used);
        nulls[6] = terms.window_s == 0;
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// Test and ops barrier: waits until this database's worker is attached and has
// completed a cycle since `desde` (default: any). Returns false on timeout.
CHATWOOT_FUNCTION_ANY_SCHEMA(chatwoot_aguardar_worker) {
    require_preload();
    int timeout_ms = PG_GETARG_INT32(0);
    TimestampTz since = PG_ARGISNULL(1) ? 0 : PG_GETARG_TIMESTAMPTZ(1);
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
    for (;;) {
        bool ready = false;
        LWLockAcquire(registry->lock, LW_SHARED);
        WorkerSlot* slot = find_slot(MyDatabaseId);
        if (slot && slot->pid != 0 && BackendPidGetProc(slot->pid) != nullptr && slot->last_loop_at != 0 &&
            slot->last_loop_at >= since)
            ready = true;
        LWLockRelease(registry->lock);
        if (ready) PG_RETURN_BOOL(true);
        if (GetCurrentTimestamp() >= deadline) PG_RETURN_BOOL(false);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
}

CHATWOOT_FUNCTION_ANY_SCHEMA(chatwoot_acordar_worker) {
    require_preload();
    PG_RETURN_BOOL(wake_worker());
}

// Called by the install script. Refuses to install where no worker would ever
// drain the queue (work would pile up silently), then asks the launcher to start
// this database's worker once the CREATE EXTENSION commits.
CHATWOOT_FUNCTION_ANY_SCHEMA(chatwoot_registrar_instalacao) {
    require_preload();
    // Chatwoot speaks UTF-8 JSON, and everything the extension stores is UTF-8.
    if (GetDatabaseEncoding() != PG_UTF8)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("chatwoot_sync requer um banco com codificação UTF8, não %s", GetDatabaseEncodingName())));
    const char* database_name = get_database_name(MyDatabaseId);
    if (!database_listed(database_name))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("o banco \"%s\" não é atendido pelo chatwoot_sync", database_name),
                        errdetail("chatwoot_sync.database_name é \"%s\".", settings.database_name),
                        errhint("Inclua-o: ALTER SYSTEM SET chatwoot_sync.database_name = '...,%s'; "
                                "SELECT pg_reload_conf(); depois CREATE EXTENSION de novo.",
                                database_name)));
    wake_launcher_at_commit();
    PG_RETURN_VOID();
}

// chatwoot._conexao_mudou(): row trigger on chatwoot.integracoes. At commit the
// database's worker learns the connection changed (and wakes even while quiet).
extern "C" {
PG_FUNCTION_INFO_V1(chatwoot_conexao_mudou);
PG_FUNCTION_INFO_V1(chatwoot_ids_rastreados);
}

// Like the app's triggers, it works on any schema version: a statement must never
// fail because of sync.
extern "C" Datum chatwoot_conexao_mudou(PG_FUNCTION_ARGS) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("chatwoot._conexao_mudou é uma função de gatilho")));
    connection_changed_at_commit();
    return PointerGetDatum(nullptr);
}

// chatwoot._ids_rastreados(tabela, coluna_id, coluna_ativo): the ids of a tracked
// table's (active) rows, read as the table's owner in a security-restricted
// operation with search_path pinned, as REFRESH MATERIALIZED VIEW reads. An ERROR
// inside unwinds through the caller's (sub)transaction, which restores the identity
// and the settings. Plain C: no C++ objects.
extern "C" Datum chatwoot_ids_rastreados(PG_FUNCTION_ARGS) {
    require_current_schema();
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tabela e coluna_id são obrigatórias")));
    Oid relid = PG_GETARG_OID(0);
    char* id_column = text_to_cstring(PG_GETARG_TEXT_PP(1));
    char* active_column = PG_ARGISNULL(2) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(2));
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);  // a set of bigint, called in FROM
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("a tabela %u não existe mais", relid)));
    auto* rel = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple));
    Oid owner = rel->relowner;
    char* name = quote_qualified_identifier(get_namespace_name(rel->relnamespace), NameStr(rel->relname));
    ReleaseSysCache(tuple);

    StringInfoData sql;
    initStringInfo(&sql);
    appendStringInfo(&sql, "SELECT t.%s::pg_catalog.int8 FROM ONLY %s t", quote_identifier(id_column), name);
    if (active_column) appendStringInfo(&sql, " WHERE COALESCE(t.%s, true)", quote_identifier(active_column));

    // In the fence: the owner's identity, settings pinned and rolled back at the end,
    // row_security off. Its error path leaves the fence too, then re-raises.
    struct Read {
        AppCodeFence fence;
        Oid owner;
        const char* sql;
        const char* name;
        ReturnSetInfo* rsinfo;
    } read{AppCodeFence{}, owner, sql.data, name, rsinfo};
    ErrorData* error = catch_pg_error(
        +[](void* arg) {
            auto* r = static_cast<Read*>(arg);
            enter_app_code_fence(&r->fence, r->owner, 0);
            if (SPI_connect() != SPI_OK_CONNECT)
                ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
            if (SPI_execute(r->sql, true, 0) != SPI_OK_SELECT)
                ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("could not read %s", r->name)));
            for (uint64 i = 0; i < SPI_processed; ++i) {
                bool isnull = false;
                Datum id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
                if (isnull) continue;
                tuplestore_putvalues(r->rsinfo->setResult, r->rsinfo->setDesc, &id, &isnull);
            }
            SPI_finish();
        },
        &read);
    leave_app_code_fence(&read.fence);
    if (error) ReThrowError(error);
    return (Datum)0;
}
