// SQL functions about the background workers: chatwoot.worker_status(),
// chatwoot.aguardar_worker(), chatwoot.acordar_worker(), and the launcher
// notification the install script calls. Their bodies own no C++ objects, so
// they call PostgreSQL directly (see boundary.hpp).
#include "pg/boundary.hpp"
#include "pg/settings.hpp"
#include "pg/worker_registry.hpp"

extern "C" {
#include "commands/dbcommands.h"
}

using namespace chatwoot::pg;

static void require_preload() {
    if (registry == nullptr)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("chatwoot_sync is not loaded through shared_preload_libraries"),
                        errhint("Add chatwoot_sync to shared_preload_libraries and restart PostgreSQL.")));
}

static Datum nullable_timestamp(TimestampTz value, bool* isnull) {
    *isnull = value == 0;
    return TimestampTzGetDatum(value);
}

CHATWOOT_FUNCTION(chatwoot_worker_status) {
    constexpr int kColumns = 12;
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
    for (const auto& slot : slots) {
        if (slot.state == WorkerState::free) continue;
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
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// Test and ops barrier: waits until this database's worker is attached and has
// completed a cycle since `desde` (default: any). Returns false on timeout.
CHATWOOT_FUNCTION(chatwoot_aguardar_worker) {
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

CHATWOOT_FUNCTION(chatwoot_acordar_worker) {
    require_preload();
    PG_RETURN_BOOL(wake_worker());
}

// Called by the install script. Refuses to install where no worker would ever
// drain the queue (work would pile up silently), then asks the launcher to start
// this database's worker once the CREATE EXTENSION commits.
CHATWOOT_FUNCTION(chatwoot_registrar_instalacao) {
    require_preload();
    const char* database_name = get_database_name(MyDatabaseId);
    if (!database_listed(database_name))
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("database \"%s\" is not served by chatwoot_sync", database_name),
                        errdetail("chatwoot_sync.database_name is \"%s\".", settings.database_name),
                        errhint("Add it: ALTER SYSTEM SET chatwoot_sync.database_name = '...,%s'; "
                                "SELECT pg_reload_conf(); then CREATE EXTENSION again.",
                                database_name)));
    wake_launcher_at_commit();
    PG_RETURN_VOID();
}
