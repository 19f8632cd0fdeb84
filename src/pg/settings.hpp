// boundary: postgres-style
// chatwoot_sync.* configuration parameters (GUCs).
#pragma once

namespace chatwoot::pg {

struct Settings {
    char* database_name;     // comma-separated databases the launcher serves
    int max_concurrency;     // requests in flight per worker
    int batch_size;          // jobs claimed per cycle
    int poll_interval_ms;    // fallback wake-up when no commit woke us
    int request_timeout_ms;  // whole HTTP request
    int app_code_timeout_ms; // a read of an app table by the worker (app_code_fence)
    int max_attempts;        // then a job goes to 'morto'
    int retention_s;         // how long 'concluido' jobs are kept
    bool tls_verify;         // verify Chatwoot's certificate
    int update_debounce_ms;  // an UPDATE's sync waits this long, so bursts of edits coalesce
    int update_max_wait_ms;  // ...but never longer than this after the first edit
    bool delete_contacts;    // a deleted party deletes its Chatwoot contact (opt-in, LGPD erasure)
    bool allow_link_local;   // connect to link-local / cloud metadata addresses (off: refused)
    int max_response_kb;     // a longer reply from Chatwoot is a transport error
    int max_backoff_s;       // the backoff cap, also the longest Retry-After obeyed
    // Deprecated fallback connection (used only when chatwoot.integracoes has no active row).
    char* api_url;
    char* api_key_placeholder;     // what PostgreSQL stores for chatwoot_sync.api_key: always "(oculto)"
    const char* api_key;           // the real key (kept by the GUC hooks, never stored as the value)
    int account_id;
    int default_inbox_id;
    // Test only (worker_qualified_sql.sh): the worker's search_path instead of
    // "pg_catalog, pg_temp" when not empty; proves its SQL qualifies every name.
    char* debug_worker_search_path;
};

extern Settings settings;

void define_settings();

// Is `database_name` one of the databases in chatwoot_sync.database_name?
bool database_listed(const char* database_name);

}  // namespace chatwoot::pg
