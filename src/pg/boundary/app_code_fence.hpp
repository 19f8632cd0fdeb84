// boundary: postgres-style
// The fence around every read of an app table as its owner (the worker's party reads
// and the SQL-callable _ids_rastreados alike). Inside it:
//   * the current user is the table's owner, in a security-restricted operation (as
//     autovacuum and REFRESH MATERIALIZED VIEW read a table);
//   * a GUC nest level pins search_path, turns row_security off (a policy that would
//     apply to the owner raises instead of running the app's code: the read fails
//     with that reason) and bounds lock waits; leaving it rolls back EVERY setting
//     the code inside changed, also session-level ones (set_config(..., false)), as
//     PostgreSQL's maintenance commands do since CVE-2022-1552;
//   * in the worker, a timer: code that runs past the limit is cancelled.
// Leave it on every path: the error path too (the timer must not outlive it).
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace chatwoot::pg {

struct AppCodeFence {
    Oid caller = InvalidOid;
    int caller_context = 0;
    int guc_level = 0;
    bool timer_armed = false;
    bool entered = false;
};

// time_limit_ms <= 0: no timer (an app session keeps its own statement_timeout).
void enter_app_code_fence(AppCodeFence* fence, Oid owner, int time_limit_ms);
// Never raises. Returns true when the timer fired inside the fence.
bool leave_app_code_fence(AppCodeFence* fence);
// Whether the current process is inside a fence (the worker's SIGTERM handler ends a
// fenced read at once: app code may swallow a cancel, never a termination).
bool inside_app_code_fence();

}  // namespace chatwoot::pg
