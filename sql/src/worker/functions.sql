------------------------------------------------------------------------------
-- Background worker monitoring
------------------------------------------------------------------------------
-- Monitoring is for pg_monitor and the roles granted through conceder_acesso_app.
CREATE FUNCTION chatwoot.worker_status(
    OUT processo text,              -- 'launcher' or 'worker'
    OUT banco text,
    OUT pid integer,
    OUT estado text,                -- iniciando, ocioso, trabalhando, sem_extensao, esquema_desatualizado, parado, falhou
    OUT iniciado_em timestamptz,
    OUT ultimo_ciclo_em timestamptz,
    OUT jobs_processados bigint,
    OUT em_andamento bigint,
    OUT ultimo_erro text,
    OUT recargas_config integer,
    OUT intervalo_poll_ms integer,
    OUT vazao_por_segundo double precision, -- jobs/s over the last ~10 s window
    OUT pausado_ate timestamptz,            -- no request starts before this (rate limit, Retry-After, outage)
    OUT motivo_pausa text,
    OUT avisos text                         -- standing problems: a mapping that no longer fits, a paused integration
) RETURNS SETOF record
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_worker_status';
COMMENT ON FUNCTION chatwoot.worker_status() IS
    'The launcher and the workers. Roles outside pg_monitor see only the worker of their own database.';
REVOKE ALL ON FUNCTION chatwoot.worker_status() FROM PUBLIC;
GRANT USAGE ON SCHEMA chatwoot TO pg_monitor;
GRANT EXECUTE ON FUNCTION chatwoot.worker_status() TO pg_monitor;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.worker_status()');

-- Waits until this database's worker is running and has finished a cycle (after
-- `desde`, when given). A barrier for tests and deploy scripts; false on timeout.
-- Waiting on and waking the worker are for the owner (and tests).
CREATE FUNCTION chatwoot.aguardar_worker(timeout_ms integer DEFAULT 10000, desde timestamptz DEFAULT NULL)
    RETURNS boolean
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_aguardar_worker';
REVOKE ALL ON FUNCTION chatwoot.aguardar_worker(integer, timestamptz) FROM PUBLIC;

-- Wakes this database's worker now (it otherwise wakes at commit or on its poll).
CREATE FUNCTION chatwoot.acordar_worker() RETURNS boolean
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_acordar_worker';
REVOKE ALL ON FUNCTION chatwoot.acordar_worker() FROM PUBLIC;

-- Monitoring (docs/monitoring/): per database worker, the integration it sends with,
-- the requests it started and the 429s it received since that integration was set
-- (counters kept in shared memory: a server restart sets them to 0), and the request
-- budget in force, what 429s taught when lower than integracoes.limite_requisicoes
-- (NULL until a budget paced a request). Same visibility as worker_status().
CREATE FUNCTION chatwoot.requisicoes_chatwoot(
    OUT banco text,
    OUT integracao_id bigint,       -- NULL: no connection, or the deprecated settings
    OUT requisicoes bigint,
    OUT respostas_429 bigint,
    OUT limite_em_vigor integer,
    OUT janela_limite_s integer,
    OUT usadas_na_janela integer    -- this clock window's requests, worker and testar_conexao
) RETURNS SETOF record
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_requisicoes_chatwoot';
REVOKE ALL ON FUNCTION chatwoot.requisicoes_chatwoot() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION chatwoot.requisicoes_chatwoot() TO pg_monitor;

-- Each connection for monitoring: its name, budget and pause, and the worker's
-- counters when it is the integration this database's worker sends with (NULL
-- otherwise). Never the key, the webhook secret or the URL.
CREATE VIEW chatwoot.integracoes_resumo AS
SELECT i.id, i.nome, i.ativo, i.limite_requisicoes, i.janela_limite_s, i.pausada_em,
       r.requisicoes, r.respostas_429, r.limite_em_vigor, r.usadas_na_janela
  FROM chatwoot.integracoes i
  LEFT JOIN chatwoot.requisicoes_chatwoot() r ON r.integracao_id = i.id AND r.banco = pg_catalog.current_database();
REVOKE ALL ON chatwoot.integracoes_resumo FROM PUBLIC;
GRANT SELECT ON chatwoot.integracoes_resumo TO pg_monitor;
