-- worker_status(), aguardar_worker(), acordar_worker() in a served database.
BEGIN;
SELECT plan(20);

-- The worker may still be starting (the database was created just before the suite).
SELECT ok(chatwoot.aguardar_worker(20000), 'the worker serving this database is ready within 20 s');
SELECT results_eq(
    $$SELECT processo, estado IN ('ocioso', 'trabalhando'), pid IS NOT NULL, iniciado_em <= now(),
             ultimo_ciclo_em IS NOT NULL, ultimo_erro
        FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database()$$,
    $$VALUES ('worker'::text, true, true, true, true, NULL::text)$$,
    'the worker row: running (ocioso or trabalhando), a pid, started before now, has cycled, no error');
SELECT results_eq(
    $$SELECT count(*), bool_and(pid IS NOT NULL) FROM chatwoot.worker_status() WHERE processo = 'launcher'$$,
    $$VALUES (1::bigint, true)$$,
    'one launcher, and it runs');
-- DBAs find both in pg_stat_activity by backend_type and application_name alike.
SELECT results_eq(
    $$SELECT backend_type, application_name FROM pg_stat_activity
       WHERE backend_type LIKE 'chatwoot_sync%' AND (datname = current_database() OR datname IS NULL)
       ORDER BY backend_type$$,
    $$VALUES ('chatwoot_sync launcher'::text, 'chatwoot_sync launcher'::text),
             ('chatwoot_sync worker'::text, 'chatwoot_sync worker'::text)$$,
    'pg_stat_activity: exactly this database''s worker and the launcher, named alike in backend_type and application_name');

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
-- This database tracks no table: no job was ever done or in flight, and the test
-- cluster was never reloaded.
SELECT results_eq(
    $$SELECT pid IS NOT NULL, estado, iniciado_em <= ultimo_ciclo_em,
             jobs_processados, em_andamento, recargas_config, ultimo_erro,
             intervalo_poll_ms = (SELECT setting::integer FROM pg_settings WHERE name = 'chatwoot_sync.poll_interval')
        FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database()$$,
    $$VALUES (true, 'ocioso'::text, true, 0::bigint, 0::bigint, 0, NULL::text, true)$$,
    'the worker row: pid, estado ocioso, cycled after starting, 0 jobs done, 0 in flight, 0 reloads, no error, the poll interval in use');
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
-- Waking it makes it run a cycle promptly: within 2 s, though the poll here is 30 s.
UPDATE momento SET antes = clock_timestamp();
SELECT ok(chatwoot.acordar_worker(), 'acordar_worker: true again');
SELECT ok(chatwoot.aguardar_worker(2000, (SELECT antes FROM momento)), 'a wake-up gives a cycle within 2 s');
-- The call itself is timed: its result and how long it took, from just before to just after.
CREATE FUNCTION pg_temp.aguardar_cronometrado(timeout_ms integer, OUT resultado boolean, OUT segundos numeric)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    resultado := chatwoot.aguardar_worker(timeout_ms, clock_timestamp() + interval '1 hour');
    segundos := extract(epoch FROM clock_timestamp() - t0);
END $$;
CREATE TEMP TABLE espera AS SELECT * FROM pg_temp.aguardar_cronometrado(500);
SELECT is((SELECT resultado FROM espera), false, 'aguardar_worker times out (false) when no cycle can satisfy desde');
SELECT ok((SELECT segundos >= 0.3 AND segundos < 1.0 FROM espera),
          'aguardar_worker(500) honours its timeout: it waits, and returns within it (0.3 s <= elapsed < 1 s)');
-- postgres exists and is not in chatwoot_sync.database_name (the test cluster lists
-- contrib_regression and chatwoot_tap).
SELECT is((SELECT count(*) FROM pg_database WHERE datname = 'postgres')
          || '/' || (SELECT count(*) FROM chatwoot.worker_status() WHERE banco = 'postgres'),
          '1/0', 'no row for a database that exists but is not served');

SELECT * FROM finish();
ROLLBACK;
