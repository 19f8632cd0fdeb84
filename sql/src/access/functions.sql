------------------------------------------------------------------------------
-- Access for the app
------------------------------------------------------------------------------
-- Grants an application role what the features declared in chatwoot._acessos_app,
-- never the secrets (the connection's columns are granted one by one, without
-- api_key and webhook_secret); configurar only with pode_configurar.
CREATE FUNCTION chatwoot.conceder_acesso_app(papel regrole, pode_configurar boolean DEFAULT false) RETURNS void
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
REVOKE ALL ON FUNCTION chatwoot.conceder_acesso_app(regrole, boolean) FROM PUBLIC;
