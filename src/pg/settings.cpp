// boundary: postgres-style
#include "pg/settings.hpp"

#include "pg/boundary/pg_headers.hpp"

extern "C" {
#include "utils/varlena.h"
}

namespace chatwoot::pg {

Settings settings;

// chatwoot_sync.api_key never holds the key as its value: the check hook moves the
// key into the hook's private `extra` and stores a constant placeholder instead. So
// the value never changes as far as PostgreSQL can see, and nothing prints it: not
// the "parameter changed to" line of a reload, not SHOW, not pg_settings.
static const char* kHiddenKey = "(oculto)";

// PostgreSQL 15 frees GUC strings and `extra` with free(): allocate them with malloc().
static bool check_api_key(char** newval, void** extra, GucSource) {
    const char* real = (*newval && strcmp(*newval, kHiddenKey) != 0) ? *newval : "";
    size_t length = strlen(real);
    char* key = static_cast<char*>(malloc(length + 1));
    char* placeholder = static_cast<char*>(malloc(strlen(kHiddenKey) + 1));
    if (!key || !placeholder) {
        free(key);
        free(placeholder);
        return false;
    }
    memcpy(key, real, length + 1);
    strcpy(placeholder, kHiddenKey);
    free(*newval);
    *newval = placeholder;
    *extra = key;
    return true;
}

static void assign_api_key(const char*, void* extra) { settings.api_key = static_cast<const char*>(extra); }

static const char* show_api_key() { return (settings.api_key && settings.api_key[0]) ? "********" : ""; }

// A session may shorten its own testar_conexao, but the worker takes the value only
// from the server's configuration: a database owner's ALTER DATABASE ... SET
// chatwoot_sync.request_timeout = 100 must not make every request time out.
static bool check_request_timeout(int*, void**, GucSource source) {
    if (IsBackgroundWorker && (source == PGC_S_DATABASE || source == PGC_S_USER || source == PGC_S_DATABASE_USER ||
                               source == PGC_S_GLOBAL)) {
        GUC_check_errdetail("O worker do chatwoot_sync usa só o valor da configuração do servidor.");
        return false;
    }
    return true;
}

void define_settings() {
    DefineCustomStringVariable("chatwoot_sync.database_name",
                               "Comma-separated databases whose queue the background worker drains.", nullptr,
                               &settings.database_name, "postgres", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.max_concurrency", "Chatwoot requests in flight at once, per worker.",
                            nullptr, &settings.max_concurrency, 16, 1, 256, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.batch_size", "Jobs the worker claims per cycle.", nullptr,
                            &settings.batch_size, 2000, 1, 10000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.poll_interval",
                            "Fallback wake-up of the worker when no commit woke it.", nullptr,
                            &settings.poll_interval_ms, 5000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.request_timeout", "Timeout of one request to Chatwoot.", nullptr,
                            &settings.request_timeout_ms, 5000, 100, 120 * 1000, PGC_USERSET, GUC_UNIT_MS, check_request_timeout,
                            nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.app_code_timeout",
                            "Longest read of an app table by the worker; past it the read is cancelled and that kind's jobs fail.",
                            nullptr, &settings.app_code_timeout_ms, 10000, 100, 600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
                            nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.max_attempts", "Attempts before a job is marked 'morto'.", nullptr,
                            &settings.max_attempts, 10, 1, 1000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.retention", "How long finished jobs are kept.", nullptr,
                            &settings.retention_s, 7 * 24 * 3600, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr,
                            nullptr, nullptr);
    DefineCustomBoolVariable("chatwoot_sync.tls_verify", "Verify the TLS certificate of Chatwoot.", nullptr,
                             &settings.tls_verify, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);

    DefineCustomIntVariable("chatwoot_sync.update_debounce",
                            "How long the sync of an UPDATE waits for further edits of the same party.", nullptr,
                            &settings.update_debounce_ms, 3000, 0, 600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("chatwoot_sync.update_max_wait",
                            "Longest an UPDATE's sync is postponed while the party keeps changing.", nullptr,
                            &settings.update_max_wait_ms, 60 * 1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    DefineCustomBoolVariable("chatwoot_sync.delete_contacts",
                             "Delete the Chatwoot contact when its party is deleted (default: only mark it inactive).",
                             nullptr, &settings.delete_contacts, false, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);

    DefineCustomBoolVariable("chatwoot_sync.allow_link_local_addresses",
                             "Allow connections to link-local and cloud metadata addresses (169.254.0.0/16, fe80::/10, ...).",
                             "Off: configurar refuses such URLs and the transport refuses hosts that resolve to them.",
                             &settings.allow_link_local, false, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.max_response_size", "Longest reply accepted from Chatwoot.",
                            "A longer reply is cut off and treated as a transport error.", &settings.max_response_kb,
                            4096, 64, 1024 * 1024, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);

    DefineCustomIntVariable("chatwoot_sync.max_backoff",
                            "Longest wait before a job is retried; also the longest Retry-After obeyed.", nullptr,
                            &settings.max_backoff_s, 300, 1, 24 * 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
                            nullptr);

    DefineCustomStringVariable("chatwoot_sync.api_url",
                               "Deprecated fallback: Chatwoot URL used when chatwoot.integracoes is empty.", nullptr,
                               &settings.api_url, "", PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("chatwoot_sync.api_key",
                               "Deprecated fallback: Chatwoot api_access_token used when chatwoot.integracoes is empty.",
                               nullptr, &settings.api_key_placeholder, kHiddenKey, PGC_SUSET,
                               GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, check_api_key,
                               assign_api_key, show_api_key);
    DefineCustomIntVariable("chatwoot_sync.account_id", "Deprecated fallback: Chatwoot account id.", nullptr,
                            &settings.account_id, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("chatwoot_sync.default_inbox_id", "Deprecated fallback: Chatwoot inbox id.", nullptr,
                            &settings.default_inbox_id, 0, 0, INT_MAX, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomStringVariable("chatwoot_sync.debug_worker_search_path",
                               "Test only: the background worker's search_path (empty: pg_catalog, pg_temp).",
                               "Exists for test/integration/worker_qualified_sql.sh; never set it in production.",
                               &settings.debug_worker_search_path, "", PGC_POSTMASTER,
                               GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
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
