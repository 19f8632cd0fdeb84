-- Change capture on the app's tables: what the sync triggers queue, and that the
-- app's statements never fail because of sync. The triggers append to the change
-- log (chatwoot.mudancas); the worker drains it into the outbox only when it can
-- send, and no connection is configured here, so chatwoot.drenar_mudancas() does it.
CREATE EXTENSION IF NOT EXISTS chatwoot_sync;
\set VERBOSITY default
\set ECHO none
-- pg_regress names the source tree (also out of tree, where the current directory is not it).
\getenv abs_srcdir PG_ABS_SRCDIR
\set fixture :abs_srcdir '/test/fixtures/zattar_schema.sql'
\i :fixture
\set ECHO all

-- Mapping validation.
SELECT chatwoot.rastrear('clientes', 'Cliente');
SELECT chatwoot.rastrear('clientes', 'cliente', '{"nome": "nome_inexistente"}');
SELECT chatwoot.rastrear('clientes', 'cliente', '{"telefone": "x"}');
SELECT chatwoot.sincronizar_parte('cliente', 1);

SELECT chatwoot.rastrear('clientes', 'cliente');
SELECT chatwoot.rastrear('partes_contrarias', 'parte_contraria');
SELECT chatwoot.rastrear('terceiros', 'terceiro');
SELECT tabela, tipo_entidade, mapeamento ->> 'nome' AS nome FROM chatwoot.rastreamentos ORDER BY tipo_entidade;
SELECT tgname, tgrelid::regclass FROM pg_trigger WHERE tgname LIKE 'zz_chatwoot%' ORDER BY 2, 1;

-- INSERT queues one upsert per new party.
INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Ana', '["ana@example.com"]'), ('pf', 'Bia', NULL);
SELECT tabela::regclass, tipo_entidade, tipo, ids FROM chatwoot.mudancas ORDER BY id;
SELECT count(*) AS jobs_antes_de_drenar FROM chatwoot.fila;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS mudancas_restantes FROM chatwoot.mudancas;
SELECT tipo, tipo_entidade, entidade_id, estado FROM chatwoot.fila ORDER BY id;

-- An UPDATE of an unmapped column queues nothing: fixture client 1 has no job and
-- gets none, and Ana's pending job is left as it was (not even touched).
SELECT count(*) AS jobs_do_cliente_1 FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = 1;
SELECT f.atualizado_em AS ana_atualizado, f.executar_apos AS ana_executar
  FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Ana' \gset
UPDATE clientes SET updated_at = now() + interval '1 day', pode_usar_celular_mensagem = true WHERE id = 1;
UPDATE clientes SET updated_at = now() + interval '1 day' WHERE nome = 'Ana';
SELECT count(*) AS nada_registrado FROM chatwoot.mudancas;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS jobs_do_cliente_1 FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = 1;
SELECT f.atualizado_em = :'ana_atualizado' AND f.executar_apos = :'ana_executar' AS job_da_ana_intocado
  FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Ana';
-- An UPDATE of a mapped one coalesces into the pending job.
UPDATE clientes SET nome = 'Ana Maria' WHERE nome = 'Ana';
UPDATE clientes SET emails = '["ana.maria@example.com"]' WHERE nome = 'Ana Maria';
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS jobs, count(*) FILTER (WHERE estado = 'pendente') AS pendentes FROM chatwoot.fila;

-- DELETE turns the pending job into a deactivation.
DELETE FROM clientes WHERE nome = 'Bia';
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT tipo, entidade_id, estado FROM chatwoot.fila ORDER BY entidade_id;

-- Whatever the data, the app's INSERT succeeds: impossible phones, bad e-mails,
-- 300-character names, control characters, emoji, quotes, SQL metacharacters.
INSERT INTO clientes (tipo_pessoa, nome, cpf, emails, ddd_celular, numero_celular)
VALUES ('pf', repeat('Ç', 300), '123', '"not-an-array"', 'xx', '0000'),
       ('pf', E'Jo\u0001ão 😀 "Zé" O''Brien; DROP TABLE clientes;--', '529.982.247-25', '[1, 2, "@"]', '', ''),
       ('pj', 'EMPRESA', NULL, '{"a": 1}', '11', '98765-4321');
SELECT count(*) AS clientes FROM clientes;

-- The app's own role needs no privilege on the chatwoot schema for its changes to be queued.
CREATE ROLE regress_chatwoot_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON clientes TO regress_chatwoot_app;
SET ROLE regress_chatwoot_app;
INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Inserido pelo app');
SELECT count(*) FROM chatwoot.fila;
SELECT count(*) FROM chatwoot.mudancas;
RESET ROLE;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS job_do_app FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id
 WHERE f.tipo_entidade = 'cliente' AND c.nome = 'Inserido pelo app';
DELETE FROM clientes WHERE nome = 'Inserido pelo app';
SELECT chatwoot.drenar_mudancas() AS drenadas;
DELETE FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND tipo = 'desativar_contato' AND entidade_id > 8;

-- A bulk statement becomes one 'lote' job (expanded later by the worker).
BEGIN;
INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo)
SELECT 'pf', 'Testemunha ' || g, 'testemunha', 'ativo' FROM generate_series(1, 1500) g;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT tipo, tipo_entidade, cardinality(ids) AS ids FROM chatwoot.fila WHERE tipo = 'lote';
ROLLBACK;
SELECT count(*) AS mudancas_apos_rollback FROM chatwoot.mudancas;
SELECT count(*) AS lotes_apos_rollback FROM chatwoot.fila WHERE tipo = 'lote';

-- A larger one is cut into 'lote' jobs of at most 5,000 ids, in order, none lost.
BEGIN;
INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo)
SELECT 'pf', 'Perito ' || g, 'perito', 'ativo' FROM generate_series(1, 12000) g;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT cardinality(ids) AS ids FROM chatwoot.fila WHERE tipo = 'lote' ORDER BY id;
SELECT count(DISTINCT i) = 12000 AS todos_os_ids, min(i) = (SELECT min(id) FROM terceiros WHERE nome LIKE 'Perito %') AS primeiro,
       max(i) = (SELECT max(id) FROM terceiros WHERE nome LIKE 'Perito %') AS ultimo
  FROM chatwoot.fila, unnest(ids) AS i WHERE tipo = 'lote';
ROLLBACK;

-- A rolled-back change queues nothing.
BEGIN;
INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Fantasma S.A.');
ROLLBACK;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS jobs_parte_contraria FROM chatwoot.fila WHERE tipo_entidade = 'parte_contraria';

-- Manual queueing and bulk queueing.
SELECT chatwoot.sincronizar_parte('parte_contraria', 1) > 0 AS enfileirado;
SELECT chatwoot.sincronizar_parte('parte_contraria', 1) = (SELECT id FROM chatwoot.fila WHERE tipo_entidade = 'parte_contraria') AS mesmo_job;
SELECT chatwoot.sincronizar_app_para_chatwoot('todos') AS enfileirados;
SELECT tipo_entidade, count(*) FROM chatwoot.fila WHERE estado = 'pendente' GROUP BY 1 ORDER BY 1;

-- Dead letters are requeued by reprocessar; the views show the queue.
UPDATE chatwoot.fila SET estado = 'morto', tentativas = 10, ultimo_erro = 'HTTP 422: Email Invalid email'
 WHERE tipo_entidade = 'terceiro';
SELECT origem, tipo_entidade, entidade_id, erro FROM chatwoot.erros_sincronizacao ORDER BY entidade_id;
SELECT estado, tipo, quantidade FROM chatwoot.fila_resumo ORDER BY estado, tipo;
SELECT chatwoot.reprocessar_falhas() AS reprocessados;
SELECT estado, tentativas FROM chatwoot.fila WHERE tipo_entidade = 'terceiro';

-- parar_rastreamento removes the triggers; changes are no longer queued.
SELECT chatwoot.parar_rastreamento('terceiros');
SELECT count(*) AS gatilhos FROM pg_trigger WHERE tgrelid = 'terceiros'::regclass AND tgname LIKE 'zz_chatwoot%';
DELETE FROM chatwoot.fila;
INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) VALUES ('pf', 'Ninguém', 'perito', 'neutro');
SELECT count(*) AS mudancas FROM chatwoot.mudancas;
SELECT chatwoot.drenar_mudancas() AS drenadas;
SELECT count(*) AS jobs FROM chatwoot.fila;

DROP TABLE contratos, usuarios, cargos, terceiros, partes_contrarias, clientes;
DROP ROLE regress_chatwoot_app;
DROP TYPE tipo_pessoa;
DELETE FROM chatwoot.rastreamentos;
