-- The background worker serves this database (contrib_regression is listed in
-- chatwoot_sync.database_name by the test cluster).
CREATE EXTENSION IF NOT EXISTS chatwoot_sync;

SELECT chatwoot.aguardar_worker(20000) AS worker_pronto;

SELECT processo, estado IN ('ocioso', 'trabalhando') AS ativo, pid IS NOT NULL AS tem_pid,
       iniciado_em <= now() AS iniciou, ultimo_ciclo_em IS NOT NULL AS ja_ciclou, ultimo_erro
  FROM chatwoot.worker_status()
 WHERE processo = 'worker' AND banco = current_database();

SELECT count(*) AS launchers, bool_and(pid IS NOT NULL) AS launcher_vivo
  FROM chatwoot.worker_status() WHERE processo = 'launcher';

-- Visible to DBAs in pg_stat_activity, by backend_type and application_name.
SELECT backend_type, application_name
  FROM pg_stat_activity
 WHERE backend_type LIKE 'chatwoot_sync%' AND (datname = current_database() OR datname IS NULL)
 ORDER BY backend_type;

-- Waking it makes it run a cycle promptly.
SELECT now() AS antes \gset
SELECT chatwoot.acordar_worker() AS acordado;
SELECT chatwoot.aguardar_worker(2000, :'antes') AS ciclou_depois;
