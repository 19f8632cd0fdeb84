-- chatwoot.configurar(): validation, upsert by name, secrets kept.
CREATE EXTENSION IF NOT EXISTS chatwoot_sync;
\set VERBOSITY default

-- Bad input is rejected with a clear message and never stored.
SELECT chatwoot.configurar('ftp://chat.exemplo.com', 'chave', 1);
SELECT chatwoot.configurar('chat.exemplo.com', 'chave', 1);
SELECT chatwoot.configurar('https://', 'chave', 1);
SELECT chatwoot.configurar('https://user:senha@chat.exemplo.com', 'chave', 1);
SELECT chatwoot.configurar(NULL, 'chave', 1);
SELECT chatwoot.configurar('https://chat.exemplo.com', '', 1);
SELECT chatwoot.configurar('https://chat.exemplo.com', '   ', 1);
SELECT chatwoot.configurar('https://chat.exemplo.com', 'com espaco', 1);
SELECT chatwoot.configurar('https://chat.exemplo.com', 'chave', 0);
SELECT chatwoot.configurar('https://chat.exemplo.com', 'chave', -3);
SELECT chatwoot.configurar('https://chat.exemplo.com', 'chave', 1, 0);
SELECT chatwoot.configurar('https://chat.exemplo.com', 'chave', 1, NULL, '  ');
SELECT count(*) AS nada_gravado FROM chatwoot.integracoes;

-- A valid connection; the trailing slash is dropped.
SELECT chatwoot.configurar('https://chat.exemplo.com/', 'chave-1', 3, 7, 'padrao', 'segredo-webhook') AS id_padrao \gset
SELECT nome, api_url, account_id, default_inbox_id, ativo, webhook_secret IS NOT NULL AS tem_segredo
  FROM chatwoot.integracoes;

-- Configuring the same name again updates that row; a NULL webhook secret keeps the old one.
SELECT updated_at AS antes FROM chatwoot.integracoes WHERE nome = 'padrao' \gset
SELECT pg_sleep(0.01);
SELECT chatwoot.configurar('http://127.0.0.1:3000', 'chave-2', 4) = :id_padrao AS mesmo_id;
SELECT api_url, api_key, account_id, default_inbox_id, webhook_secret, updated_at > :'antes' AS updated_at_avancou
  FROM chatwoot.integracoes WHERE nome = 'padrao';

-- Another name is another tenant.
SELECT chatwoot.configurar('https://outra.exemplo.com', 'chave-3', 9, NULL, 'filial') <> :id_padrao AS outro_id;
SELECT nome, account_id FROM chatwoot.integracoes ORDER BY id;

-- Nothing configured in a fresh state and no fallback: a clear answer, no call made.
DELETE FROM chatwoot.integracoes;
SELECT chatwoot.testar_conexao();
-- An explicit id that does not exist is an error.
SELECT chatwoot.testar_conexao(123456);
