// boundary: postgres-style
// Shared-memory registry of the launcher and the per-database workers: what
// worker_status() shows, duplicate-start protection, and how a committing
// backend wakes the launcher. Holds only plain data: no process-local pointers
// except PGPROC latches, which live in shared memory themselves.
#pragma once
#include "pg/boundary/pg_headers.hpp"
#include "core/http/shared_budget.hpp"

namespace chatwoot::pg {

constexpr int kMaxWorkers = 32;
constexpr int kErrorLength = 256;

enum class WorkerState : int {
    free = 0,
    starting,      // registered, connecting
    idle,          // waiting on its latch
    working,       // draining the queue
    no_extension,  // database has no chatwoot_sync: exited, waits for CREATE EXTENSION
    stopped,       // exited (SIGTERM, database removed from database_name)
    failed,        // exited on an error; the postmaster restarts it
    schema_outdated,  // the schema is not the library's version: waits for ALTER EXTENSION UPDATE
};

const char* state_name(WorkerState state);

struct WorkerSlot {
    Oid database_oid;
    char database_name[NAMEDATALEN];
    pid_t pid;  // 0 when no process runs for this slot
    WorkerState state;
    TimestampTz requested_at;  // when the launcher registered it
    TimestampTz started_at;
    TimestampTz last_loop_at;
    int64 jobs_done;
    int64 in_flight;
    char last_error[kErrorLength];
    int config_reloads;        // SIGHUPs the worker has applied
    int poll_interval_ms;      // the fallback poll it currently uses
    bool stop_requested;       // DROP DATABASE in progress: exit 0 and stay stopped
    TimestampTz window_start;  // throughput: jobs finished since window_start...
    int64 window_jobs;
    double throughput;         // ...and the rate of the last full window (jobs/s)
    TimestampTz paused_until;  // no request starts before this (0: not paused)
    char pause_reason[kErrorLength];
    char warnings[kErrorLength];  // standing problems (a mapping that no longer fits, a paused integration)
    // Read without the lock by committing backends (see wake_worker):
    Latch* latch;                 // the worker's, while it runs
    pg_atomic_uint64 quiet_until; // commits do not wake the worker before this (it could not send)
    pg_atomic_uint32 connection_generation;  // bumped at commit of any change to chatwoot.integracoes
    // Chatwoot's request budget, spent by the worker's HTTP thread and by testar_conexao
    // in any backend, and the worker's request and 429 counters (lock-free atomics
    // only; core/http/shared_budget.hpp).
    chatwoot::core::SharedRequestWindow requests;
    int64 integration_id;  // the chatwoot.integracoes row the counters belong to (0: none, the settings)
};

struct Registry {
    LWLock* lock;
    pid_t launcher_pid;
    Latch* launcher_latch;
    TimestampTz launcher_started_at;
    pg_atomic_uint32 rescan_requested;  // set at commit of CREATE/DROP EXTENSION
    WorkerSlot slots[kMaxWorkers];
};

extern Registry* registry;

void request_registry_shmem();
void attach_registry_shmem();

// Find the slot of a database (nullptr if none); caller holds registry->lock.
WorkerSlot* find_slot(Oid database_oid);
// Find or take a slot for a database; nullptr when all are taken. Caller holds lock exclusively.
WorkerSlot* find_or_take_slot(Oid database_oid, const char* database_name);

// Ask the launcher to look at the databases again (now, or at commit of the current transaction).
void wake_launcher();
void wake_launcher_at_commit();

// Asks the worker of `database_oid` to exit for good (DROP DATABASE) and waits up
// to `timeout_ms` for it. Returns true when a slot for that database existed.
bool stop_worker_for_database(Oid database_oid, int timeout_ms);
// Undoes stop_worker_for_database (the DROP DATABASE failed).
void allow_worker_for_database(Oid database_oid);

// For the running worker process (worker.cpp): its own slot and bookkeeping.
WorkerSlot* my_worker_slot();
void set_worker_error(const char* message);
// Why the worker is not sending (0 / "": it is) and its standing warnings.
void set_worker_pause(TimestampTz until, const char* reason, const char* warnings);
void add_jobs_done(int jobs);
// The connection the worker now sends with: the request counters start again when it
// is another integration's (chatwoot.requisicoes_chatwoot() shows them per integration).
void set_worker_integration(int64 integration_id);

// Set the latch of the current database's worker (now, or at commit). The commit-time
// wake of a queueing transaction is skipped while the worker has said it cannot send
// (no connection, the integration paused, Chatwoot's budget spent, every due job
// backing off): a stream of commits then costs it nothing. `force` wakes it anyway.
bool wake_worker(bool force = true);
void wake_worker_at_commit(bool force = false);
// At commit: the connection changed; the worker reloads it even while quiet.
void connection_changed_at_commit();

// The worker: "commits need not wake me before `until`" (0: wake me for every commit;
// DT_NOEND: until the connection changes).
void set_worker_quiet_until(TimestampTz until);
uint32 current_connection_generation();

// The request budget the worker shares with testar_conexao: the running worker's
// own (for its HTTP thread), and the current database's (nullptr when no worker slot
// serves it: no worker sends, so nothing shares the budget).
chatwoot::core::SharedRequestWindow* worker_request_window();
chatwoot::core::SharedRequestWindow* database_request_window();

}  // namespace chatwoot::pg
