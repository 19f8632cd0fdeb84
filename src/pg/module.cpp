// boundary: postgres-style
// Module entry: GUCs, shared memory, the launcher, and the hook that wakes a
// database's worker when its extension is dropped.
#include "pg/boundary/boundary.hpp"
#include "pg/worker/launcher.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/syscache.h"

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

// Would standard_ProcessUtility go on to drop this database, as far as it can be
// known before the drop runs? The checks dropdb makes before it looks for other
// sessions: top level and outside any transaction block (PreventInTransactionBlock),
// the database exists, the caller owns it (or is superuser), it is not a template and
// not the current database. Only then may our worker be stopped: otherwise any login
// role's refused DROP DATABASE would stop it (T3-4).
static Oid database_to_be_dropped(const DropdbStmt* stmt, ProcessUtilityContext context) {
    if (context != PROCESS_UTILITY_TOPLEVEL || IsTransactionBlock() || IsSubTransaction()) return InvalidOid;
    Oid database_oid = get_database_oid(stmt->dbname, true);
    if (!OidIsValid(database_oid) || database_oid == MyDatabaseId) return InvalidOid;
    if (!pg_database_ownercheck(database_oid, GetUserId())) return InvalidOid;
    HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(database_oid));
    if (!HeapTupleIsValid(tuple)) return InvalidOid;
    bool is_template = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple))->datistemplate;
    ReleaseSysCache(tuple);
    return is_template ? InvalidOid : database_oid;
}

// DROP DATABASE of a served database: our worker is connected to it and would make
// the drop fail ("being accessed by other users"). Once the drop is permitted, stop
// it first, for good; if the drop still fails (other sessions, a replication slot),
// let the launcher start it again. (C only: no C++ objects here.)
static void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree, ProcessUtilityContext context,
                       ParamListInfo params, QueryEnvironment* env, DestReceiver* dest, QueryCompletion* qc) {
    Oid stopped = InvalidOid;
    if (registry != nullptr && IsA(pstmt->utilityStmt, DropdbStmt)) {
        Oid database_oid = database_to_be_dropped(reinterpret_cast<DropdbStmt*>(pstmt->utilityStmt), context);
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
