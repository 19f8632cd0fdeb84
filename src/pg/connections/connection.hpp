// boundary: c++-style
// The Chatwoot connection of this database, loaded in one place for the worker and
// for chatwoot.testar_conexao(): a chatwoot.integracoes row, or the deprecated
// chatwoot_sync.api_* settings when no row is active.
#pragma once
#include "core/connections/connection_config.hpp"
#include "core/http/request_pacer.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatwoot::pg {

struct Connection {
    bool found = false;
    bool from_settings = false;              // the deprecated GUC fallback
    std::optional<std::int64_t> integracao_id;
    core::ConnectionConfig config;           // with the request settings (timeout, TLS...) applied
    core::RequestBudget budget;
    std::optional<std::string> paused;       // why the integration is paused (401/403), when it is
};

// Needs an open transaction with SPI connected. `integracao_id`: that row, active
// or not (none: found = false, and no fallback); otherwise the first active row, or
// the deprecated settings.
Connection load_connection(std::optional<std::int64_t> integracao_id = std::nullopt);

// Every text the worker records or reports: the connection's secrets redacted, valid
// UTF-8, bounded.
std::string recorded(const Connection& conn, const std::string& text);

}  // namespace chatwoot::pg
