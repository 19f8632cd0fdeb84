-- chatwoot_sync 0.1.0 -> 0.2.0 (growing until 0.2.0 is released; frozen then).
\echo Use "ALTER EXTENSION chatwoot_sync UPDATE TO '0.2.0'" to load this file. \quit

-- The app role's grants, declared by each feature beside its objects instead of a
-- hand-kept list inside conceder_acesso_app.
CREATE TABLE chatwoot._acessos_app (
    privilegio      text NOT NULL,  -- as GRANT says it: EXECUTE, SELECT, SELECT (col, ...), USAGE
    objeto          text NOT NULL,  -- as GRANT names it: FUNCTION chatwoot.f(args), chatwoot.tabela, SCHEMA chatwoot
    para_configurar boolean NOT NULL DEFAULT false,
    PRIMARY KEY (objeto, privilegio)
);
COMMENT ON TABLE chatwoot._acessos_app IS
    'Privileges chatwoot.conceder_acesso_app grants, declared by each feature of the install and update scripts.';
REVOKE ALL ON chatwoot._acessos_app FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('USAGE', 'SCHEMA chatwoot');
INSERT INTO chatwoot._acessos_app (privilegio, objeto)
VALUES ('SELECT (id, nome, api_url, account_id, default_inbox_id, ativo, limite_requisicoes, '
        'janela_limite_s, pausada_em, motivo_pausa, created_at, updated_at)', 'chatwoot.integracoes');
INSERT INTO chatwoot._acessos_app (privilegio, objeto, para_configurar)
VALUES ('EXECUTE', 'FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)', true);
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.testar_conexao(bigint)');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.worker_status()');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.reprocessar(bigint)');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.reprocessar_falhas()');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('SELECT', 'chatwoot.partes_chatwoot');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('SELECT', 'chatwoot.fila_resumo');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('SELECT', 'chatwoot.erros_sincronizacao');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.sincronizar_parte(text, bigint)');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.desincronizar(text, bigint)');
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.sincronizar_app_para_chatwoot(text, boolean)');

-- Grants an application role what the features declared in chatwoot._acessos_app,
-- never the secrets (the connection's columns are granted one by one, without
-- api_key and webhook_secret); configurar only with pode_configurar.
CREATE OR REPLACE FUNCTION chatwoot.conceder_acesso_app(papel regrole, pode_configurar boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a chatwoot._acessos_app;
BEGIN
    FOR a IN SELECT * FROM chatwoot._acessos_app x
              WHERE NOT x.para_configurar OR conceder_acesso_app.pode_configurar
              ORDER BY x.objeto, x.privilegio LOOP
        EXECUTE format('GRANT %s ON %s TO %s', a.privilegio, a.objeto, papel);
    END LOOP;
END $$;
