// boundary: postgres-style
// chatwoot._testar_cerca(tabela, comando, limite_ms): proves the app-code fence on its
// own (test/integration/worker_fence.sh). Runs `comando` inside the fence the worker
// uses for `tabela` (as its owner, settings pinned, row_security off, the timer), then
// reports the error, the user the command ran as, and the settings read after the
// fence ended. Superuser only (revoked from PUBLIC).
#include "pg/boundary/app_code_fence.hpp"
#include "pg/boundary/boundary.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "utils/json.h"
#include "utils/syscache.h"

PG_FUNCTION_INFO_V1(chatwoot_testar_cerca);
}

using namespace chatwoot::pg;

namespace {
struct FencedCommand {
    AppCodeFence fence;
    Oid owner;
    int limit_ms;
    const char* command;
    char* user_inside;
};

void run_fenced(void* arg) {
    auto* c = static_cast<FencedCommand*>(arg);
    enter_app_code_fence(&c->fence, c->owner, c->limit_ms);
    c->user_inside = GetUserNameFromId(GetUserId(), false);
    if (SPI_connect() != SPI_OK_CONNECT)
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
    SPI_execute(c->command, false, 0);
    SPI_finish();
}

void append_setting(StringInfo out, const char* name, bool first) {
    if (!first) appendStringInfoString(out, ", ");
    escape_json(out, name);
    appendStringInfoString(out, ": ");
    escape_json(out, GetConfigOptionByName(name, nullptr, false));
}
}  // namespace

extern "C" Datum chatwoot_testar_cerca(PG_FUNCTION_ARGS) {
    require_current_schema();
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("tabela e comando são obrigatórios")));
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(PG_GETARG_OID(0)));
    if (!HeapTupleIsValid(tuple)) ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("a tabela não existe")));
    Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);

    FencedCommand c{AppCodeFence{}, owner, PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2),
                    text_to_cstring(PG_GETARG_TEXT_PP(1)), nullptr};
    // The command runs in a subtransaction of its own, as the worker's reads do.
    MemoryContext caller_context = CurrentMemoryContext;
    ResourceOwner caller_owner = CurrentResourceOwner;
    BeginInternalSubTransaction(nullptr);
    MemoryContextSwitchTo(caller_context);
    ErrorData* error = catch_pg_error(run_fenced, &c);
    bool timed_out = leave_app_code_fence(&c.fence);
    if (error)
        RollbackAndReleaseCurrentSubTransaction();
    else
        ReleaseCurrentSubTransaction();
    MemoryContextSwitchTo(caller_context);
    CurrentResourceOwner = caller_owner;

    StringInfoData out;
    initStringInfo(&out);
    appendStringInfoString(&out, "{\"erro\": ");
    if (error && timed_out)
        escape_json(&out, psprintf("tempo limite de %d ms excedido: %s", c.limit_ms, error->message));
    else if (error)
        escape_json(&out, error->message ? error->message : "erro");
    else
        appendStringInfoString(&out, "null");
    appendStringInfoString(&out, ", \"usuario\": ");
    if (c.user_inside)
        escape_json(&out, c.user_inside);
    else
        appendStringInfoString(&out, "null");
    appendStringInfoString(&out, ", \"configuracoes\": {");
    const char* names[] = {"search_path", "application_name", "work_mem", "lock_timeout", "statement_timeout",
                           "default_transaction_read_only", "row_security"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) append_setting(&out, names[i], i == 0);
    appendStringInfoString(&out, "}}");
    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out.data)));
}
