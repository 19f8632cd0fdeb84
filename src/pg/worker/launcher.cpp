// boundary: postgres-style
// The launcher: one static background worker that starts a worker per database
// listed in chatwoot_sync.database_name, and again whenever a backend commits a
// CREATE EXTENSION chatwoot_sync (it sets the registry's rescan flag and our latch).
#include "pg/worker/launcher.hpp"

#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "utils/varlena.h"
}

namespace chatwoot::pg {

static constexpr long kPeriodicScanMs = 60 * 1000;

static void forget_launcher(int, Datum) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    registry->launcher_pid = 0;
    registry->launcher_latch = nullptr;
    LWLockRelease(registry->lock);
}

static bool start_worker(Oid database_oid, const char* database_name) {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    worker.bgw_restart_time = 5;  // seconds: the postmaster restarts a worker that exited on an error
    strlcpy(worker.bgw_library_name, "chatwoot_sync", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "chatwoot_worker_main", BGW_MAXLEN);
    snprintf(worker.bgw_name, BGW_MAXLEN, "chatwoot_sync worker for %s", database_name);
    strlcpy(worker.bgw_type, "chatwoot_sync worker", BGW_MAXLEN);
    worker.bgw_main_arg = ObjectIdGetDatum(database_oid);
    worker.bgw_notify_pid = MyProcPid;
    return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

// The launcher is connected to no database, so it may read only shared catalogs,
// and only by heap scan (their indexes need a database's relcache), as autovacuum does.
static Oid database_oid_by_heap_scan(const char* name) {
    Oid found = InvalidOid;
    (void)GetTransactionSnapshot();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        auto* db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (strcmp(NameStr(db->datname), name) == 0) {
            found = db->oid;
            break;
        }
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    return found;
}

// Starts a worker for each listed database that has none running. Databases known
// to lack the extension are retried only when `recheck_all` (a commit of CREATE
// EXTENSION, a SIGHUP, the first scan), so an extension-less database costs nothing.
static void start_missing_workers(bool recheck_all) {
    struct Target {
        Oid oid;
        char name[NAMEDATALEN];
    };
    Target targets[kMaxWorkers];
    int target_count = 0;

    char* list_copy = pstrdup(settings.database_name ? settings.database_name : "");
    List* names = NIL;
    if (!SplitGUCList(list_copy, ',', &names)) {
        ereport(WARNING, (errmsg("chatwoot_sync.database_name não é uma lista válida: \"%s\"", settings.database_name)));
        list_free(names);
        pfree(list_copy);
        return;
    }
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    ListCell* cell;
    foreach (cell, names) {
        const char* name = static_cast<const char*>(lfirst(cell));
        Oid oid = database_oid_by_heap_scan(name);
        if (!OidIsValid(oid)) {
            ereport(LOG, (errmsg("chatwoot_sync: database \"%s\" in chatwoot_sync.database_name does not exist", name)));
            continue;
        }
        if (target_count == kMaxWorkers) {
            ereport(WARNING, (errmsg("chatwoot_sync atende no máximo %d bancos; \"%s\" ignorado", kMaxWorkers, name)));
            break;
        }
        targets[target_count].oid = oid;
        strlcpy(targets[target_count].name, name, NAMEDATALEN);
        ++target_count;
    }
    CommitTransactionCommand();
    list_free(names);  // the launcher lives for months: nothing may pile up per scan
    pfree(list_copy);

    // Forget idle slots of databases that were dropped or left the list.
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    for (auto& slot : registry->slots) {
        if (slot.state == WorkerState::free || slot.pid != 0 || slot.state == WorkerState::starting) continue;
        bool listed = false;
        for (int i = 0; i < target_count; ++i) listed = listed || targets[i].oid == slot.database_oid;
        if (!listed) memset(&slot, 0, sizeof(slot));
    }
    LWLockRelease(registry->lock);

    for (int i = 0; i < target_count; ++i) {
        LWLockAcquire(registry->lock, LW_EXCLUSIVE);
        WorkerSlot* slot = find_or_take_slot(targets[i].oid, targets[i].name);
        bool start = false;
        if (slot == nullptr) {
            ereport(WARNING, (errmsg("chatwoot_sync: nenhuma vaga de worker livre para o banco \"%s\"", targets[i].name)));
        } else if (slot->stop_requested) {
            start = false;  // its database is being dropped
        } else if (slot->pid != 0 && BackendPidGetProc(slot->pid) != nullptr) {
            start = false;  // running
        } else if (slot->state == WorkerState::starting) {
            start = false;  // registered, not yet attached
        } else if (slot->state == WorkerState::no_extension && !recheck_all) {
            start = false;
        } else {
            slot->state = WorkerState::starting;
            slot->pid = 0;
            slot->requested_at = GetCurrentTimestamp();
            start = true;
        }
        LWLockRelease(registry->lock);
        if (start && !start_worker(targets[i].oid, targets[i].name)) {
            ereport(WARNING, (errmsg("chatwoot_sync: não foi possível registrar um worker para o banco \"%s\"", targets[i].name),
                              errhint("Aumente max_worker_processes.")));
            LWLockAcquire(registry->lock, LW_EXCLUSIVE);
            slot->state = WorkerState::failed;
            strlcpy(slot->last_error, "max_worker_processes esgotado", kErrorLength);
            LWLockRelease(registry->lock);
        }
    }
    pgstat_report_stat(false);
}

// A worker registered but never attached (e.g. it died before reaching its slot)
// would stay 'iniciando' forever; give it 30 s.
static void expire_stuck_starts() {
    TimestampTz now = GetCurrentTimestamp();
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    for (auto& slot : registry->slots) {
        if (slot.state == WorkerState::starting && slot.pid == 0 &&
            TimestampDifferenceExceeds(slot.requested_at, now, 30 * 1000)) {
            slot.state = WorkerState::failed;
            strlcpy(slot.last_error, "worker não iniciou em 30 s", kErrorLength);
        }
    }
    LWLockRelease(registry->lock);
}

}  // namespace chatwoot::pg

using namespace chatwoot::pg;

extern "C" PGDLLEXPORT void chatwoot_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);  // shared catalogs only
    pgstat_report_appname("chatwoot_sync launcher");

    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    registry->launcher_pid = MyProcPid;
    registry->launcher_latch = MyLatch;
    registry->launcher_started_at = GetCurrentTimestamp();
    LWLockRelease(registry->lock);
    on_shmem_exit(forget_launcher, 0);
    ereport(LOG, (errmsg("chatwoot_sync launcher started")));

    bool recheck_all = true;
    TimestampTz last_scan = 0;
    for (;;) {
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            recheck_all = true;
        }
        if (pg_atomic_exchange_u32(&registry->rescan_requested, 0) != 0) recheck_all = true;
        TimestampTz now = GetCurrentTimestamp();
        if (recheck_all || TimestampDifferenceExceeds(last_scan, now, kPeriodicScanMs)) {
            start_missing_workers(recheck_all);
            recheck_all = false;
            last_scan = now;
        }
        expire_stuck_starts();
        pgstat_report_activity(STATE_IDLE, nullptr);
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
}
