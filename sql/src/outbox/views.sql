------------------------------------------------------------------------------
-- Outbox: what the DBA and the app watch
------------------------------------------------------------------------------
-- Per state and kind: counts, the oldest job, retries, the last 5 minutes' throughput,
-- the integration's pause (and why), and for pending work the expected time to drain
-- it: at the throughput of the last 5 minutes, or else at the request budget with
-- the requests the last finished jobs took.
CREATE VIEW chatwoot.fila_resumo AS
WITH recentes AS (
    SELECT count(*) AS concluidos, avg(c.requisicoes) AS requisicoes_por_job,
           -- jobs per second while the worker was busy: over the span they were recorded in
           count(*) / greatest(extract(epoch FROM max(c.concluido_em) - min(c.concluido_em)), 1) AS ritmo
      FROM chatwoot.fila c
     WHERE c.estado = 'concluido' AND c.concluido_em > now() - interval '5 minutes'
), integracao AS (
    SELECT i.limite_requisicoes, i.janela_limite_s, i.pausada_em, i.motivo_pausa
      FROM chatwoot.integracoes i WHERE i.ativo ORDER BY i.id LIMIT 1
)
SELECT f.estado,
       f.tipo,
       count(*)                                                  AS quantidade,
       min(f.criado_em)                                          AS mais_antigo,
       now() - min(f.criado_em) FILTER (WHERE f.estado = 'pendente') AS idade_pendente_mais_antigo,
       count(*) FILTER (WHERE f.estado = 'pendente' AND f.tentativas > 0) AS retentativas_agendadas,
       (SELECT concluidos FROM recentes)                         AS concluidos_5min,
       round((SELECT concluidos FROM recentes) / 300.0, 2)       AS por_segundo_5min,
       (SELECT CASE WHEN pausada_em IS NOT NULL THEN motivo_pausa END FROM integracao) AS pausa,
       -- Paced to a budget, the drain takes the requests it needs over the budget; with
       -- the budget off, the jobs over the rate the worker kept while busy lately.
       CASE WHEN f.estado IN ('pendente', 'processando') THEN
           CASE WHEN (SELECT limite_requisicoes FROM integracao) > 0
                THEN make_interval(secs => sum(CASE WHEN f.tipo IN ('lote', 'mudanca') THEN cardinality(f.ids) ELSE 1 END)
                                           * coalesce((SELECT requisicoes_por_job FROM recentes), 2)
                                           * (SELECT janela_limite_s FROM integracao)
                                           / (SELECT limite_requisicoes FROM integracao))
                WHEN (SELECT concluidos FROM recentes) > 1
                THEN make_interval(secs => sum(CASE WHEN f.tipo IN ('lote', 'mudanca') THEN cardinality(f.ids) ELSE 1 END)
                                           / (SELECT ritmo FROM recentes))
           END
       END                                                       AS tempo_estimado
  FROM (SELECT estado, tipo, ids, criado_em, tentativas FROM chatwoot.fila
        UNION ALL  -- changes the worker has not drained into the outbox yet
        SELECT 'pendente', 'mudanca', m.ids, m.criado_em, 0 FROM chatwoot.mudancas m) f
 GROUP BY f.estado, f.tipo;

CREATE VIEW chatwoot.erros_sincronizacao AS
SELECT 'fila'::text AS origem, f.id AS job_id, f.tipo_entidade, f.entidade_id, f.tentativas, f.http_status,
       f.ultimo_erro AS erro, f.atualizado_em AS quando
  FROM chatwoot.fila f
 WHERE f.estado = 'morto'
UNION ALL
SELECT 'campo', NULL, p.tipo_entidade, p.entidade_id, NULL, NULL, p.erro_sincronizacao, p.updated_at
  FROM chatwoot.partes_chatwoot p
 WHERE p.erro_sincronizacao IS NOT NULL
UNION ALL
SELECT 'rastreamento', NULL, r.tipo_entidade, NULL, NULL, NULL, r.erro, r.erro_em
  FROM chatwoot.rastreamentos r
 WHERE r.erro IS NOT NULL
UNION ALL
SELECT 'integracao', NULL, NULL, NULL, NULL, NULL, 'integração ' || i.nome || ' pausada: ' || i.motivo_pausa, i.pausada_em
  FROM chatwoot.integracoes i
 WHERE i.pausada_em IS NOT NULL;

GRANT SELECT ON chatwoot.fila_resumo, chatwoot.erros_sincronizacao TO pg_monitor;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('SELECT', 'chatwoot.fila_resumo');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('SELECT', 'chatwoot.erros_sincronizacao');
