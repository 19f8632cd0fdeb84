// boundary: postgres-style
// The extension's only PG_TRY: every other place that must see an ERROR (pg_call,
// a subtransaction in a trigger, a hook that cleans up) goes through here, so the
// save and restore of PostgreSQL's error state is written once.
#include "pg/boundary/boundary.hpp"

namespace chatwoot::pg {

ErrorData* catch_pg_error(void (*body)(void*), void* arg) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile error = nullptr;
    PG_TRY();
    { body(arg); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        error = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    return error;
}

}  // namespace chatwoot::pg
