// boundary: c++-style
// chatwoot.testar_conexao(integracao_id): loads the connection (table row, or the
// deprecated GUC fallback), calls Chatwoot synchronously through the core, and
// returns the core's report as jsonb. Runs SECURITY DEFINER: the caller never sees
// the key, and the key never enters a query text, a log line or an error.
#include "core/chatwoot/chatwoot_api.hpp"
#include "core/connections/connection_config.hpp"
#include "core/http/http_client.hpp"
#include "pg/boundary/boundary.hpp"
#include "pg/settings.hpp"

#include <string>

using namespace chatwoot;
using namespace chatwoot::pg;

namespace {

// Plain data filled by PostgreSQL code (palloc'd strings): safe across a longjmp.
struct StoredConnection {
    bool found;
    bool from_settings;
    char* api_url;
    const char* api_key;
    const char* webhook_secret;
    int64 account_id;
    bool has_inbox;
    int64 inbox_id;
};

char* copy_column(int column) {
    char* value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column);
    return value ? MemoryContextStrdup(TopTransactionContext, value) : nullptr;
}

// PostgreSQL side only: may ereport, owns no C++ objects.
StoredConnection load_connection(bool has_id, int64 integracao_id) {
    StoredConnection conn;
    memset(&conn, 0, sizeof(conn));
    SPI_connect();
    Oid types[1] = {INT8OID};
    Datum values[1] = {Int64GetDatum(integracao_id)};
    char nulls[1] = {has_id ? ' ' : 'n'};
    int rc = SPI_execute_with_args(
        "SELECT api_url, api_key, account_id, default_inbox_id, webhook_secret FROM chatwoot.integracoes "
        "WHERE CASE WHEN $1 IS NULL THEN ativo ELSE id = $1 END ORDER BY id LIMIT 1",
        1, types, values, nulls, true, 1);
    if (rc != SPI_OK_SELECT) ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("chatwoot_sync: could not read chatwoot.integracoes")));
    if (SPI_processed == 1) {
        conn.found = true;
        conn.api_url = copy_column(1);
        conn.api_key = copy_column(2);
        char* account = copy_column(3);
        conn.account_id = account ? strtoll(account, nullptr, 10) : 0;
        char* inbox = copy_column(4);
        conn.has_inbox = inbox != nullptr;
        conn.inbox_id = inbox ? strtoll(inbox, nullptr, 10) : 0;
        conn.webhook_secret = copy_column(5);
    }
    SPI_finish();
    if (!conn.found && has_id)
        ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                        errmsg("integração %lld não existe em chatwoot.integracoes", (long long)integracao_id)));
    if (!conn.found && settings.api_url && settings.api_url[0]) {
        ereport(NOTICE, (errmsg("usando a configuração chatwoot_sync.api_url/api_key (obsoleta)"),
                         errhint("Use chatwoot.configurar(...) para gravar a integração em chatwoot.integracoes.")));
        conn.found = true;
        conn.from_settings = true;
        conn.api_url = settings.api_url;
        conn.api_key = settings.api_key;
        conn.account_id = settings.account_id;
        conn.has_inbox = settings.default_inbox_id > 0;
        conn.inbox_id = settings.default_inbox_id;
    }
    return conn;
}

Datum jsonb_from_text(const char* text) {
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}

}  // namespace

CHATWOOT_FUNCTION(chatwoot_testar_conexao) {
    bool has_id = !PG_ARGISNULL(0);
    int64 integracao_id = has_id ? PG_GETARG_INT64(0) : 0;
    StoredConnection stored = pg_call([&] { return load_connection(has_id, integracao_id); });

    std::string report_text;
    if (!stored.found) {
        core::ConnectionReport nothing;
        nothing.erro = "nenhuma integração configurada: use chatwoot.configurar(...)";
        report_text = nothing.to_json_text();
    } else {
        core::ConnectionConfig config;
        config.api_url = stored.api_url ? stored.api_url : "";
        config.api_key = stored.api_key ? stored.api_key : "";
        config.account_id = stored.account_id;
        if (stored.has_inbox) config.default_inbox_id = stored.inbox_id;
        config.webhook_secret = stored.webhook_secret ? stored.webhook_secret : "";
        config.timeout_ms = settings.request_timeout_ms;
        config.verify_tls = settings.tls_verify;
        config.allow_link_local = settings.allow_link_local;
        config.max_response_bytes = static_cast<std::size_t>(settings.max_response_kb) * 1024;

        // The abort check only reads PostgreSQL's interrupt flags (a cancel, a
        // statement_timeout, a shutdown), while a reply is received and while it is
        // parsed; the interrupt itself is serviced below, once the core has cleaned up.
        auto interrupted = [] { return QueryCancelPending || ProcDiePending; };
        core::CurlTransport transport(interrupted);
        core::ChatwootApi api(config, transport, interrupted);
        core::ConnectionReport report = api.test_connection();
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
        report_text = report.to_json_text(stored.from_settings ? "guc" : "");
    }
    return pg_call([&] { return jsonb_from_text(report_text.c_str()); });
}

// chatwoot._verificar_api_url(url): the core's URL check; NULL when usable.
CHATWOOT_FUNCTION(chatwoot_verificar_api_url) {
    if (PG_ARGISNULL(0)) PG_RETURN_TEXT_P(cstring_to_text("api_url vazia"));
    text* url = PG_GETARG_TEXT_PP(0);
    std::string value(VARDATA_ANY(url), VARSIZE_ANY_EXHDR(url));
    auto problem = chatwoot::core::check_api_url(value, settings.allow_link_local);
    if (!problem) PG_RETURN_NULL();
    std::string message = *problem;
    return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(message.data(), message.size())); });
}
