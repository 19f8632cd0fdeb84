// boundary: postgres-style
// The per-database worker. Its loop: wait on the latch (woken at commit or by the
// fallback poll), check the extension is still installed, do one bounded cycle
// of work in short transactions, record progress in the registry.
//
// An ERROR inside a cycle does not kill the worker: like autovacuum, it returns
// to the sigsetjmp point below, records the error, aborts the transaction and
// carries on after a pause. Interrupts are never held over SQL: a cancel, the
// lock_timeout and the app-code timer (app_code_fence) all work inside a cycle.
// SIGTERM only sets a flag and the latch (the loop then finishes the requests in
// flight, records them and exits), except inside a fenced read of an app table,
// where it terminates at once: the app's code may swallow a cancel, never that.
// Every statement of a cycle is short and lock waits are bounded, so a flagged
// SIGTERM is seen within seconds. Postmaster death ends the worker at any wait.
#include "core/text/text.hpp"
#include "pg/boundary/app_code_fence.hpp"

extern "C" {
#include "catalog/pg_authid.h"
}
#include "pg/boundary/schema_version.hpp"
#include "pg/worker/launcher.hpp"
#include "pg/outbox/outbox.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

namespace chatwoot::pg {

static WorkerSlot* my_slot = nullptr;
static int consecutive_errors = 0;  // backs the worker off while a cycle keeps failing
static volatile sig_atomic_t got_sigterm = false;

// SIGTERM: remember it was asked (so the slot says 'parado', not 'falhou').
static void on_sigterm(SIGNAL_ARGS) {
    int saved_errno = errno;
    got_sigterm = true;
    if (inside_app_code_fence())
        die(postgres_signal_arg);
    else
        SetLatch(MyLatch);
    errno = saved_errno;
}
static MemoryContext cycle_context = nullptr;

static void set_state(WorkerState state) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    my_slot->state = state;
    LWLockRelease(registry->lock);
}

static void record_error(const char* message) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    core::copy_utf8(my_slot->last_error, kErrorLength, message ? message : "erro desconhecido");
    LWLockRelease(registry->lock);
}

WorkerSlot* my_worker_slot() { return my_slot; }

void set_worker_error(const char* message) { record_error(message); }

void set_worker_pause(TimestampTz until, const char* reason, const char* warnings) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    my_slot->paused_until = until;
    core::copy_utf8(my_slot->pause_reason, kErrorLength, reason ? reason : "");
    core::copy_utf8(my_slot->warnings, kErrorLength, warnings ? warnings : "");
    LWLockRelease(registry->lock);
}

void add_jobs_done(int jobs) {
    TimestampTz now = GetCurrentTimestamp();
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    my_slot->jobs_done += jobs;
    my_slot->window_jobs += jobs;
    if (my_slot->window_start == 0) my_slot->window_start = now;
    long secs;
    int usecs;
    TimestampDifference(my_slot->window_start, now, &secs, &usecs);
    double elapsed = secs + usecs / 1e6;
    if (elapsed >= 10.0) {
        my_slot->throughput = my_slot->window_jobs / elapsed;
        my_slot->window_start = now;
        my_slot->window_jobs = 0;
    }
    if (jobs > 0) my_slot->last_error[0] = '\0';
    LWLockRelease(registry->lock);
}

void set_worker_integration(int64 integration_id) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    if (my_slot->integration_id != integration_id) {
        my_slot->integration_id = integration_id;
        my_slot->requests.reset_counts();
    }
    LWLockRelease(registry->lock);
}

static void release_slot(int code, Datum) {
    if (!my_slot) return;
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    if (my_slot->pid == MyProcPid) {
        my_slot->pid = 0;
        my_slot->latch = nullptr;
        if (my_slot->state != WorkerState::no_extension)
            my_slot->state = (code == 0 || got_sigterm) ? WorkerState::stopped : WorkerState::failed;
    }
    LWLockRelease(registry->lock);
}

// Takes this database's slot. Returns false when another live worker holds it
// (the launcher and the postmaster may both have started one after a crash).
static bool claim_slot(Oid database_oid, const char* database_name) {
    LWLockAcquire(registry->lock, LW_EXCLUSIVE);
    WorkerSlot* slot = find_or_take_slot(database_oid, database_name);
    if (slot == nullptr || slot->stop_requested ||
        (slot->pid != 0 && slot->pid != MyProcPid && BackendPidGetProc(slot->pid) != nullptr)) {
        LWLockRelease(registry->lock);
        return false;
    }
    slot->pid = MyProcPid;
    slot->state = WorkerState::idle;
    slot->started_at = GetCurrentTimestamp();
    slot->last_loop_at = 0;
    slot->in_flight = 0;
    slot->poll_interval_ms = settings.poll_interval_ms;
    slot->last_error[0] = '\0';
    slot->window_start = 0;
    slot->window_jobs = 0;
    slot->throughput = 0;
    slot->paused_until = 0;
    slot->pause_reason[0] = '\0';
    slot->warnings[0] = '\0';
    pg_atomic_write_u64(&slot->quiet_until, 0);
    slot->latch = MyLatch;
    my_slot = slot;
    LWLockRelease(registry->lock);
    return true;
}

enum class Schema { missing, outdated, current };
static char schema_problem[kErrorLength];  // why the schema is outdated, when it is

// Whether the extension is still installed and its schema is the library's version
// (one pg_extension probe). Not looked up when only the HTTP thread woke the worker
// (that happens for every group of finished requests) and the schema was current;
// DROP EXTENSION and ALTER EXTENSION set the latch, so they are always seen.
static Schema check_schema(bool woken_by_http_thread_only) {
    static Schema last = Schema::missing;
    static bool known = false;
    if (woken_by_http_thread_only && known && last == Schema::current) return last;
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    PushActiveSnapshot(GetTransactionSnapshot());
    char* version = installed_schema_version();
    if (version == nullptr)
        last = Schema::missing;
    else if (describe_schema_mismatch(version, schema_problem, sizeof(schema_problem)))
        last = Schema::outdated;
    else
        last = Schema::current;
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_stat(false);
    known = true;
    return last;
}

// Outdated: nothing is claimed, drained or sent; worker_status says why. Commits
// stop waking the worker (quiet), ALTER EXTENSION wakes it (module.cpp), and the
// poll interval rechecks.
static void publish_schema_outdated() {
    record_error(schema_problem);
    set_worker_pause(0, "", schema_problem);
    set_worker_quiet_until(DT_NOEND);
}

}  // namespace chatwoot::pg

using namespace chatwoot::pg;

extern "C" PGDLLEXPORT void chatwoot_worker_main(Datum main_arg) {
    Oid database_oid = DatumGetObjectId(main_arg);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, on_sigterm);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnectionByOid(database_oid, InvalidOid, 0);
    // Before the first transaction: no name the worker's SQL uses may resolve to an
    // object a database role created (public.unnest(bigint[]) would beat
    // pg_catalog.unnest(anyarray), and run as superuser).
    SetConfigOption("search_path", settings.debug_worker_search_path[0] ? settings.debug_worker_search_path : "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
    // Bounds any wait for a lock on the extension's own tables (the app's tables are
    // read in the fence, which waits 1 s at most): the cycle fails and is retried.
    SetConfigOption("lock_timeout", "5s", PGC_SUSET, PGC_S_OVERRIDE);
    // The worker's statements are short; compiling them with JIT took a fifth of the
    // worker's CPU in the third 20,000-party drain of a run (perf, docs/BENCHMARKS.md).
    SetConfigOption("jit", "off", PGC_SUSET, PGC_S_OVERRIDE);
    pgstat_report_appname("chatwoot_sync worker");

    char database_name[NAMEDATALEN];
    StartTransactionCommand();  // the settings' checks read the catalog
    // Whatever the database or a role says (ALTER DATABASE ... SET, which the database's
    // owner may do): the worker writes, as itself, and an ERROR stays an ERROR.
    SetConfigOption("session_authorization", GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false), PGC_SUSET,
                    PGC_S_OVERRIDE);
    SetConfigOption("role", "none", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("default_transaction_deferrable", "off", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("exit_on_error", "off", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("row_security", "on", PGC_SUSET, PGC_S_OVERRIDE);
    SetConfigOption("session_replication_role", "origin", PGC_SUSET, PGC_S_OVERRIDE);
    char* name = get_database_name(database_oid);
    strlcpy(database_name, name ? name : "?", NAMEDATALEN);
    CommitTransactionCommand();

    if (!claim_slot(database_oid, database_name)) {
        ereport(LOG, (errmsg("chatwoot_sync: database \"%s\" is served by another worker or being dropped; exiting",
                             database_name)));
        proc_exit(0);  // exit code 0: the postmaster does not restart a duplicate
    }
    before_shmem_exit(release_slot, 0);
    ereport(LOG, (errmsg("chatwoot_sync worker started for database \"%s\"", database_name)));

    cycle_context = AllocSetContextCreate(TopMemoryContext, "chatwoot_sync cycle", ALLOCSET_DEFAULT_SIZES);

    sigjmp_buf error_recovery;
    if (sigsetjmp(error_recovery, 1) != 0) {
        // An ERROR escaped a cycle: report it, clean up, and go on after a pause.
        HOLD_INTERRUPTS();
        EmitErrorReport();
        MemoryContextSwitchTo(TopMemoryContext);
        ErrorData* error = CopyErrorData();
        record_error(error->message);
        FreeErrorData(error);
        AbortCurrentTransaction();
        FlushErrorState();
        MemoryContextReset(cycle_context);
        RESUME_INTERRUPTS();
        consecutive_errors = consecutive_errors < 6 ? consecutive_errors + 1 : 6;
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000L << consecutive_errors,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
    }
    PG_exception_stack = &error_recovery;

    bool woken_by_http_thread_only = false;
    bool schema_was_outdated = false;
    for (;;) {
        // SIGTERM: finish the requests in flight and record them, then exit. Code 1,
        // as die() would: the postmaster restarts a worker that pg_terminate_backend
        // ended (code 0 would unregister it for good).
        if (got_sigterm) {
            finish_drain_for_exit();
            proc_exit(1);
        }
        CHECK_FOR_INTERRUPTS();
        if (my_slot->stop_requested) {
            ereport(LOG, (errmsg("chatwoot_sync: database \"%s\" is being dropped; worker exits", database_name)));
            proc_exit(0);
        }
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
            drain_settings_reloaded();
            LWLockAcquire(registry->lock, LW_EXCLUSIVE);
            my_slot->config_reloads++;
            my_slot->poll_interval_ms = settings.poll_interval_ms;
            LWLockRelease(registry->lock);
            if (!database_listed(database_name)) {
                ereport(LOG, (errmsg("chatwoot_sync: database \"%s\" left chatwoot_sync.database_name; worker exits",
                                     database_name)));
                proc_exit(0);
            }
        }

        MemoryContext previous = MemoryContextSwitchTo(cycle_context);
        set_state(WorkerState::working);
        pgstat_report_activity(STATE_RUNNING, "chatwoot_sync: ciclo do worker");
        Schema schema = check_schema(woken_by_http_thread_only);
        bool installed = schema != Schema::missing;
        DrainOutcome drained{0, false, 0, -1, -1, false};
        if (schema == Schema::current) {
            if (schema_was_outdated) {  // updated: the version's message is no longer true
                record_error("");
                schema_was_outdated = false;
            }
            drained = run_drain_cycle(woken_by_http_thread_only);
        } else if (schema == Schema::outdated) {
            publish_schema_outdated();
            schema_was_outdated = true;
        }
        MemoryContextSwitchTo(previous);
        MemoryContextReset(cycle_context);

        if (!installed) {
            ereport(LOG, (errmsg("chatwoot_sync is not installed in database \"%s\"; worker exits until CREATE EXTENSION",
                                 database_name)));
            set_state(WorkerState::no_extension);
            proc_exit(0);
        }
        LWLockAcquire(registry->lock, LW_EXCLUSIVE);
        my_slot->state = schema == Schema::outdated ? WorkerState::schema_outdated : WorkerState::idle;
        my_slot->last_loop_at = GetCurrentTimestamp();
        LWLockRelease(registry->lock);
        pgstat_report_activity(STATE_IDLE, nullptr);

        consecutive_errors = 0;
        if (drained.claim_again && drained.pause_ms == 0) {  // more work waiting: no sleep
            woken_by_http_thread_only = false;
            continue;
        }
        long wait_ms = settings.poll_interval_ms;
        if (drained.pause_ms > 0 && drained.pause_ms < wait_ms) wait_ms = drained.pause_ms;
        if (drained.next_due_ms >= 0 && drained.next_due_ms < wait_ms) wait_ms = drained.next_due_ms + 1;
        if (drained.record_in_ms >= 0 && drained.record_in_ms < wait_ms) wait_ms = drained.record_in_ms + 1;
        // Woken by a commit that queued work (latch), by the HTTP thread finishing
        // jobs (its eventfd), or by the first of the timeouts above.
        int events;
        if (drained.busy && drained.wake_fd >= 0)
            events = WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
                                       drained.wake_fd, wait_ms, PG_WAIT_EXTENSION);
        else
            events = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
        woken_by_http_thread_only = events == WL_SOCKET_READABLE;
        ResetLatch(MyLatch);
    }
}
