-- chatwoot.configurar(): validation (SQLSTATE 22023, never echoing the key),
-- upsert by nome, secrets kept, updated_at; testar_conexao without a server.
BEGIN;
SELECT plan(51);

-- SQLSTATE: message / detail / hint / context of the error `sql` raises (without
-- the context frame of this helper's own EXECUTE, which quotes the call).
CREATE FUNCTION pg_temp.erro(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE st text; msg text; det text; hin text; ctx text;
BEGIN
    EXECUTE sql;
    RETURN 'sem erro';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hin = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    RETURN st || ': ' || msg || ' / ' || coalesce(det, '') || ' / ' || coalesce(hin, '') || ' / ' || coalesce(regexp_replace(ctx, 'SQL statement "SELECT chatwoot\.configurar\(.*$', ''), '');
END $$;

DELETE FROM chatwoot.integracoes;

-- Rejections: SQLSTATE 22023, the message names the bad parameter, and nothing
-- in the error (message, detail, hint, context) repeats the key.
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('ftp://x', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'ftp:// URL rejected (22023, mentions api_url, no key)');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('not a url', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', '"not a url" rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'empty URL rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar(NULL, 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'NULL URL rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL without scheme rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL without host rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://eu:TAP-SECRETA@chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL with credentials rejected, credentials not echoed');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com/?token=x', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL with a query string rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com/#x', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL with a fragment rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat exemplo.com', 'TAP-CHAVE-SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_url', 'URL with a space rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', '', 1)$$),
               '^22023: api_key', 'empty key rejected (22023, mentions api_key)');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', '   ', 1)$$),
               '^22023: api_key', 'space-only key rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', NULL, 1)$$),
               '^22023: api_key', 'NULL key rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE SECRETA-42', 1)$$),
               '^(?!.*SECRETA)22023: api_key', 'key with a space rejected, key not echoed');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', E'TAP-CHAVE-SECRETA-42\n', 1)$$),
               '^(?!.*SECRETA)22023: api_key', 'key with a newline rejected, key not echoed');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 0)$$),
               '^(?!.*SECRETA)22023: account_id', 'account_id 0 rejected (22023, mentions account_id, no key)');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', -1)$$),
               '^(?!.*SECRETA)22023: account_id', 'account_id -1 rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', NULL)$$),
               '^(?!.*SECRETA)22023: account_id', 'NULL account_id rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1, 0)$$),
               '^(?!.*SECRETA)22023: default_inbox_id', 'default_inbox_id 0 rejected (22023, mentions default_inbox_id)');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1, -7)$$),
               '^(?!.*SECRETA)22023: default_inbox_id', 'default_inbox_id -7 rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1, NULL, '  ')$$),
               '^(?!.*SECRETA)22023: nome', 'blank nome rejected');
SELECT matches(pg_temp.erro($$SELECT chatwoot.configurar('https://chat.exemplo.com', 'TAP-CHAVE-SECRETA-42', 1, NULL, NULL)$$),
               '^(?!.*SECRETA)22023: nome', 'NULL nome rejected');
SELECT throws_ok($$SELECT chatwoot.configurar('ftp://x', 'k', 1)$$, '22023',
                 'api_url inválida: api_url deve começar com http:// ou https://; '
                 'informe a URL http(s) da instância Chatwoot, por exemplo https://chat.exemplo.com.br',
                 'the URL error message says what is wrong and what to provide');
SELECT is((SELECT count(*) FROM chatwoot.integracoes), 0::bigint, 'nothing was stored by the rejected calls');

-- Valid URLs
SELECT lives_ok($$SELECT chatwoot.configurar('HTTPS://Chat.Exemplo.com:8443/chatwoot/', 'k', 1, NULL, 'v1')$$,
                'https with port and path, any case, is accepted');
SELECT is((SELECT api_url FROM chatwoot.integracoes WHERE nome = 'v1'), 'HTTPS://Chat.Exemplo.com:8443/chatwoot',
          'the trailing slash is dropped');
SELECT lives_ok($$SELECT chatwoot.configurar('  http://127.0.0.1:3000  ', 'k', 1, NULL, 'v2')$$,
                'surrounding spaces are trimmed');
SELECT is((SELECT api_url FROM chatwoot.integracoes WHERE nome = 'v2'), 'http://127.0.0.1:3000', 'stored trimmed');
DELETE FROM chatwoot.integracoes;

-- Upsert by nome
CREATE TEMP TABLE ids (caso text PRIMARY KEY, id bigint);
INSERT INTO ids VALUES ('primeiro', chatwoot.configurar('https://chat.exemplo.com/', 'TAP-K1', 3, 7, 'padrao', 'wh-1'));
SELECT cmp_ok((SELECT id FROM ids WHERE caso = 'primeiro'), '>', 0::bigint, 'configurar returns the new id');
SELECT results_eq(
    $$SELECT id, nome, api_url, api_key, account_id, default_inbox_id, webhook_secret, ativo FROM chatwoot.integracoes$$,
    $$SELECT (SELECT id FROM ids WHERE caso = 'primeiro'), 'padrao'::text, 'https://chat.exemplo.com'::text, 'TAP-K1'::text,
             3, 7, 'wh-1'::text, true$$,
    'the row holds what was configured (defaults: nome padrao)');
UPDATE chatwoot.integracoes SET created_at = '2000-01-01', updated_at = '2000-01-01', ativo = false;
INSERT INTO ids VALUES ('segundo', chatwoot.configurar('http://127.0.0.1:3000', 'TAP-K2', 4));
SELECT is((SELECT id FROM ids WHERE caso = 'segundo'), (SELECT id FROM ids WHERE caso = 'primeiro'),
          'configurar with the same nome returns the same id');
SELECT is((SELECT count(*) FROM chatwoot.integracoes), 1::bigint, 'still one row');
SELECT results_eq(
    $$SELECT api_url, api_key, account_id, default_inbox_id, webhook_secret, ativo FROM chatwoot.integracoes$$,
    $$VALUES ('http://127.0.0.1:3000'::text, 'TAP-K2'::text, 4, NULL::integer, 'wh-1'::text, true)$$,
    'update: new url/key/account, inbox cleared, webhook_secret kept when NULL, reactivated');
SELECT cmp_ok((SELECT updated_at FROM chatwoot.integracoes), '>', '2000-01-01'::timestamptz, 'update moves updated_at');
SELECT is((SELECT created_at FROM chatwoot.integracoes), '2000-01-01'::timestamptz, 'update keeps created_at');
SELECT is(chatwoot.configurar('http://127.0.0.1:3000', 'TAP-K3', 4, NULL, '  padrao ', 'wh-2'),
          (SELECT id FROM ids WHERE caso = 'primeiro'), 'nome is trimmed: same connection');
SELECT is((SELECT webhook_secret FROM chatwoot.integracoes), 'wh-2', 'a new webhook_secret replaces the old one');
SELECT is((SELECT api_key FROM chatwoot.integracoes), 'TAP-K3', 'the key is replaced');
INSERT INTO ids VALUES ('filial', chatwoot.configurar('https://filial.exemplo.com', 'TAP-K4', 9, NULL, 'filial'));
SELECT isnt((SELECT id FROM ids WHERE caso = 'filial'), (SELECT id FROM ids WHERE caso = 'primeiro'),
            'another nome is another connection');
SELECT results_eq($$SELECT nome, account_id FROM chatwoot.integracoes ORDER BY id$$,
                  $$VALUES ('padrao'::text, 4), ('filial'::text, 9)$$, 'two connections');
SELECT throws_ok($$INSERT INTO chatwoot.integracoes (nome, api_url, api_key, account_id) VALUES ('padrao', 'http://x', 'k', 1)$$,
                 '23505', NULL, 'nome is unique in the table itself');

-- testar_conexao without a reachable server
SELECT throws_ok($$SELECT chatwoot.testar_conexao(999999999)$$, 'P0002',
                 'integração 999999999 não existe em chatwoot.integracoes', 'an unknown integracao_id is an error');
UPDATE chatwoot.integracoes SET ativo = false;
SELECT is(chatwoot.testar_conexao() ->> 'ok', 'false', 'no active connection (and no fallback): ok false');
SELECT matches(chatwoot.testar_conexao() ->> 'erro', 'configurar', 'no active connection: erro points to configurar');
SELECT is(chatwoot.testar_conexao() -> 'status', '0'::jsonb, 'no active connection: no call made (status 0)');
UPDATE chatwoot.integracoes SET ativo = true;
SELECT chatwoot.configurar('http://127.0.0.1:9', 'TAP-CHAVE-SECRETA-42', 5, 1, 'porta9') AS id_porta_9 \gset
SET LOCAL chatwoot_sync.request_timeout = '2s';
SELECT ok(chatwoot.testar_conexao(:id_porta_9) ?& ARRAY['ok', 'status', 'account_id', 'inbox', 'erro'],
          'the report has ok, status, account_id, inbox, erro');
SELECT is(chatwoot.testar_conexao(:id_porta_9) ->> 'ok', 'false', 'nothing listening on port 9: ok false');
SELECT matches(chatwoot.testar_conexao(:id_porta_9) ->> 'erro', 'conectar', 'nothing listening: erro says it could not connect');
SELECT is(chatwoot.testar_conexao(:id_porta_9) -> 'account_id', '5'::jsonb, 'the report names the account tested');
SELECT unalike(chatwoot.testar_conexao(:id_porta_9)::text, '%SECRETA%', 'the report never carries the key');
-- padrao (lowest id, account 4) vs filial (9) and porta9 (5): the account tested says
-- which was picked, whatever listens on the URLs.
SELECT is(chatwoot.testar_conexao() -> 'account_id', '4'::jsonb, 'NULL picks the first active connection (lowest id)');

SELECT * FROM finish();
ROLLBACK;
