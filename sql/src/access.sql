------------------------------------------------------------------------------
-- Access for the app and for monitoring
------------------------------------------------------------------------------
-- Grants an application role what it needs, never the secrets.
CREATE FUNCTION chatwoot.conceder_acesso_app(papel regrole, pode_configurar boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA chatwoot TO %s', papel);
    EXECUTE format('GRANT SELECT (id, nome, api_url, account_id, default_inbox_id, ativo, limite_requisicoes, '
                   'janela_limite_s, pausada_em, motivo_pausa, created_at, updated_at) '
                   'ON chatwoot.integracoes TO %s', papel);
    EXECUTE format('GRANT EXECUTE ON FUNCTION chatwoot.testar_conexao(bigint) TO %s', papel);
    EXECUTE format('GRANT EXECUTE ON FUNCTION chatwoot.worker_status() TO %s', papel);
    EXECUTE format('GRANT SELECT ON chatwoot.partes_chatwoot, chatwoot.fila_resumo, chatwoot.erros_sincronizacao TO %s',
                   papel);
    EXECUTE format('GRANT EXECUTE ON FUNCTION chatwoot.sincronizar_parte(text, bigint), '
                   'chatwoot.desincronizar(text, bigint), chatwoot.sincronizar_app_para_chatwoot(text, boolean), '
                   'chatwoot.reprocessar(bigint), chatwoot.reprocessar_falhas() TO %s', papel);
    IF pode_configurar THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer) TO %s',
                       papel);
    END IF;
END $$;
REVOKE ALL ON FUNCTION chatwoot.conceder_acesso_app(regrole, boolean) FROM PUBLIC;

-- Monitoring is for pg_monitor and roles granted through conceder_acesso_app;
-- waking or waiting on the worker is for the owner (and tests).
REVOKE ALL ON FUNCTION chatwoot.worker_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION chatwoot.aguardar_worker(integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION chatwoot.acordar_worker() FROM PUBLIC;
GRANT USAGE ON SCHEMA chatwoot TO pg_monitor;
GRANT EXECUTE ON FUNCTION chatwoot.worker_status() TO pg_monitor;

