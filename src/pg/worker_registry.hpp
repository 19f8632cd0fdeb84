// Shared-memory registry of the launcher and the per-database workers: what
// worker_status() shows, duplicate-start protection, and how a committing
// backend wakes the launcher. Holds only plain data: no process-local pointers
// except PGPROC latches, which live in shared memory themselves.
#pragma once
#include "pg/pg_headers.hpp"

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
void add_jobs_done(int jobs);

// Set the latch of the current database's worker (now, or at commit).
bool wake_worker();
void wake_worker_at_commit();

}  // namespace chatwoot::pg
