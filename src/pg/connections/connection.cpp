// boundary: c++-style
#include "pg/connections/connection.hpp"

#include "core/text/text.hpp"
#include "pg/boundary/spi_rows.hpp"
#include "pg/settings.hpp"

#include <algorithm>

namespace chatwoot::pg {

Connection load_connection(std::optional<std::int64_t> integracao_id) {
    Connection conn;
    auto rows = sql_rows(
        "SELECT id, api_url, api_key, account_id, default_inbox_id, webhook_secret, limite_requisicoes, "
        "janela_limite_s, motivo_pausa, pausada_em IS NOT NULL FROM chatwoot.integracoes "
        "WHERE CASE WHEN $1::pg_catalog.int8 IS NULL THEN ativo ELSE id OPERATOR(pg_catalog.=) $1 END ORDER BY id LIMIT 1",
        {integracao_id ? arg_int8(*integracao_id) : arg_null(INT8OID)});
    if (!rows.empty()) {
        const SqlRow& r = rows[0];
        conn.found = true;
        conn.integracao_id = r.int8(0);
        conn.config.api_url = r.text(1);
        conn.config.api_key = r.text(2);
        conn.config.account_id = r.int8(3);
        conn.config.default_inbox_id = r.int8_or_null(4);
        conn.config.webhook_secret = r.text(5);
        conn.budget.limit = static_cast<int>(r.int8(6));
        conn.budget.window = std::chrono::seconds(std::max<std::int64_t>(1, r.int8(7)));
        if (r.boolean(9)) conn.paused = r.text(8, "pausada");
    } else if (!integracao_id && settings.api_url && settings.api_url[0]) {
        conn.found = true;  // deprecated fallback; testar_conexao and the docs say so
        conn.from_settings = true;
        conn.config.api_url = settings.api_url;
        conn.config.api_key = settings.api_key ? settings.api_key : "";
        conn.config.account_id = settings.account_id;
        if (settings.default_inbox_id > 0) conn.config.default_inbox_id = settings.default_inbox_id;
        conn.budget.limit = 2900;
    }
    conn.budget.max_pause = std::chrono::seconds(settings.max_backoff_s);
    conn.config.timeout_ms = settings.request_timeout_ms;
    conn.config.verify_tls = settings.tls_verify;
    conn.config.allow_link_local = settings.allow_link_local;
    conn.config.max_response_bytes = static_cast<std::size_t>(settings.max_response_kb) * 1024;
    return conn;
}

std::string recorded(const Connection& conn, const std::string& text) {
    return core::recorded_text(text, {conn.config.api_key, conn.config.webhook_secret});
}

}  // namespace chatwoot::pg
