-- Queuing parties from SQL: chatwoot._enfileirar is the one place, and the functions
-- that queue (sincronizar_parte, desincronizar, sincronizar_app_para_chatwoot, the
-- TRUNCATE trigger) keep one pending job per party through it.
BEGIN;
SELECT plan(16);

DELETE FROM chatwoot.fila;
CREATE TABLE public.tap_partes (id bigint, nome text);  -- no key: ids may repeat
INSERT INTO public.tap_partes VALUES (1, 'Um'), (2, 'Dois'), (2, 'Dois de novo'), (3, 'Três');
SELECT chatwoot.rastrear('tap_partes', 'tap_parte',
                         '{"tipo_pessoa": null, "emails": null, "ddd_celular": null, "numero_celular": null,
                           "cpf": null, "cnpj": null, "ativo": null}');
DELETE FROM chatwoot.mudancas;

-- The function itself.
SELECT is((SELECT count(*) FROM chatwoot._enfileirar('upsert_contato', 'tap_parte', ARRAY[1, 1, NULL, 2]::bigint[], false)),
          2::bigint, 'duplicate ids count once, a NULL id is skipped');
SELECT is((SELECT count(*) FROM chatwoot.fila WHERE tipo_entidade = 'tap_parte'), 2::bigint, 'one job per party');
UPDATE chatwoot.fila SET executar_apos = now() + interval '1 hour', tentativas = 2 WHERE entidade_id = 1;
SELECT is((SELECT count(*) FROM chatwoot._enfileirar('desativar_contato', 'tap_parte', ARRAY[1]::bigint[], false)),
          0::bigint, 'without substituir a pending job is left alone...');
SELECT is((SELECT tipo || ' ' || (executar_apos > now()) FROM chatwoot.fila WHERE entidade_id = 1),
          'upsert_contato true', '...its kind and due time kept');
SELECT is((SELECT count(*) FROM chatwoot._enfileirar('desativar_contato', 'tap_parte', ARRAY[1]::bigint[], true)),
          1::bigint, 'with substituir it is changed...');
SELECT is((SELECT tipo || ' ' || (executar_apos <= now()) || ' ' || tentativas FROM chatwoot.fila WHERE entidade_id = 1),
          'desativar_contato true 2', '...to the new kind, due now, its attempts kept');
SELECT is((SELECT count(*) FROM chatwoot.fila WHERE tipo_entidade = 'tap_parte'), 2::bigint, 'still one job per party');
UPDATE chatwoot.fila SET estado = 'processando' WHERE entidade_id = 2;
SELECT is((SELECT count(*) FROM chatwoot._enfileirar('upsert_contato', 'tap_parte', ARRAY[2]::bigint[], true)),
          1::bigint, 'a party whose job is running gets a pending one beside it');
SELECT is((SELECT string_agg(estado, ',' ORDER BY estado) FROM chatwoot.fila WHERE entidade_id = 2),
          'pendente,processando', 'the running job is untouched');

-- The functions that queue through it.
DELETE FROM chatwoot.fila;
SELECT is(chatwoot.sincronizar_app_para_chatwoot('tap_parte', false), 3::bigint,
          'sincronizar_app_para_chatwoot: a table whose ids repeat queues each party once');
SELECT is(chatwoot.sincronizar_app_para_chatwoot('tap_parte', false), 0::bigint,
          'again: the pending jobs are kept, none queued');
UPDATE chatwoot.fila SET executar_apos = now() + interval '1 hour' WHERE entidade_id = 3;
SELECT is(chatwoot.sincronizar_parte('tap_parte', 3), (SELECT id FROM chatwoot.fila WHERE entidade_id = 3),
          'sincronizar_parte returns the pending job of the party...');
SELECT ok((SELECT executar_apos <= now() FROM chatwoot.fila WHERE entidade_id = 3), '...now due');
UPDATE chatwoot.fila SET executar_apos = now() + interval '1 hour' WHERE entidade_id = 3;
SELECT chatwoot.desincronizar('tap_parte', 3);
SELECT is((SELECT tipo || ' ' || (executar_apos <= now()) FROM chatwoot.fila WHERE entidade_id = 3),
          'desativar_contato true', 'desincronizar turns it into a deactivation, due now');
INSERT INTO chatwoot.partes_chatwoot (tipo_entidade, entidade_id, chatwoot_contact_id)
VALUES ('tap_parte', 1, 901), ('tap_parte', 2, 902);
TRUNCATE public.tap_partes;
SELECT is((SELECT string_agg(entidade_id || ' ' || tipo, ',' ORDER BY entidade_id) FROM chatwoot.fila
            WHERE estado = 'pendente'),
          '1 desativar_contato,2 desativar_contato,3 desativar_contato',
          'TRUNCATE queues a deactivation for each party with a contact, beside the one already pending');
SELECT is((SELECT count(*) FROM chatwoot.fila WHERE estado = 'pendente'), 3::bigint, 'one job per party after TRUNCATE');

SELECT * FROM finish();
ROLLBACK;
