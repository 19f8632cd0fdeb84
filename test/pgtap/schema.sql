-- The SQL contract of chatwoot_sync: schema, tables, views, functions and their
-- signatures, for the connection (integracoes) and for the contact sync (fila,
-- partes_chatwoot, rastreamentos).
BEGIN;
SELECT plan(104);

SELECT has_schema('chatwoot', 'schema chatwoot exists');
SELECT has_extension('chatwoot_sync', 'extension chatwoot_sync is installed');
SELECT is((SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'chatwoot_sync'), 'chatwoot', 'the extension lives in schema chatwoot');
SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'chatwoot_sync'), false,
          'the extension is not relocatable');

-- chatwoot.integracoes
SELECT has_table('chatwoot', 'integracoes', 'table chatwoot.integracoes exists');
SELECT columns_are('chatwoot', 'integracoes',
    ARRAY['id', 'nome', 'api_url', 'api_key', 'account_id', 'default_inbox_id', 'webhook_secret',
          'ativo', 'created_at', 'updated_at', 'limite_requisicoes', 'janela_limite_s', 'pausada_em', 'motivo_pausa'],
    'integracoes has exactly the contract columns');
SELECT col_type_is('chatwoot', 'integracoes', 'id', 'bigint', 'id is bigint');
SELECT col_type_is('chatwoot', 'integracoes', 'nome', 'text', 'nome is text');
SELECT col_type_is('chatwoot', 'integracoes', 'api_url', 'text', 'api_url is text');
SELECT col_type_is('chatwoot', 'integracoes', 'api_key', 'text', 'api_key is text');
SELECT col_type_is('chatwoot', 'integracoes', 'account_id', 'integer', 'account_id is integer');
SELECT col_type_is('chatwoot', 'integracoes', 'default_inbox_id', 'integer', 'default_inbox_id is integer');
SELECT col_type_is('chatwoot', 'integracoes', 'webhook_secret', 'text', 'webhook_secret is text');
SELECT col_type_is('chatwoot', 'integracoes', 'ativo', 'boolean', 'ativo is boolean');
SELECT col_type_is('chatwoot', 'integracoes', 'created_at', 'timestamp with time zone', 'created_at is timestamptz');
SELECT col_type_is('chatwoot', 'integracoes', 'updated_at', 'timestamp with time zone', 'updated_at is timestamptz');
SELECT col_is_pk('chatwoot', 'integracoes', 'id', 'id is the primary key');
SELECT col_is_unique('chatwoot', 'integracoes', 'nome', 'nome is unique');
SELECT col_not_null('chatwoot', 'integracoes', 'nome', 'nome is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'api_url', 'api_url is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'api_key', 'api_key is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'account_id', 'account_id is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'ativo', 'ativo is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'created_at', 'created_at is NOT NULL');
SELECT col_not_null('chatwoot', 'integracoes', 'updated_at', 'updated_at is NOT NULL');
SELECT col_is_null('chatwoot', 'integracoes', 'default_inbox_id', 'default_inbox_id is nullable');
SELECT col_is_null('chatwoot', 'integracoes', 'webhook_secret', 'webhook_secret is nullable');
SELECT col_default_is('chatwoot', 'integracoes', 'ativo', 'true', 'ativo defaults to true');
SELECT has_trigger('chatwoot', 'integracoes', 'integracoes_updated_at', 'integracoes has the updated_at trigger');
SELECT ok((SELECT 'chatwoot.integracoes'::regclass::oid = ANY (extconfig) FROM pg_extension WHERE extname = 'chatwoot_sync'),
          'integracoes is dumped with the extension (pg_extension_config_dump)');

-- Functions: existence with argument types
SELECT has_function('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                    'configurar(text, text, integer, integer, text, text, integer, integer) exists');
SELECT has_function('chatwoot', 'testar_conexao', ARRAY['bigint'], 'testar_conexao(bigint) exists');
SELECT has_function('chatwoot', 'worker_status', ARRAY[]::name[], 'worker_status() exists');
SELECT has_function('chatwoot', 'aguardar_worker', ARRAY['integer', 'timestamp with time zone'],
                    'aguardar_worker(integer, timestamptz) exists');
SELECT has_function('chatwoot', 'acordar_worker', ARRAY[]::name[], 'acordar_worker() exists');
SELECT has_function('chatwoot', 'conceder_acesso_app', ARRAY['regrole', 'boolean'],
                    'conceder_acesso_app(regrole, boolean) exists');
SELECT has_function('chatwoot', '_testar_fronteira', ARRAY['text'], '_testar_fronteira(text) exists');
SELECT has_function('chatwoot', '_fronteira_destrutores', ARRAY[]::name[], '_fronteira_destrutores() exists');
SELECT has_function('chatwoot', '_registrar_instalacao', ARRAY[]::name[], '_registrar_instalacao() exists');

-- Return types
SELECT function_returns('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'], 'bigint',
                        'configurar returns bigint');
SELECT function_returns('chatwoot', 'testar_conexao', ARRAY['bigint'], 'jsonb', 'testar_conexao returns jsonb');
SELECT function_returns('chatwoot', 'worker_status', ARRAY[]::name[], 'setof record', 'worker_status returns setof record');
SELECT function_returns('chatwoot', 'aguardar_worker', ARRAY['integer', 'timestamp with time zone'], 'boolean',
                        'aguardar_worker returns boolean');
SELECT function_returns('chatwoot', 'acordar_worker', ARRAY[]::name[], 'boolean', 'acordar_worker returns boolean');
SELECT function_returns('chatwoot', 'conceder_acesso_app', ARRAY['regrole', 'boolean'], 'void',
                        'conceder_acesso_app returns void');
SELECT function_returns('chatwoot', '_testar_fronteira', ARRAY['text'], 'text', '_testar_fronteira returns text');
SELECT function_returns('chatwoot', '_fronteira_destrutores', ARRAY[]::name[], 'bigint',
                        '_fronteira_destrutores returns bigint');

-- Parameter names and defaults (callers use named arguments)
SELECT is(pg_get_function_arguments('chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)'::regprocedure),
          'api_url text, api_key text, account_id integer, default_inbox_id integer DEFAULT NULL::integer, '
          'nome text DEFAULT ''padrao''::text, webhook_secret text DEFAULT NULL::text, '
          'limite_requisicoes integer DEFAULT NULL::integer, janela_limite_s integer DEFAULT NULL::integer',
          'configurar parameters and defaults');
SELECT is(pg_get_function_arguments('chatwoot.testar_conexao(bigint)'::regprocedure),
          'integracao_id bigint DEFAULT NULL::bigint', 'testar_conexao(integracao_id DEFAULT NULL)');
SELECT is(pg_get_function_arguments('chatwoot.aguardar_worker(integer, timestamptz)'::regprocedure),
          'timeout_ms integer DEFAULT 10000, desde timestamp with time zone DEFAULT NULL::timestamp with time zone',
          'aguardar_worker(timeout_ms DEFAULT 10000, desde DEFAULT NULL)');
SELECT is(pg_get_function_arguments('chatwoot.conceder_acesso_app(regrole, boolean)'::regprocedure),
          'papel regrole, pode_configurar boolean DEFAULT false', 'conceder_acesso_app(papel, pode_configurar DEFAULT false)');
-- The monitoring columns of the foundation, in order (later issues may append columns).
SELECT alike(pg_get_function_arguments('chatwoot.worker_status()'::regprocedure),
          'OUT processo text, OUT banco text, OUT pid integer, OUT estado text, '
          'OUT iniciado_em timestamp with time zone, OUT ultimo_ciclo_em timestamp with time zone, '
          'OUT jobs_processados bigint, OUT em_andamento bigint, OUT ultimo_erro text, '
          'OUT recargas_config integer, OUT intervalo_poll_ms integer%',
          'worker_status output columns, in order, with their types');

-- Security definer where the caller must not see the secrets
SELECT is_definer('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                  'configurar is SECURITY DEFINER');
SELECT is_definer('chatwoot', 'testar_conexao', ARRAY['bigint'], 'testar_conexao is SECURITY DEFINER');
SELECT isnt_definer('chatwoot', 'worker_status', ARRAY[]::name[], 'worker_status is not SECURITY DEFINER');
SELECT isnt_definer('chatwoot', 'aguardar_worker', ARRAY['integer', 'timestamp with time zone'],
                    'aguardar_worker is not SECURITY DEFINER');
SELECT isnt_definer('chatwoot', 'acordar_worker', ARRAY[]::name[], 'acordar_worker is not SECURITY DEFINER');
SELECT isnt_definer('chatwoot', 'conceder_acesso_app', ARRAY['regrole', 'boolean'],
                    'conceder_acesso_app is not SECURITY DEFINER');
SELECT isnt_definer('chatwoot', '_testar_fronteira', ARRAY['text'], '_testar_fronteira is not SECURITY DEFINER');
SELECT ok((SELECT proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc
            WHERE oid = 'chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)'::regprocedure),
          'configurar (SECURITY DEFINER) pins search_path = pg_catalog, pg_temp');
SELECT ok((SELECT proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc
            WHERE oid = 'chatwoot.testar_conexao(bigint)'::regprocedure),
          'testar_conexao (SECURITY DEFINER) pins search_path = pg_catalog, pg_temp');
SELECT ok((SELECT proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] FROM pg_proc
            WHERE oid = 'chatwoot.conceder_acesso_app(regrole, boolean)'::regprocedure),
          'conceder_acesso_app pins search_path = pg_catalog, pg_temp');
-- Not a definer, but a DBA drains the change log by hand as a superuser: its SQL must not
-- resolve through that session's search_path (hostile_rights.sh; the qualified SQL is the
-- other defence, worker_qualified_sql.sh).
SELECT ok((SELECT coalesce(proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false) FROM pg_proc
            WHERE oid = 'chatwoot.drenar_mudancas()'::regprocedure),
          'drenar_mudancas pins search_path = pg_catalog, pg_temp');
-- A SECURITY DEFINER function runs as the extension's owner (a superuser): one that
-- resolves names through the caller's search_path can be made to run the caller's
-- objects with the owner's rights (CVE-2018-1058). Every one must pin it.
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'chatwoot'::regnamespace AND p.prosecdef ORDER BY 1),
          ARRAY['chatwoot._ao_alterar_tabela()', 'chatwoot._ao_remover_objetos()', 'chatwoot._registrar_truncate()',
                'chatwoot.configurar(text,text,integer,integer,text,text,integer,integer)',
                'chatwoot.desincronizar(text,bigint)', 'chatwoot.reprocessar(bigint)', 'chatwoot.reprocessar_falhas()',
                'chatwoot.sincronizar_app_para_chatwoot(text,boolean)', 'chatwoot.sincronizar_parte(text,bigint)',
                'chatwoot.testar_conexao(bigint)'],
          'the SECURITY DEFINER functions of schema chatwoot are exactly these');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                 WHERE p.pronamespace = 'chatwoot'::regnamespace AND p.prosecdef
                   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
                 ORDER BY 1),
          ARRAY[]::text[],
          'every SECURITY DEFINER function in schema chatwoot pins search_path = pg_catalog, pg_temp');

-- Languages
SELECT function_lang_is('chatwoot', 'configurar', ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'], 'plpgsql',
                        'configurar is PL/pgSQL');
SELECT function_lang_is('chatwoot', 'testar_conexao', ARRAY['bigint'], 'c', 'testar_conexao is C');
SELECT function_lang_is('chatwoot', 'worker_status', ARRAY[]::name[], 'c', 'worker_status is C');
SELECT function_lang_is('chatwoot', 'aguardar_worker', ARRAY['integer', 'timestamp with time zone'], 'c', 'aguardar_worker is C');
SELECT function_lang_is('chatwoot', 'acordar_worker', ARRAY[]::name[], 'c', 'acordar_worker is C');
SELECT function_lang_is('chatwoot', '_testar_fronteira', ARRAY['text'], 'c', '_testar_fronteira is C');
SELECT function_lang_is('chatwoot', '_registrar_instalacao', ARRAY[]::name[], 'c', '_registrar_instalacao is C');
SELECT is_strict('chatwoot', '_testar_fronteira', ARRAY['text'], '_testar_fronteira is STRICT');
SELECT is(chatwoot._testar_fronteira(NULL), NULL, '_testar_fronteira(NULL) is NULL (strict)');
SELECT volatility_is('chatwoot', 'testar_conexao', ARRAY['bigint'], 'volatile', 'testar_conexao is VOLATILE');
SELECT volatility_is('chatwoot', 'worker_status', ARRAY[]::name[], 'volatile', 'worker_status is VOLATILE');
SELECT is((SELECT proretset FROM pg_proc WHERE oid = 'chatwoot.worker_status()'::regprocedure), true,
          'worker_status returns a set');
SELECT is((SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'chatwoot.fila'::regclass AND attname = 'ids'),
          'e', 'fila.ids (a bulk statement''s ids) is stored out of line without compression');

-- The contact sync: the outbox, the party -> contact map, the tracked tables
SELECT has_table('chatwoot', 'fila', 'table chatwoot.fila exists');
SELECT columns_are('chatwoot', 'fila',
    ARRAY['id', 'tipo', 'tipo_entidade', 'entidade_id', 'ids', 'estado', 'tentativas', 'executar_apos', 'bloqueado_ate',
          'ultimo_erro', 'http_status', 'requisicoes', 'criado_em', 'atualizado_em', 'concluido_em'],
    'fila has exactly the contract columns');
SELECT col_is_pk('chatwoot', 'fila', 'id', 'fila.id is the primary key');
SELECT index_is_unique('chatwoot', 'fila', 'fila_um_pendente_por_parte',
                       'fila_um_pendente_por_parte is unique (one pending job per party)');
SELECT is((SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'chatwoot.fila_um_pendente_por_parte'::regclass),
          '((estado = ''pendente''::text) AND (tipo <> ''lote''::text))',
          'the one-pending-job index covers pending non-lote jobs only');
SELECT has_table('chatwoot', 'partes_chatwoot', 'table chatwoot.partes_chatwoot exists');
SELECT columns_are('chatwoot', 'partes_chatwoot',
    ARRAY['id', 'tipo_entidade', 'entidade_id', 'integracao_id', 'chatwoot_contact_id', 'chatwoot_account_id',
          'chatwoot_inbox_id', 'source_id', 'pubsub_token', 'ultima_sincronizacao', 'dados_sincronizados',
          'sincronizado', 'erro_sincronizacao', 'created_at', 'updated_at', 'proprietario', 'removida'],
    'partes_chatwoot has exactly the contract columns');
SELECT col_is_pk('chatwoot', 'partes_chatwoot', 'id', 'partes_chatwoot.id is the primary key');
SELECT col_is_unique('chatwoot', 'partes_chatwoot', ARRAY['tipo_entidade', 'entidade_id'],
                     'partes_chatwoot: one row per party (tipo_entidade, entidade_id)');
SELECT has_trigger('chatwoot', 'partes_chatwoot', 'partes_chatwoot_updated_at', 'partes_chatwoot has the updated_at trigger');
SELECT has_table('chatwoot', 'rastreamentos', 'table chatwoot.rastreamentos exists');
SELECT columns_are('chatwoot', 'rastreamentos', ARRAY['tabela', 'tipo_entidade', 'mapeamento', 'criado_em', 'erro', 'erro_em'],
                   'rastreamentos has exactly the contract columns');
SELECT col_is_pk('chatwoot', 'rastreamentos', 'tabela', 'rastreamentos.tabela is the primary key');
SELECT ok((SELECT ARRAY['chatwoot.partes_chatwoot'::regclass::oid, 'chatwoot.rastreamentos'::regclass::oid] <@ extconfig
             FROM pg_extension WHERE extname = 'chatwoot_sync'),
          'partes_chatwoot and rastreamentos are dumped with the extension');
SELECT col_type_is('chatwoot', 'mudancas', 'tabela', 'regclass',
                   'mudancas.tabela is a regclass: a dump writes the name, a restore resolves it (an oid changes)');
SELECT is((SELECT array_agg(c.relname || ' ' || coalesce(nullif(x.w, ''), '-') ORDER BY c.relname)
             FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(oid, w), pg_class c
            WHERE e.extname = 'chatwoot_sync' AND c.oid = x.oid),
          ARRAY['fila WHERE estado <> ''concluido''', 'fila_id_seq -', 'integracoes -', 'integracoes_id_seq -',
                'mudancas -', 'mudancas_id_seq -', 'partes_chatwoot -', 'partes_chatwoot_id_seq -', 'rastreamentos -']::text[],
          'what a dump keeps: every table but _acessos_app, their identity sequences, fila''s unfinished rows');
SELECT has_view('chatwoot', 'fila_resumo', 'view chatwoot.fila_resumo exists');
SELECT has_view('chatwoot', 'erros_sincronizacao', 'view chatwoot.erros_sincronizacao exists');
SELECT has_function('chatwoot', 'rastrear', ARRAY['regclass', 'text', 'jsonb'], 'rastrear(regclass, text, jsonb) exists');
SELECT has_function('chatwoot', 'parar_rastreamento', ARRAY['regclass', 'boolean'],
                    'parar_rastreamento(regclass, boolean) exists');
SELECT has_function('chatwoot', 'sincronizar_parte', ARRAY['text', 'bigint'], 'sincronizar_parte(text, bigint) exists');
SELECT has_function('chatwoot', 'desincronizar', ARRAY['text', 'bigint'], 'desincronizar(text, bigint) exists');
SELECT has_function('chatwoot', 'sincronizar_app_para_chatwoot', ARRAY['text', 'boolean'],
                    'sincronizar_app_para_chatwoot(text, boolean) exists');
SELECT has_function('chatwoot', 'reprocessar', ARRAY['bigint'], 'reprocessar(bigint) exists');
SELECT has_function('chatwoot', 'reprocessar_falhas', ARRAY[]::name[], 'reprocessar_falhas() exists');
SELECT function_returns('chatwoot', 'sincronizar_parte', ARRAY['text', 'bigint'], 'bigint',
                        'sincronizar_parte returns bigint (the job id)');

SELECT * FROM finish();
ROLLBACK;
