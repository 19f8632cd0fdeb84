-- Privileges: PUBLIC gets nothing secret; conceder_acesso_app grants the app the
-- non-secret columns and testar_conexao, never api_key / webhook_secret.
BEGIN;
SELECT plan(86);

-- Runs `sql` as role `papel` and returns to the session user (on error the
-- caller's subtransaction, e.g. throws_ok's, restores the role).
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

-- PUBLIC
SELECT table_privs_are('chatwoot', 'integracoes', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on integracoes');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_attribute a, aclexplode(a.attacl) x
                       WHERE a.attrelid = 'chatwoot.integracoes'::regclass AND x.grantee = 0),
          'PUBLIC has no column privilege on integracoes');
SELECT column_privs_are('chatwoot', 'integracoes', 'api_key', 'public', ARRAY[]::text[], 'PUBLIC cannot read api_key');
SELECT function_privs_are('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                          'public', ARRAY[]::text[], 'PUBLIC cannot execute configurar');
SELECT function_privs_are('chatwoot', 'testar_conexao', ARRAY['bigint'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute testar_conexao');
SELECT function_privs_are('chatwoot', 'conceder_acesso_app', ARRAY['regrole', 'boolean'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute conceder_acesso_app');
SELECT function_privs_are('chatwoot', '_testar_fronteira', ARRAY['text'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute _testar_fronteira');
SELECT function_privs_are('chatwoot', '_fronteira_destrutores', ARRAY[]::name[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute _fronteira_destrutores');
SELECT function_privs_are('chatwoot', '_registrar_instalacao', ARRAY[]::name[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute _registrar_instalacao');
SELECT function_privs_are('chatwoot', 'worker_status', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE'],
                          'pg_monitor can execute worker_status');
SELECT schema_privs_are('chatwoot', 'pg_monitor', ARRAY['USAGE'], 'pg_monitor has USAGE on schema chatwoot');
-- Monitoring (docs/monitoring/queries.yaml): pg_monitor reads the counters and the
-- connections' summary, never integracoes itself (api_key, webhook_secret).
SELECT function_privs_are('chatwoot', 'requisicoes_chatwoot', ARRAY[]::name[], 'pg_monitor', ARRAY['EXECUTE'],
                          'pg_monitor can execute requisicoes_chatwoot');
SELECT function_privs_are('chatwoot', 'requisicoes_chatwoot', ARRAY[]::name[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute requisicoes_chatwoot');
SELECT table_privs_are('chatwoot', 'integracoes_resumo', 'pg_monitor', ARRAY['SELECT'], 'pg_monitor can read integracoes_resumo');
SELECT table_privs_are('chatwoot', 'integracoes_resumo', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on integracoes_resumo');
SELECT is(has_any_column_privilege('pg_monitor', 'chatwoot.integracoes', 'SELECT'), false,
          'pg_monitor reads no column of integracoes itself');
-- ... and the contact sync's objects
SELECT table_privs_are('chatwoot', 'fila', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on fila');
SELECT table_privs_are('chatwoot', 'partes_chatwoot', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on partes_chatwoot');
SELECT table_privs_are('chatwoot', 'rastreamentos', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on rastreamentos');
SELECT table_privs_are('chatwoot', 'fila_resumo', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on fila_resumo');
SELECT table_privs_are('chatwoot', 'erros_sincronizacao', 'public', ARRAY[]::text[],
                       'PUBLIC has no privilege on erros_sincronizacao');
SELECT function_privs_are('chatwoot', 'rastrear', ARRAY['regclass', 'text', 'jsonb'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute rastrear');
SELECT function_privs_are('chatwoot', 'parar_rastreamento', ARRAY['regclass', 'boolean'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute parar_rastreamento');
SELECT function_privs_are('chatwoot', 'sincronizar_parte', ARRAY['text', 'bigint'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute sincronizar_parte');
SELECT function_privs_are('chatwoot', 'desincronizar', ARRAY['text', 'bigint'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute desincronizar');
SELECT function_privs_are('chatwoot', 'sincronizar_app_para_chatwoot', ARRAY['text', 'boolean'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute sincronizar_app_para_chatwoot');
SELECT function_privs_are('chatwoot', 'reprocessar', ARRAY['bigint'], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute reprocessar');
SELECT function_privs_are('chatwoot', 'reprocessar_falhas', ARRAY[]::name[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute reprocessar_falhas');
SELECT function_privs_are('chatwoot', '_acordar_no_commit', ARRAY[]::name[], 'public', ARRAY[]::text[],
                          'PUBLIC cannot execute _acordar_no_commit');
SELECT table_privs_are('chatwoot', 'fila_resumo', 'pg_monitor', ARRAY['SELECT'], 'pg_monitor can read fila_resumo');
SELECT table_privs_are('chatwoot', 'erros_sincronizacao', 'pg_monitor', ARRAY['SELECT'],
                       'pg_monitor can read erros_sincronizacao');

-- A role with nothing granted
CREATE ROLE tap_ninguem NOLOGIN;
SELECT table_privs_are('chatwoot', 'integracoes', 'tap_ninguem', ARRAY[]::text[], 'a plain role has nothing on integracoes');
SELECT throws_ok($$SELECT pg_temp.como('tap_ninguem', 'SELECT id FROM chatwoot.integracoes')$$, '42501', NULL,
                 'a plain role cannot read integracoes');

-- The app role
CREATE ROLE tap_app NOLOGIN;
SELECT lives_ok($$SELECT chatwoot.conceder_acesso_app('tap_app')$$, 'conceder_acesso_app(tap_app) runs');
SELECT schema_privs_are('chatwoot', 'tap_app', ARRAY['USAGE'], 'app: USAGE on schema chatwoot');
SELECT table_privs_are('chatwoot', 'integracoes', 'tap_app', ARRAY[]::text[], 'app: no table-wide privilege on integracoes');
SELECT column_privs_are('chatwoot', 'integracoes', 'id', 'tap_app', ARRAY['SELECT'], 'app: SELECT (id)');
SELECT column_privs_are('chatwoot', 'integracoes', 'nome', 'tap_app', ARRAY['SELECT'], 'app: SELECT (nome)');
SELECT column_privs_are('chatwoot', 'integracoes', 'api_url', 'tap_app', ARRAY['SELECT'], 'app: SELECT (api_url)');
SELECT column_privs_are('chatwoot', 'integracoes', 'account_id', 'tap_app', ARRAY['SELECT'], 'app: SELECT (account_id)');
SELECT column_privs_are('chatwoot', 'integracoes', 'default_inbox_id', 'tap_app', ARRAY['SELECT'], 'app: SELECT (default_inbox_id)');
SELECT column_privs_are('chatwoot', 'integracoes', 'ativo', 'tap_app', ARRAY['SELECT'], 'app: SELECT (ativo)');
SELECT column_privs_are('chatwoot', 'integracoes', 'created_at', 'tap_app', ARRAY['SELECT'], 'app: SELECT (created_at)');
SELECT column_privs_are('chatwoot', 'integracoes', 'updated_at', 'tap_app', ARRAY['SELECT'], 'app: SELECT (updated_at)');
SELECT column_privs_are('chatwoot', 'integracoes', 'api_key', 'tap_app', ARRAY[]::text[], 'app: nothing on api_key');
SELECT column_privs_are('chatwoot', 'integracoes', 'webhook_secret', 'tap_app', ARRAY[]::text[], 'app: nothing on webhook_secret');
SELECT function_privs_are('chatwoot', 'testar_conexao', ARRAY['bigint'], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on testar_conexao');
SELECT function_privs_are('chatwoot', 'worker_status', ARRAY[]::name[], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on worker_status');
SELECT function_privs_are('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                          'tap_app', ARRAY[]::text[], 'app: no EXECUTE on configurar without pode_configurar');
SELECT function_privs_are('chatwoot', 'conceder_acesso_app', ARRAY['regrole', 'boolean'], 'tap_app', ARRAY[]::text[],
                          'app: no EXECUTE on conceder_acesso_app');
SELECT table_privs_are('chatwoot', '_acessos_app', 'tap_app', ARRAY[]::text[],
                       'app: nothing on _acessos_app, the list of what it is granted');
SELECT table_privs_are('chatwoot', '_acessos_app', 'public', ARRAY[]::text[], 'PUBLIC has no privilege on _acessos_app');
-- Every declared privilege reached the role: none is listed and left ungranted.
SELECT is((SELECT count(*) FROM chatwoot._acessos_app a
            WHERE NOT a.para_configurar
              AND NOT CASE WHEN a.objeto LIKE 'FUNCTION %'
                           THEN has_function_privilege('tap_app', substr(a.objeto, 10), a.privilegio)
                           WHEN a.objeto LIKE 'SCHEMA %'
                           THEN has_schema_privilege('tap_app', substr(a.objeto, 8), a.privilegio)
                           WHEN a.privilegio LIKE 'SELECT (%'
                           THEN has_column_privilege('tap_app', a.objeto, 'id', 'SELECT')
                           ELSE has_table_privilege('tap_app', a.objeto, a.privilegio) END),
          0::bigint, 'app: every privilege declared in _acessos_app was granted');
SELECT function_privs_are('chatwoot', '_testar_fronteira', ARRAY['text'], 'tap_app', ARRAY[]::text[],
                          'app: no EXECUTE on _testar_fronteira');
SELECT table_privs_are('chatwoot', 'partes_chatwoot', 'tap_app', ARRAY['SELECT'], 'app: SELECT on partes_chatwoot, nothing more');
SELECT table_privs_are('chatwoot', 'fila_resumo', 'tap_app', ARRAY['SELECT'], 'app: SELECT on fila_resumo');
SELECT table_privs_are('chatwoot', 'erros_sincronizacao', 'tap_app', ARRAY['SELECT'], 'app: SELECT on erros_sincronizacao');
SELECT table_privs_are('chatwoot', 'fila', 'tap_app', ARRAY[]::text[], 'app: nothing on the outbox itself');
SELECT table_privs_are('chatwoot', 'rastreamentos', 'tap_app', ARRAY[]::text[], 'app: nothing on rastreamentos');
SELECT function_privs_are('chatwoot', 'sincronizar_parte', ARRAY['text', 'bigint'], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on sincronizar_parte');
SELECT function_privs_are('chatwoot', 'desincronizar', ARRAY['text', 'bigint'], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on desincronizar');
SELECT function_privs_are('chatwoot', 'sincronizar_app_para_chatwoot', ARRAY['text', 'boolean'], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on sincronizar_app_para_chatwoot');
SELECT function_privs_are('chatwoot', 'reprocessar', ARRAY['bigint'], 'tap_app', ARRAY['EXECUTE'], 'app: EXECUTE on reprocessar');
SELECT function_privs_are('chatwoot', 'reprocessar_falhas', ARRAY[]::name[], 'tap_app', ARRAY['EXECUTE'],
                          'app: EXECUTE on reprocessar_falhas');
SELECT function_privs_are('chatwoot', 'rastrear', ARRAY['regclass', 'text', 'jsonb'], 'tap_app', ARRAY[]::text[],
                          'app: no EXECUTE on rastrear');
SELECT function_privs_are('chatwoot', 'parar_rastreamento', ARRAY['regclass', 'boolean'], 'tap_app', ARRAY[]::text[],
                          'app: no EXECUTE on parar_rastreamento');

-- ... and as the app role, for real
SELECT cmp_ok(chatwoot.configurar('http://127.0.0.1:9', 'TAP-SEGREDO-0001', 1, NULL, 'padrao', 'TAP-WEBHOOK-0001'), '>', 0::bigint,
              'the owner configures a connection (port 9: nothing listens)');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT api_key FROM chatwoot.integracoes')$$, '42501', NULL,
                 'app: SELECT api_key is denied');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT webhook_secret FROM chatwoot.integracoes')$$, '42501', NULL,
                 'app: SELECT webhook_secret is denied');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT * FROM chatwoot.integracoes')$$, '42501', NULL,
                 'app: SELECT * is denied');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT count(*) FROM chatwoot.integracoes WHERE api_key LIKE ''TAP%''')$$,
                 '42501', NULL, 'app: filtering on api_key is denied too');
SELECT is(pg_temp.valor_como('tap_app', 'SELECT nome || ''|'' || api_url || ''|'' || account_id FROM chatwoot.integracoes'),
          'padrao|http://127.0.0.1:9|1', 'app: SELECT id, nome, api_url, account_id works');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'UPDATE chatwoot.integracoes SET api_url = ''http://x''')$$, '42501', NULL,
                 'app: cannot UPDATE integracoes');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT chatwoot.configurar(''http://x'', ''k'', 1)')$$, '42501', NULL,
                 'app: calling configurar is denied');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT chatwoot._testar_fronteira(''ok'')')$$, '42501', NULL,
                 'app: calling _testar_fronteira is denied');
SET LOCAL chatwoot_sync.request_timeout = '1s';
SELECT is(pg_temp.valor_como('tap_app', 'SELECT (chatwoot.testar_conexao() ->> ''ok'')'), 'false',
          'app: testar_conexao runs (SECURITY DEFINER) and reports the unreachable server');
SELECT unalike(pg_temp.valor_como('tap_app', 'SELECT chatwoot.testar_conexao()::text'), '%TAP-SEGREDO%',
              'app: the testar_conexao result never carries the key');
SELECT is(pg_temp.valor_como('tap_app', 'SELECT count(*) FROM chatwoot.worker_status() WHERE processo = ''launcher'''), '1',
          'app: worker_status works');

-- The app role allowed to configure
CREATE ROLE tap_app_admin NOLOGIN;
SELECT lives_ok($$SELECT chatwoot.conceder_acesso_app('tap_app_admin', true)$$, 'conceder_acesso_app(role, true) runs');
SELECT function_privs_are('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                          'tap_app_admin', ARRAY['EXECUTE'], 'app admin: EXECUTE on configurar with pode_configurar');
SELECT column_privs_are('chatwoot', 'integracoes', 'api_key', 'tap_app_admin', ARRAY[]::text[],
                        'app admin: still nothing on api_key');
SELECT column_privs_are('chatwoot', 'integracoes', 'webhook_secret', 'tap_app_admin', ARRAY[]::text[],
                        'app admin: still nothing on webhook_secret');
SELECT lives_ok($$SELECT pg_temp.como('tap_app_admin', 'SELECT chatwoot.configurar(''https://chat.exemplo.com'', ''TAP-SEGREDO-0002'', 2, NULL, ''filial'')')$$,
                'app admin: configurar works (SECURITY DEFINER writes the row)');
SELECT is((SELECT api_key FROM chatwoot.integracoes WHERE nome = 'filial'), 'TAP-SEGREDO-0002',
          'app admin: the key was stored');
SELECT throws_ok($$SELECT pg_temp.como('tap_app_admin', 'SELECT api_key FROM chatwoot.integracoes')$$, '42501', NULL,
                 'app admin: still cannot read api_key back');
SELECT throws_ok($$SELECT pg_temp.como('tap_app', 'SELECT chatwoot.conceder_acesso_app(''tap_app'', true)')$$, '42501', NULL,
                 'app: cannot grant itself pode_configurar');

SELECT * FROM finish();
ROLLBACK;
