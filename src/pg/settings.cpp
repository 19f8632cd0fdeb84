#include "pg/settings.hpp"

#include "pg/pg_headers.hpp"

extern "C" {
#include "utils/varlena.h"
}

namespace chatwoot::pg {

Settings settings;

// SHOW prints a placeholder for the key, even to superusers, so it cannot land in
// a log, a screen share or a support ticket by accident.
static const char* show_api_key() {
    return (settings.api_key && settings.api_key[0]) ? "********" : "";
}

void define_settings() {
    DefineCustomStringVariable("chatwoot_sync.database_name",
                               "Comma-separated databases whose queue the background worker drains.", nullptr,
                               &settings.database_name, "postgres", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.max_concurrency", "Chatwoot requests in flight at once, per worker.",
                            nullptr, &settings.max_concurrency, 16, 1, 256, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.batch_size", "Jobs the worker claims per cycle.", nullptr,
                            &settings.batch_size, 100, 1, 10000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.poll_interval",
                            "Fallback wake-up of the worker when no commit woke it.", nullptr,
                            &settings.poll_interval_ms, 5000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.request_timeout", "Timeout of one request to Chatwoot.", nullptr,
                            &settings.request_timeout_ms, 5000, 100, 120 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.max_attempts", "Attempts before a job is marked 'morto'.", nullptr,
                            &settings.max_attempts, 10, 1, 1000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.retention", "How long finished jobs are kept.", nullptr,
                            &settings.retention_s, 7 * 24 * 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    DefineCustomBoolVariable("chatwoot_sync.tls_verify", "Verify the TLS certificate of Chatwoot.", nullptr,
                             &settings.tls_verify, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);

    DefineCustomBoolVariable("chatwoot_sync.delete_contacts",
                             "Delete the Chatwoot contact when its party is deleted (default: only mark it inactive).",
                             nullptr, &settings.delete_contacts, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomStringVariable("chatwoot_sync.api_url",
                               "Deprecated fallback: Chatwoot URL used when chatwoot.integracoes is empty.", nullptr,
                               &settings.api_url, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("chatwoot_sync.api_key",
                               "Deprecated fallback: Chatwoot api_access_token used when chatwoot.integracoes is empty.",
                               nullptr, &settings.api_key, "", PGC_SUSET,
                               GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, nullptr, nullptr,
                               show_api_key);
    DefineCustomIntVariable("chatwoot_sync.account_id", "Deprecated fallback: Chatwoot account id.", nullptr,
                            &settings.account_id, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.default_inbox_id", "Deprecated fallback: Chatwoot inbox id.", nullptr,
                            &settings.default_inbox_id, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    MarkGUCPrefixReserved("chatwoot_sync");
}

bool database_listed(const char* database_name) {
    char* list_copy = pstrdup(settings.database_name ? settings.database_name : "");
    List* names = NIL;
    bool listed = false;
    if (SplitGUCList(list_copy, ',', &names)) {
        ListCell* cell;
        foreach (cell, names) {
            if (strcmp(static_cast<const char*>(lfirst(cell)), database_name) == 0) listed = true;
        }
    }
    list_free(names);
    pfree(list_copy);
    return listed;
}

}  // namespace chatwoot::pg
