// Module entry: GUCs, shared memory, the launcher, and the hook that wakes a
// database's worker when its extension is dropped.
#include "pg/launcher.hpp"
#include "pg/settings.hpp"
#include "pg/worker_registry.hpp"

extern "C" {
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"

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

// DROP EXTENSION chatwoot_sync: wake this database's worker at commit so it
// notices at once and exits, instead of at its next poll.
static void on_object_access(ObjectAccessType access, Oid class_id, Oid object_id, int sub_id, void* arg) {
    if (previous_object_access) previous_object_access(access, class_id, object_id, sub_id, arg);
    if (access == OAT_DROP && class_id == ExtensionRelationId && registry != nullptr) wake_worker_at_commit();
}

}  // namespace chatwoot::pg

void _PG_init(void) {
    using namespace chatwoot::pg;
    define_settings();
    if (!process_shared_preload_libraries_in_progress) return;  // functions work; no worker without preload
    request_registry_shmem();
    attach_registry_shmem();
    previous_object_access = object_access_hook;
    object_access_hook = on_object_access;
    register_launcher();
}
