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

-- Parties are queued from SQL by one function, chatwoot._enfileirar; the functions that
-- queued them by their own INSERTs call it (desincronizar's job is now due at once, as
-- the other queuings' are).
CREATE FUNCTION chatwoot._enfileirar(tipo text, tipo_entidade text, ids bigint[], substituir boolean)
    RETURNS SETOF bigint
    LANGUAGE sql
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO chatwoot.fila AS f (tipo, tipo_entidade, entidade_id)
    SELECT $1, $2, u.i FROM (SELECT DISTINCT i FROM unnest($3) AS i WHERE i IS NOT NULL) u
    ON CONFLICT (tipo_entidade, entidade_id) WHERE estado = 'pendente' AND tipo <> 'lote'
    DO UPDATE SET tipo = EXCLUDED.tipo, executar_apos = least(f.executar_apos, now()), atualizado_em = now()
     WHERE $4
    RETURNING f.id
$$;
REVOKE ALL ON FUNCTION chatwoot._enfileirar(text, text, bigint[], boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION chatwoot._registrar_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tipo text := TG_ARGV[0];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tabela = TG_RELID AND r.tipo_entidade = v_tipo) THEN
        RETURN NULL;
    END IF;
    BEGIN
        UPDATE chatwoot.partes_chatwoot p SET removida = true
         WHERE p.tipo_entidade = v_tipo AND p.chatwoot_contact_id IS NOT NULL AND NOT p.removida;
        PERFORM chatwoot._enfileirar('desativar_contato', v_tipo,
                                     ARRAY(SELECT p.entidade_id FROM chatwoot.partes_chatwoot p
                                            WHERE p.tipo_entidade = v_tipo AND p.removida), true);
        -- Bulk-inserted parties still waiting in lotes are gone too, and so are the
        -- table's changes not yet drained: drained later, they would turn these
        -- deactivations back into upserts (the truncate comes after them).
        DELETE FROM chatwoot.fila f WHERE f.tipo = 'lote' AND f.estado = 'pendente' AND f.tipo_entidade = v_tipo;
        DELETE FROM chatwoot.mudancas m WHERE m.tabela = TG_RELID;
        PERFORM chatwoot._acordar_no_commit();
    EXCEPTION WHEN query_canceled OR admin_shutdown THEN
        RAISE;
    WHEN OTHERS THEN
        RAISE WARNING 'chatwoot_sync: TRUNCATE de % não foi registrado: %', TG_RELID::regclass, SQLERRM
            USING HINT = 'Os contatos no Chatwoot continuam ativos; use chatwoot.desincronizar para cada parte removida.';
    END;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION chatwoot.sincronizar_parte(tipo_entidade text, entidade_id bigint) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_id bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tipo_entidade = sincronizar_parte.tipo_entidade) THEN
        RAISE EXCEPTION 'tipo_entidade "%" não é rastreado: use chatwoot.rastrear(tabela, tipo_entidade)',
            sincronizar_parte.tipo_entidade USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT j INTO v_id
      FROM chatwoot._enfileirar('upsert_contato', sincronizar_parte.tipo_entidade,
                                ARRAY[sincronizar_parte.entidade_id], true) AS j;
    PERFORM chatwoot._acordar_no_commit();
    RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION chatwoot.desincronizar(tipo_entidade text, entidade_id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    -- A kind no longer tracked may still have contacts to deactivate, by their mapping.
    IF NOT EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tipo_entidade = desincronizar.tipo_entidade)
       AND NOT EXISTS (SELECT 1 FROM chatwoot.partes_chatwoot p
                        WHERE p.tipo_entidade = desincronizar.tipo_entidade AND p.entidade_id = desincronizar.entidade_id) THEN
        RAISE EXCEPTION 'tipo_entidade "%" não é rastreado e a parte % não tem contato: nada a desativar',
            desincronizar.tipo_entidade, desincronizar.entidade_id USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE chatwoot.partes_chatwoot p SET sincronizado = false
     WHERE p.tipo_entidade = desincronizar.tipo_entidade AND p.entidade_id = desincronizar.entidade_id;
    PERFORM chatwoot._enfileirar('desativar_contato', desincronizar.tipo_entidade,
                                 ARRAY[desincronizar.entidade_id], true);
    PERFORM chatwoot._acordar_no_commit();
END $$;

CREATE OR REPLACE FUNCTION chatwoot.sincronizar_app_para_chatwoot(tipo_entidade text DEFAULT 'todos',
                                                       apenas_ativos boolean DEFAULT true) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    r record;
    v_total bigint := 0;
    v_n bigint;
    v_problema text;
BEGIN
    FOR r IN SELECT * FROM chatwoot.rastreamentos x
              WHERE sincronizar_app_para_chatwoot.tipo_entidade IN ('todos', x.tipo_entidade) ORDER BY x.tipo_entidade LOOP
        v_problema := chatwoot._validar_mapeamento(r.tabela, r.mapeamento);
        IF v_problema IS NOT NULL THEN
            RAISE WARNING 'chatwoot_sync: "%" não foi enfileirado: %', r.tipo_entidade, v_problema;
            CONTINUE;
        END IF;
        SELECT count(*) INTO v_n
          FROM chatwoot._enfileirar('upsert_contato', r.tipo_entidade,
                                    ARRAY(SELECT i.id FROM chatwoot._ids_rastreados(
                                              r.tabela, r.mapeamento ->> 'id',
                                              CASE WHEN sincronizar_app_para_chatwoot.apenas_ativos
                                                   THEN r.mapeamento ->> 'ativo' END) AS i), false);
        v_total := v_total + v_n;
    END LOOP;
    PERFORM chatwoot._acordar_no_commit();
    RETURN v_total;
END $$;

-- The parties of a contact in party order: the look for another party on the same
-- contact (ORDER BY ... LIMIT 1) walked the whole unique index without it.
DROP INDEX chatwoot.partes_chatwoot_contato;
CREATE INDEX partes_chatwoot_contato ON chatwoot.partes_chatwoot (chatwoot_contact_id, tipo_entidade, entidade_id);

-- The updated_at trigger pins its search_path, as every other function does: it runs
-- inside the worker's statements (issue 17, T3-1: no name the worker uses resolves
-- through a search_path someone else chose).
CREATE OR REPLACE FUNCTION chatwoot._tocar_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END $$;
