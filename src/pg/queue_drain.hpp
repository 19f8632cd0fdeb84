// One cycle of draining chatwoot.fila: claim (commit), call Chatwoot with no
// transaction open, record the results (commit). See queue_drain.cpp.
#pragma once
#include "pg/pg_headers.hpp"

namespace chatwoot::pg {

struct DrainOutcome {
    int jobs_finished;       // concluded, retried or dead this cycle
    bool backlog;            // a full batch was claimed: run again without sleeping
    long pause_ms;           // Chatwoot throttled us: do not claim before this many ms
    long next_due_ms;        // the next scheduled (debounced or retried) job is due in this many ms; -1: none
};

// C-callable: runs the cycle behind the error boundary; a failure is re-raised as a
// PostgreSQL ERROR once every C++ frame is gone (the worker's recovery handles it).
DrainOutcome run_drain_cycle();

}  // namespace chatwoot::pg
