// boundary: c++-style
// chatwoot.testar_conexao(integracao_id): loads the connection (table row, or the
// deprecated GUC fallback; connection.cpp, as the worker does), calls Chatwoot synchronously through the core, and
// returns the core's report as jsonb. Runs SECURITY DEFINER: the caller never sees
// the key, and the key never enters a query text, a log line or an error.
// Its requests count in the database's request budget, shared with the worker's
// pacer in the worker registry slot (core/http/shared_budget.hpp): at most a tenth of
// each window, and none once the window is spent (then it answers without calling).
#include "core/chatwoot/chatwoot_api.hpp"
#include "core/connections/connection_config.hpp"
#include "core/http/http_client.hpp"
#include "core/http/shared_budget.hpp"
#include "pg/boundary/boundary.hpp"
#include "pg/connections/connection.hpp"
#include "pg/settings.hpp"
#include "pg/worker/worker_registry.hpp"

#include <string>

using namespace chatwoot;
using namespace chatwoot::pg;

namespace {

// testar_conexao's requests: the token, then the account's inboxes.
constexpr int kTestRequests = 2;

Datum jsonb_from_text(const char* text) {
    return DirectFunctionCall1(jsonb_in, CStringGetDatum(text));
}

}  // namespace

CHATWOOT_FUNCTION(chatwoot_testar_conexao) {
    std::optional<std::int64_t> integracao_id;
    if (!PG_ARGISNULL(0)) integracao_id = PG_GETARG_INT64(0);
    pg_call([] {
        if (SPI_connect() != SPI_OK_CONNECT)
            ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg_internal("SPI_connect failed")));
    });
    Connection conn = load_connection(integracao_id);
    pg_call([] { SPI_finish(); });
    if (!conn.found && integracao_id) {
        long long id = *integracao_id;
        pg_call([id] {
            ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("integração %lld não existe em chatwoot.integracoes", id)));
        });
    }
    if (conn.from_settings)
        pg_call([] {
            ereport(NOTICE, (errmsg("usando a configuração chatwoot_sync.api_url/api_key (obsoleta)"),
                             errhint("Use chatwoot.configurar(...) para gravar a integração em chatwoot.integracoes.")));
        });

    // A turn at the budget the worker spends too (none when no worker slot serves
    // this database: then nothing else sends).
    std::optional<core::ExternalTurn> turn;
    if (conn.found) {
        core::SharedRequestWindow* shared = pg_call([] { return database_request_window(); });
        if (shared)
            turn = core::take_external_turn(*shared, conn.budget, kTestRequests, std::chrono::system_clock::now());
    }
    std::string report_text;
    if (!conn.found) {
        core::ConnectionReport nothing;
        nothing.erro = "nenhuma integração configurada: use chatwoot.configurar(...)";
        report_text = nothing.to_json_text();
    } else if (turn && turn->refused) {  // the window's budget is spent: no request
        core::ConnectionReport refused;
        refused.erro = turn->message();
        report_text = refused.to_json_text(conn.from_settings ? "guc" : "");
    } else {
        // The abort check only reads PostgreSQL's interrupt flags (a cancel, a
        // statement_timeout, a shutdown), while a reply is received and while it is
        // parsed; the interrupt itself is serviced below, once the core has cleaned up.
        auto interrupted = [] { return QueryCancelPending || ProcDiePending; };
        core::CurlTransport transport(interrupted);
        core::ChatwootApi api(conn.config, transport, interrupted);
        core::ConnectionReport report = api.test_connection();
        pg_call([] { CHECK_FOR_INTERRUPTS(); });
        report_text = report.to_json_text(conn.from_settings ? "guc" : "");
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
