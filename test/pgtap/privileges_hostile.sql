-- What a hostile role can reach: nothing runs with the extension's rights without a
-- pinned search_path, the trigger and internal functions are the owner's alone, the
-- app's grants cover the new columns but never the secrets, and the mapping check
-- refuses what would make the worker read app code or the extension's own tables.
BEGIN;
SELECT plan(39);

-- Every function of the extension that runs with raised rights.
SELECT is((SELECT count(*)::int FROM pg_proc
            WHERE pronamespace = 'chatwoot'::regnamespace AND prosecdef
              AND NOT coalesce(proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)),
          0, 'every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp');
SELECT ok((SELECT count(*) FROM pg_proc WHERE pronamespace = 'chatwoot'::regnamespace AND prosecdef) >= 10,
          'there are SECURITY DEFINER functions to check');
SELECT isnt_definer('chatwoot', '_enfileirar_mudancas', ARRAY[]::name[],
                    'the queueing trigger is not SECURITY DEFINER: it appends to the change log through the heap API in C, and runs no SQL');
SELECT is_definer('chatwoot', '_ao_alterar_tabela', ARRAY[]::name[], 'the DDL event trigger function is SECURITY DEFINER');
SELECT is_definer('chatwoot', '_registrar_truncate', ARRAY[]::name[], 'the TRUNCATE trigger function is SECURITY DEFINER');

-- The trigger and internal functions: the owner's alone.
SELECT function_privs_are('chatwoot', f, a, 'public', ARRAY[]::text[], format('PUBLIC cannot execute chatwoot.%s', f))
  FROM (VALUES ('_registrar_mudanca', ARRAY[]::text[]), ('_enfileirar_mudancas', ARRAY[]::text[]),
               ('_registrar_truncate', ARRAY[]::text[]), ('_tocar_updated_at', ARRAY[]::text[]),
               ('_conexao_mudou', ARRAY[]::text[]), ('_integracao_alterada', ARRAY[]::text[]),
               ('_ids_rastreados', ARRAY['regclass', 'text', 'text']),
               ('_enfileirar', ARRAY['text', 'text', 'bigint[]', 'boolean']),
               ('_validar_mapeamento', ARRAY['regclass', 'jsonb']),
               ('_verificar_api_url', ARRAY['text']),
               ('_ao_alterar_tabela', ARRAY[]::text[]), ('_ao_remover_objetos', ARRAY[]::text[]),
               ('drenar_mudancas', ARRAY[]::text[])) AS x(f, a);
SELECT function_privs_are('chatwoot', 'configurar',
                          ARRAY['text', 'text', 'integer', 'integer', 'text', 'text', 'integer', 'integer'],
                          'public', ARRAY[]::text[], 'PUBLIC cannot execute configurar');
SELECT has_trigger('chatwoot', 'integracoes', 'integracoes_mudou_update', 'a change of the connection wakes the worker');
SELECT ok(EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'chatwoot_sync_drop' AND evtevent = 'sql_drop'),
          'an event trigger ends the tracking of a dropped table');
SELECT ok(EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'chatwoot_sync_ddl' AND evtevent = 'ddl_command_end'),
          'an event trigger checks the mapping after an ALTER TABLE');

-- The app's grants: the pause and the budget are visible, the secrets never.
CREATE ROLE tap_hostil;
SELECT chatwoot.conceder_acesso_app('tap_hostil');
SELECT ok(has_column_privilege('tap_hostil', 'chatwoot.integracoes', c, 'SELECT'), format('app: SELECT %s', c))
  FROM unnest(ARRAY['limite_requisicoes', 'janela_limite_s', 'pausada_em', 'motivo_pausa']) c;
SELECT ok(NOT has_column_privilege('tap_hostil', 'chatwoot.integracoes', c, 'SELECT'), format('app: no SELECT on %s', c))
  FROM unnest(ARRAY['api_key', 'webhook_secret']) c;
SELECT ok(NOT has_table_privilege('tap_hostil', 'chatwoot.rastreamentos', 'INSERT, UPDATE, DELETE'),
          'app: cannot write rastreamentos');

-- The mapping check, as rastrear, the event trigger and the worker use it.
SELECT is(chatwoot._validar_mapeamento('chatwoot.integracoes', '{"id": "id", "nome": "api_key"}'),
          'chatwoot.integracoes está no esquema chatwoot: só tabelas do aplicativo podem ser rastreadas',
          'the extension''s own tables are refused');
SELECT matches(chatwoot._validar_mapeamento('pg_catalog.pg_class', '{"id": "oid", "nome": "relname"}'),
               'esquema pg_catalog', 'system catalogs are refused');
CREATE TABLE pg_temp.codigos (codigo text, nome text);
SELECT matches(chatwoot._validar_mapeamento('pg_temp.codigos', '{"id": "codigo", "nome": "nome"}'),
               'pg_temp', 'temporary tables are refused');
CREATE TABLE public.tap_codigos (codigo text, n bigint, nome text, d jsonb);
CREATE DOMAIN public.tap_nome AS text;
ALTER TABLE public.tap_codigos ADD COLUMN apelido public.tap_nome;
SELECT matches(chatwoot._validar_mapeamento('public.tap_codigos', '{"id": "codigo", "nome": "nome"}'),
               'smallint, integer ou bigint', 'a text id column is refused');
SELECT is(chatwoot._validar_mapeamento('public.tap_codigos', '{"id": "n", "nome": "nome", "emails": "d"}'), NULL,
          'an integer id, a text name and jsonb e-mails fit');
SELECT matches(chatwoot._validar_mapeamento('public.tap_codigos', '{"id": "n", "nome": "apelido"}'),
               'tap_nome', 'a domain (a type a role created) is refused');
SELECT matches(chatwoot._validar_mapeamento('public.tap_codigos', '{"id": "n", "nome": "nome", "ativo": "d"}'),
               'boolean', 'ativo must be boolean');
-- Enums: a tracked table moved to another schema keeps its types (probe 026355c, 1.6);
-- an enum of another role's, whose cast to text that role may redefine, is refused.
CREATE SCHEMA tap_tipos;
CREATE TYPE tap_tipos.sexo AS ENUM ('f', 'm');                 -- a superuser's, as migrations make them
CREATE ROLE tap_dono_tabela;
CREATE ROLE tap_outro_dono;
CREATE TYPE tap_tipos.do_dono AS ENUM ('a');
ALTER TYPE tap_tipos.do_dono OWNER TO tap_dono_tabela;
CREATE TYPE tap_tipos.de_outro AS ENUM ('b');
ALTER TYPE tap_tipos.de_outro OWNER TO tap_outro_dono;
CREATE TABLE public.tap_pessoas (id bigint, nome text, s tap_tipos.sexo, d tap_tipos.do_dono, o tap_tipos.de_outro);
ALTER TABLE public.tap_pessoas OWNER TO tap_dono_tabela;
SELECT is(chatwoot._validar_mapeamento('public.tap_pessoas', '{"id": "id", "nome": "nome", "tipo_pessoa": "s"}'), NULL,
          'an enum of another schema owned by a superuser fits');
SELECT is(chatwoot._validar_mapeamento('public.tap_pessoas', '{"id": "id", "nome": "nome", "tipo_pessoa": "d"}'), NULL,
          'an enum of another schema owned by the table''s owner fits');
SELECT matches(chatwoot._validar_mapeamento('public.tap_pessoas', '{"id": "id", "nome": "nome", "tipo_pessoa": "o"}'),
               'de_outro: use texto', 'an enum of another role''s, in another schema, is refused');
SELECT * FROM finish();
ROLLBACK;
