// boundary: postgres-style
#include "pg/boundary/app_code_fence.hpp"

extern "C" {
#include "utils/guc.h"
#include "utils/timeout.h"
}

namespace chatwoot::pg {

static TimeoutId fence_timeout = MAX_TIMEOUTS;
static volatile sig_atomic_t fence_timed_out = false;
static volatile sig_atomic_t fence_depth = 0;

// The timer's handler (signal context): a cancel, serviced by the next
// CHECK_FOR_INTERRUPTS of the code inside.
static void on_fence_timeout(void) {
    fence_timed_out = true;
    InterruptPending = true;
    QueryCancelPending = true;
    SetLatch(MyLatch);
}

static void pin(const char* name, const char* value) {
    (void)set_config_option(name, value, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

void enter_app_code_fence(AppCodeFence* fence, Oid owner, int time_limit_ms) {
    GetUserIdAndSecContext(&fence->caller, &fence->caller_context);
    SetUserIdAndSecContext(owner, fence->caller_context | SECURITY_RESTRICTED_OPERATION);
    fence->guc_level = NewGUCNestLevel();
    fence->entered = true;
    ++fence_depth;
    pin("search_path", "pg_catalog, pg_temp");
    pin("row_security", "off");
    pin("lock_timeout", "1s");
    fence->timer_armed = false;
    if (time_limit_ms > 0) {
        if (fence_timeout == MAX_TIMEOUTS) fence_timeout = RegisterTimeout(USER_TIMEOUT, on_fence_timeout);
        fence_timed_out = false;
        enable_timeout_after(fence_timeout, time_limit_ms);
        fence->timer_armed = true;
    }
}

bool leave_app_code_fence(AppCodeFence* fence) {
    if (!fence->entered) return false;
    bool timed_out = false;
    if (fence->timer_armed) {
        disable_timeout(fence_timeout, false);
        timed_out = fence_timed_out;
        fence_timed_out = false;
        fence->timer_armed = false;
    }
    AtEOXact_GUC(false, fence->guc_level);
    SetUserIdAndSecContext(fence->caller, fence->caller_context);
    fence->entered = false;
    --fence_depth;
    return timed_out;
}

bool inside_app_code_fence() { return fence_depth > 0; }

}  // namespace chatwoot::pg
