// boundary: postgres-style
#include "pg/worker/worker_registry.hpp"

namespace chatwoot::pg {

Registry* registry = nullptr;

const char* state_name(WorkerState state) {
    switch (state) {
        case WorkerState::free: return "livre";
        case WorkerState::starting: return "iniciando";
        case WorkerState::idle: return "ocioso";
        case WorkerState::working: return "trabalhando";
        case WorkerState::no_extension: return "sem_extensao";
        case WorkerState::schema_outdated: return "esquema_desatualizado";
        case WorkerState::stopped: return "parado";
        case WorkerState::failed: return "falhou";
    }
    return "desconhecido";
}

static shmem_request_hook_type previous_shmem_request = nullptr;
static shmem_startup_hook_type previous_shmem_startup = nullptr;

static void on_shmem_request() {
    if (previous_shmem_request) previous_shmem_request();
    RequestAddinShmemSpace(MAXALIGN(sizeof(Registry)));
    RequestNamedLWLockTranche("chatwoot_sync", 1);
}

static void on_shmem_startup() {
    if (previous_shmem_startup) previous_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    registry = static_cast<Registry*>(ShmemInitStruct("chatwoot_sync registry", sizeof(Registry), &found));
    if (!found) {
        memset(registry, 0, sizeof(Registry));
        registry->lock = &(GetNamedLWLockTranche("chatwoot_sync"))->lock;
        pg_atomic_init_u32(&registry->rescan_requested, 0);
    }
    LWLockRelease(AddinShmemInitLock);
}

void request_registry_shmem() {
    previous_shmem_request = shmem_request_hook;
    shmem_request_hook = on_shmem_request;
}

void attach_registry_shmem() {
    previous_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = on_shmem_startup;
}

WorkerSlot* find_slot(Oid database_oid) {
    for (auto& slot : registry->slots)
        if (slot.state != WorkerState::free && slot.database_oid == database_oid) return &slot;
    return nullptr;
}

WorkerSlot* find_or_take_slot(Oid database_oid, const char* database_name) {
    if (WorkerSlot* existing = find_slot(database_oid)) return existing;
    for (auto& slot : registry->slots) {
        if (slot.state == WorkerState::free) {
            memset(&slot, 0, sizeof(slot));
            pg_atomic_init_u64(&slot.quiet_until, 0);
            pg_atomic_init_u32(&slot.connection_generation, 0);
            slot.database_oid = database_oid;
            strlcpy(slot.database_name, database_name, NAMEDATALEN);
            slot.state = WorkerState::stopped;
            return &slot;
        }
    }
    return nullptr;
}

void wake_launcher() {
    if (!registry) return;
    pg_atomic_write_u32(&registry->rescan_requested, 1);
    LWLockAcquire(registry->lock, LW_SHARED);
    Latch* latch = registry->launcher_latch;
    if (latch) SetLatch(latch);
    LWLockRelease(registry->lock);
}

// This database's slot, found once per backend under the lock and then read without
// it: a slot only changes hands when its database stops being served, and a wake of
// the wrong process, or a missed one, is harmless (latches allow spurious sets, and
// the worker's poll catches what a wake missed).
static WorkerSlot* my_database_slot() {
    static WorkerSlot* cached = nullptr;
    if (cached && cached->database_oid == MyDatabaseId && cached->state != WorkerState::free) return cached;
    LWLockAcquire(registry->lock, LW_SHARED);
    cached = find_slot(MyDatabaseId);
    LWLockRelease(registry->lock);
    return cached;
}

bool wake_worker(bool force) {
    if (!registry) return false;
    WorkerSlot* slot = my_database_slot();
    if (!slot) return false;
    if (!force) {
        uint64 quiet = pg_atomic_read_u64(&slot->quiet_until);
        if (quiet != 0 && GetCurrentTimestamp() < static_cast<TimestampTz>(quiet)) return false;
    }
    pg_memory_barrier();
    Latch* latch = slot->latch;
    if (!latch || slot->pid == 0) return false;
    SetLatch(latch);
    return true;
}

void set_worker_quiet_until(TimestampTz until) {
    WorkerSlot* slot = my_worker_slot();
    if (slot) pg_atomic_write_u64(&slot->quiet_until, static_cast<uint64>(until < 0 ? 0 : until));
}

uint32 current_connection_generation() {
    WorkerSlot* slot = my_worker_slot();
    return slot ? pg_atomic_read_u32(&slot->connection_generation) : 0;
}

chatwoot::core::SharedRequestWindow* worker_request_window() {
    WorkerSlot* slot = my_worker_slot();
    return slot ? &slot->requests : nullptr;
}

chatwoot::core::SharedRequestWindow* database_request_window() {
    if (!registry) return nullptr;
    WorkerSlot* slot = my_database_slot();
    return slot ? &slot->requests : nullptr;
}

bool stop_worker_for_database(Oid database_oid, int timeout_ms) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    WorkerSlot* slot = find_slot(database_oid);
    pid_t pid = 0;
    if (slot) {
        slot->stop_requested = true;
        pid = slot->pid;
        if (pid != 0) {
            if (PGPROC* proc = BackendPidGetProc(pid)) SetLatch(&proc->procLatch);
        }
    }
    LWLockRelease(registry->lock);
    if (!slot) return false;
    TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
    while (pid != 0 && BackendPidGetProc(pid) != nullptr && GetCurrentTimestamp() < deadline) {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    }
    return true;
}

void allow_worker_for_database(Oid database_oid) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    if (WorkerSlot* slot = find_slot(database_oid)) slot->stop_requested = false;
    LWLockRelease(registry->lock);
}

// Wake-ups requested by this transaction, delivered only if it commits: a
// rolled-back CREATE EXTENSION must not start a worker.
static bool launcher_wake_pending = false;
static bool worker_wake_pending = false;
static bool worker_force_pending = false;
static bool connection_change_pending = false;

static void wake_on_commit(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT) {
        if (launcher_wake_pending) wake_launcher();
        if (connection_change_pending && registry) {
            if (WorkerSlot* slot = my_database_slot()) pg_atomic_fetch_add_u32(&slot->connection_generation, 1);
            wake_worker(true);
        } else if (worker_wake_pending) {
            wake_worker(worker_force_pending);
        }
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT) {
        launcher_wake_pending = false;
        worker_wake_pending = false;
        worker_force_pending = false;
        connection_change_pending = false;
    }
}

static void ensure_commit_callback() {
    static bool registered = false;
    if (!registered) {
        RegisterXactCallback(wake_on_commit, nullptr);
        registered = true;
    }
}

void wake_launcher_at_commit() {
    ensure_commit_callback();
    launcher_wake_pending = true;
}

void wake_worker_at_commit(bool force) {
    ensure_commit_callback();
    worker_wake_pending = true;
    worker_force_pending = worker_force_pending || force;
}

void connection_changed_at_commit() {
    ensure_commit_callback();
    connection_change_pending = true;
}

}  // namespace chatwoot::pg
