// boundary: postgres-style
// Draining chatwoot.fila: claim (commit), call Chatwoot on the HTTP thread with no
// transaction open, record the results (commit). See outbox.cpp.
#pragma once
#include "pg/boundary/pg_headers.hpp"

namespace chatwoot::pg {

struct DrainOutcome {
    int jobs_finished;       // concluded, retried or dead this cycle
    bool claim_again;        // a full batch was claimed and there is room for more: no sleep
    long pause_ms;           // Chatwoot throttled us: do not claim before this many ms
    long next_due_ms;        // the next scheduled (debounced or retried) job is due in this many ms; -1: none
    long record_in_ms;       // finished results wait to be recorded: wake within this many ms; -1: none
    bool busy;               // jobs are on the wire or waiting to be recorded
    int wake_fd = -1;        // readable when the HTTP thread has finished jobs; -1: no thread
};

// C-callable: runs one cycle behind the error boundary; a failure is re-raised as a
// PostgreSQL ERROR once every C++ frame is gone (the worker's recovery handles it,
// and the next cycle resets the drain's bookkeeping).
// `http_wake_only`: the worker was woken by the HTTP thread alone (finished jobs),
// not by a commit or a timeout.
DrainOutcome run_drain_cycle(bool http_wake_only);

// After a SIGHUP: the deprecated chatwoot_sync.api_* settings may have changed, so a
// pause of a connection made of them ends (a chatwoot.integracoes row ends its own).
void drain_settings_reloaded();

// SIGTERM: let requests in flight finish (up to the request timeout), record every
// result and give back what was never sent. Call with no transaction open.
void finish_drain_for_exit();

// A standing reason why some jobs wait (a table the app holds locked...): shown in
// worker_status().avisos while it is noted again at least every 15 s.
void note_drain_warning(const char* warning);

}  // namespace chatwoot::pg
