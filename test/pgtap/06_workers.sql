-- worker_status(), aguardar_worker(), acordar_worker() in a served database.
BEGIN;
SELECT plan(14);

SELECT is((SELECT count(*) FROM chatwoot.worker_status() WHERE processo = 'launcher'), 1::bigint,
          'worker_status returns exactly one launcher row');
SELECT results_eq(
    $$SELECT pid IS NOT NULL, estado, iniciado_em IS NOT NULL, banco IS NULL
        FROM chatwoot.worker_status() WHERE processo = 'launcher'$$,
    $$VALUES (true, 'ativo'::text, true, true)$$,
    'the launcher row: a pid, estado ativo, iniciado_em, no banco');
SELECT is((SELECT backend_type FROM pg_stat_activity
            WHERE pid = (SELECT pid FROM chatwoot.worker_status() WHERE processo = 'launcher')),
          'chatwoot_sync launcher', 'the launcher pid is the chatwoot_sync launcher in pg_stat_activity');
SELECT ok((SELECT bool_and(processo IN ('launcher', 'worker')) FROM chatwoot.worker_status()),
          'processo is launcher or worker');
SELECT ok(chatwoot.aguardar_worker(10000), 'aguardar_worker: this database''s worker runs and has cycled');
SELECT is((SELECT count(*) FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database()),
          1::bigint, 'one worker row for this database');
SELECT results_eq(
    $$SELECT pid IS NOT NULL, estado IN ('ocioso', 'trabalhando'), iniciado_em <= ultimo_ciclo_em,
             jobs_processados >= 0, em_andamento >= 0, recargas_config >= 0,
             intervalo_poll_ms = (SELECT setting::integer FROM pg_settings WHERE name = 'chatwoot_sync.poll_interval')
        FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database()$$,
    $$VALUES (true, true, true, true, true, true, true)$$,
    'the worker row: pid, estado ocioso/trabalhando, cycled after starting, counters, the poll interval in use');
SELECT is((SELECT backend_type || '/' || application_name || '/' || datname FROM pg_stat_activity
            WHERE pid = (SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database())),
          'chatwoot_sync worker/chatwoot_sync worker/' || current_database(),
          'the worker pid is the chatwoot_sync worker connected to this database');
-- The moment is taken before each wake-up: the worker may finish its cycle before
-- the next statement starts.
CREATE TEMP TABLE momento (antes timestamptz);
INSERT INTO momento SELECT clock_timestamp();
SELECT ok(chatwoot.acordar_worker(), 'acordar_worker: true when the worker runs');
SELECT ok(chatwoot.aguardar_worker(3000, (SELECT antes FROM momento)), 'after acordar_worker the worker completes a new cycle');
UPDATE momento SET antes = clock_timestamp();
SELECT ok(chatwoot.acordar_worker() AND chatwoot.aguardar_worker(3000, (SELECT antes FROM momento)),
          'and again (each wake-up gives a cycle)');
SELECT is(chatwoot.aguardar_worker(200, clock_timestamp() + interval '1 hour'), false,
          'aguardar_worker times out (false) when no cycle can satisfy desde');
SELECT cmp_ok((SELECT extract(epoch FROM clock_timestamp() - now()) FROM (SELECT chatwoot.aguardar_worker(300, clock_timestamp() + interval '1 hour')) t),
              '<', 5::numeric, 'aguardar_worker honours its timeout');
SELECT is((SELECT count(*) FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'nao_listado_nem_existe'),
          0::bigint, 'no row for a database that is not served');

SELECT * FROM finish();
ROLLBACK;
