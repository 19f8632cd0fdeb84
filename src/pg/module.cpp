// boundary: postgres-style
// Module entry: GUCs, shared memory, the launcher, and the hook that wakes a
// database's worker when its extension is dropped.
#include "pg/boundary/boundary.hpp"
#include "pg/worker/launcher.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"

PG_MODULE_MAGIC;
PGDLLEXPORT void _PG_init(void);
}

namespace chatwoot::pg {

void register_launcher() {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof(worker));
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;  // idle on a standby, starts at promotion
    worker.bgw_restart_time = 5;
    strlcpy(worker.bgw_library_name, "chatwoot_sync", BGW_MAXLEN);
    strlcpy(worker.bgw_function_name, "chatwoot_launcher_main", BGW_MAXLEN);
    strlcpy(worker.bgw_name, "chatwoot_sync launcher", BGW_MAXLEN);
    strlcpy(worker.bgw_type, "chatwoot_sync launcher", BGW_MAXLEN);
    RegisterBackgroundWorker(&worker);
}

static object_access_hook_type previous_object_access = nullptr;
static ProcessUtility_hook_type previous_utility = nullptr;

struct UtilityCall {
    PlannedStmt* pstmt;
    const char* query;
    bool read_only_tree;
    ProcessUtilityContext context;
    ParamListInfo params;
    QueryEnvironment* env;
    DestReceiver* dest;
    QueryCompletion* qc;
};

static void run_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                        ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
    if (previous_utility)
        previous_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
}

static void run_utility_call(void* arg) {
    auto* c = static_cast<UtilityCall*>(arg);
    run_utility(c->pstmt, c->query, c->read_only_tree, c->context, c->params, c->env, c->dest, c->qc);
}

// DROP DATABASE of a served database: our worker is connected to it and would make
// the drop fail ("being accessed by other users"). Stop it first, for good; if the
// drop fails, let the launcher start it again. (C only: no C++ objects here.)
static void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                       ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
    Oid stopped = InvalidOid;
    if (registry != nullptr && IsA(pstmt->utilityStmt, DropdbStmt)) {
        auto* stmt = reinterpret_cast<DropdbStmt*>(pstmt->utilityStmt);
        Oid database_oid = get_database_oid(stmt->dbname, true);
        if (OidIsValid(database_oid) && stop_worker_for_database(database_oid, 5000)) stopped = database_oid;
    }
    if (!OidIsValid(stopped)) {
        run_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
        return;
    }
    UtilityCall call{pstmt, query, read_only_tree, context, params, env, dest, qc};
    ErrorData* error = catch_pg_error(run_utility_call, &call);
    if (error) {
        allow_worker_for_database(stopped);
        wake_launcher();
        ReThrowError(error);
    }
}

// DROP EXTENSION chatwoot_sync: wake this database's worker at commit so it
// notices at once and exits, instead of at its next poll.
static void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void* arg) {
    if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
    if (access == OAT_DROP && class_id == ExtensionRelationId && registry != nullptr) wake_worker_at_commit(true);
    // ALTER EXTENSION ... UPDATE: a worker waiting for its schema's update drains at
    // once (an ALTER of another extension only costs a spurious wake).
    if (access == OAT_POST_ALTER && class_id == ExtensionRelationId && registry != nullptr) wake_worker_at_commit(true);
}

}  // namespace chatwoot::pg

void _PG_init(void) {
    using namespace chatwoot::pg;
    define_settings();
    if (!process_shared_preload_libraries_in_progress) return;  // functions work; no worker without preload
    request_registry_shmem();
    attach_registry_shmem();
    previous_utility = ProcessUtility_hook;
    ProcessUtility_hook = on_utility;
    previous_object_access = object_access_hook;
    object_access_hook = on_object_access;
    register_launcher();
}
