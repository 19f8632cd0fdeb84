-- chatwoot_sync.* settings: who may change them, when, their defaults, and the
-- api_key that nobody can read back.
BEGIN;
SELECT plan(41);

CREATE FUNCTION pg_temp.como(papel text, sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', papel);
    EXECUTE sql;
    RESET ROLE;
END $$;
CREATE FUNCTION pg_temp.valor_como(papel text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
    EXECUTE format('SET LOCAL ROLE %I', papel);
    EXECUTE sql INTO r;
    RESET ROLE;
    RETURN r;
END $$;
CREATE FUNCTION pg_temp.cfg(p text) RETURNS text LANGUAGE sql AS
$$ SELECT context || '|' || vartype || '|' || coalesce(unit, '') || '|' || boot_val FROM pg_settings WHERE name = p $$;

-- context | type | unit | default
SELECT is(pg_temp.cfg('chatwoot_sync.database_name'), 'sighup|string||postgres', 'database_name: reload, default postgres');
SELECT is(pg_temp.cfg('chatwoot_sync.poll_interval'), 'sighup|integer|ms|5000', 'poll_interval: reload, ms, default 5 s');
SELECT is(pg_temp.cfg('chatwoot_sync.request_timeout'), 'user|integer|ms|5000', 'request_timeout: any session, ms, default 5 s');
SELECT is(pg_temp.cfg('chatwoot_sync.tls_verify'), 'superuser|bool||on', 'tls_verify: superuser, default on');
SELECT is(pg_temp.cfg('chatwoot_sync.max_concurrency'), 'sighup|integer||16', 'max_concurrency: reload, default 16');
SELECT is(pg_temp.cfg('chatwoot_sync.batch_size'), 'sighup|integer||2000', 'batch_size: reload, default 2000');
SELECT is(pg_temp.cfg('chatwoot_sync.max_attempts'), 'sighup|integer||10', 'max_attempts: reload, default 10');
SELECT is(pg_temp.cfg('chatwoot_sync.retention'), 'sighup|integer|s|604800', 'retention: reload, s, default 7 days');
SELECT is(pg_temp.cfg('chatwoot_sync.max_response_size'), 'superuser|integer|kB|4096',
          'max_response_size: superuser, kB, default 4 MB');
SELECT is(pg_temp.cfg('chatwoot_sync.api_url'), 'superuser|string||', 'api_url (deprecated): superuser, empty');
SELECT is(pg_temp.cfg('chatwoot_sync.account_id'), 'superuser|integer||0', 'account_id (deprecated): superuser, 0');
SELECT is(pg_temp.cfg('chatwoot_sync.default_inbox_id'), 'superuser|integer||0', 'default_inbox_id (deprecated): superuser, 0');
SELECT is((SELECT min_val || '..' || max_val FROM pg_settings WHERE name = 'chatwoot_sync.request_timeout'), '100..120000',
          'request_timeout bounded to 100 ms .. 120 s');
SELECT ok(current_setting('chatwoot_sync.database_name') ~ '(^|,)chatwoot_tap(,|$)',
          'this test database is listed in database_name');

-- api_key: superuser-only, hidden from SHOW ALL / pg_settings, masked by SHOW
SELECT is((SELECT count(*) FROM pg_settings WHERE name = 'chatwoot_sync.api_key'), 0::bigint,
          'api_key is not listed in pg_settings (GUC_NO_SHOW_ALL), even for a superuser');
SELECT ok(pg_settings_get_flags('chatwoot_sync.api_key') @> ARRAY['NO_SHOW_ALL', 'NOT_IN_SAMPLE'],
          'api_key flags: NO_SHOW_ALL, NOT_IN_SAMPLE');
SELECT is(current_setting('chatwoot_sync.api_key'), '', 'an unset api_key shows as empty');
SET LOCAL chatwoot_sync.api_key = 'TAP-GUC-SEGREDO-123456';
SELECT is(current_setting('chatwoot_sync.api_key'), '********', 'a set api_key shows as ******** to a superuser');
SELECT is((SELECT count(*) FROM pg_settings WHERE setting LIKE '%TAP-GUC-SEGREDO%' OR reset_val LIKE '%TAP-GUC-SEGREDO%'),
          0::bigint, 'the key value appears nowhere in pg_settings');
SELECT is((SELECT count(*) FROM pg_settings WHERE name IN ('chatwoot_sync.api_url', 'chatwoot_sync.account_id',
                   'chatwoot_sync.default_inbox_id', 'chatwoot_sync.tls_verify', 'chatwoot_sync.request_timeout')), 5::bigint,
          'pg_settings lists the other connection settings');

CREATE ROLE tap_papel NOLOGIN;
SELECT throws_ok($$SELECT pg_temp.como('tap_papel', 'SELECT current_setting(''chatwoot_sync.api_key'')')$$, '42501',
                 'must be superuser or have privileges of pg_read_all_settings to examine "chatwoot_sync.api_key"',
                 'a plain role cannot read api_key');
SELECT throws_ok($$SELECT pg_temp.como('tap_papel', 'SET chatwoot_sync.api_key = ''x''')$$, '42501', NULL,
                 'a plain role cannot set api_key (context superuser)');
SELECT throws_ok($$SELECT pg_temp.como('tap_papel', 'SET chatwoot_sync.api_url = ''http://x''')$$, '42501', NULL,
                 'a plain role cannot set api_url');
SELECT throws_ok($$SELECT pg_temp.como('tap_papel', 'SET chatwoot_sync.account_id = 5')$$, '42501', NULL,
                 'a plain role cannot set account_id');
SELECT throws_ok($$SELECT pg_temp.como('tap_papel', 'SET chatwoot_sync.tls_verify = off')$$, '42501', NULL,
                 'a plain role cannot turn tls_verify off');
SELECT lives_ok($$SELECT pg_temp.como('tap_papel', 'SET LOCAL chatwoot_sync.request_timeout = ''2s''')$$,
                'any role may set request_timeout');
SELECT is((SELECT count(*) FROM pg_settings WHERE name = 'chatwoot_sync.api_key'), 0::bigint,
          'api_key is not in pg_settings for a plain role either');
SELECT is(pg_temp.valor_como('tap_papel', 'SELECT count(*) FROM pg_settings WHERE name IN (''chatwoot_sync.api_url'', '
                                          '''chatwoot_sync.account_id'', ''chatwoot_sync.tls_verify'', ''chatwoot_sync.api_key'')'),
          '3', 'a plain role sees api_url, account_id, tls_verify but not api_key in pg_settings');
SELECT is(pg_temp.valor_como('tap_papel',
          'SELECT count(*) FROM pg_settings WHERE setting LIKE ''%TAP-GUC-SEGREDO%'' OR reset_val LIKE ''%TAP-GUC-SEGREDO%'''),
          '0', 'a plain role finds the key value nowhere in pg_settings');
CREATE ROLE tap_leitor NOLOGIN IN ROLE pg_read_all_settings;
SELECT is(pg_temp.valor_como('tap_leitor', 'SELECT current_setting(''chatwoot_sync.api_key'')'), '********',
          'pg_read_all_settings members read only ********');

-- Reload-only and superuser settings cannot change in a session
SELECT throws_ok($$SET chatwoot_sync.database_name = 'x'$$, '55P02', NULL, 'database_name cannot be SET in a session');
SELECT throws_ok($$SET chatwoot_sync.poll_interval = '1min'$$, '55P02', NULL, 'poll_interval cannot be SET in a session');
SELECT throws_ok($$SET chatwoot_sync.max_concurrency = 4$$, '55P02', NULL, 'max_concurrency cannot be SET in a session');
SELECT lives_ok($$SET LOCAL chatwoot_sync.tls_verify = off$$, 'a superuser may turn tls_verify off for the session');
SELECT is(current_setting('chatwoot_sync.tls_verify'), 'off', 'tls_verify is off in this transaction');
SELECT throws_ok($$SET chatwoot_sync.request_timeout = '50ms'$$, '22023', NULL, 'request_timeout below 100 ms is rejected');
SELECT throws_ok($$SET chatwoot_sync.request_timeout = '10min'$$, '22023', NULL, 'request_timeout above 120 s is rejected');
SELECT lives_ok($$SET LOCAL chatwoot_sync.request_timeout = '1500ms'$$, 'request_timeout accepts units');
SELECT is(current_setting('chatwoot_sync.request_timeout'), '1500ms', 'request_timeout 1500ms');
SELECT throws_ok($$SET chatwoot_sync.nao_existe = 'x'$$, '42602', NULL, 'the chatwoot_sync. prefix is reserved (typos fail)');
SELECT throws_ok($$SET chatwoot_sync.account_id = -1$$, '22023', NULL, 'account_id cannot be negative');

SELECT * FROM finish();
ROLLBACK;
