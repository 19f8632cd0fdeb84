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
-- A contact two parties own (0.1.0 let them): the first mapping keeps it, the others
-- become sharers with the conflict recorded, before the index that forbids it.
UPDATE chatwoot.partes_chatwoot p
   SET proprietario = false, sincronizado = false,
       erro_sincronizacao = 'conflito: o contato ' || p.chatwoot_contact_id || ' do Chatwoot já pertence a '
                            || o.tipo_entidade || ' ' || o.entidade_id || ' (atualização para 0.2.0)'
  FROM (SELECT DISTINCT ON (COALESCE(integracao_id, 0), chatwoot_contact_id) *
          FROM chatwoot.partes_chatwoot
         WHERE proprietario AND chatwoot_contact_id IS NOT NULL
         ORDER BY COALESCE(integracao_id, 0), chatwoot_contact_id, id) o
 WHERE p.proprietario AND p.chatwoot_contact_id = o.chatwoot_contact_id
   AND COALESCE(p.integracao_id, 0) = COALESCE(o.integracao_id, 0)
   AND p.id <> o.id;
-- One owner per contact: two parties with disjoint keys (one's e-mail, the other's
-- phone, both on one Chatwoot contact) could both adopt it and flip its identifier on
-- every sync. The worker records the second as a conflict instead (contact_kinds.cpp).
CREATE UNIQUE INDEX partes_chatwoot_um_proprietario ON chatwoot.partes_chatwoot
    ((COALESCE(integracao_id, 0)), chatwoot_contact_id) WHERE proprietario AND chatwoot_contact_id IS NOT NULL;

------------------------------------------------------------------------------
-- Capture gaps (issue 17, T3-6, T3-13): a tracked table attached as a partition, a
-- capture trigger disabled or dropped, a table rewrite, a drop-and-rebuild migration
------------------------------------------------------------------------------
-- The table and column rule alone, for rastrear; _validar_mapeamento adds the capture
-- triggers' check for a tracked table (the event triggers and the worker).
CREATE FUNCTION chatwoot._validar_tabela_e_colunas(tabela regclass, mapeamento jsonb) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rel pg_class;
    v_schema name;
    v_key text;
    v_col text;
    v_type oid;
    v_typtype char;
    v_typnamespace oid;
    v_typowner oid;
    v_text_family oid[] := ARRAY['text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype]::oid[];
    v_integers oid[] := ARRAY['int2'::regtype, 'int4'::regtype, 'int8'::regtype]::oid[];
BEGIN
    SELECT * INTO v_rel FROM pg_class c WHERE c.oid = _validar_tabela_e_colunas.tabela;
    IF NOT FOUND THEN
        RETURN format('a tabela %s não existe mais', _validar_tabela_e_colunas.tabela::oid);
    END IF;
    SELECT nspname INTO v_schema FROM pg_namespace WHERE oid = v_rel.relnamespace;
    IF v_schema IN ('chatwoot', 'pg_catalog', 'information_schema', 'pg_toast') OR v_schema LIKE 'pg_temp%'
       OR v_schema LIKE 'pg_toast_temp%' THEN
        RETURN format('%s está no esquema %s: só tabelas do aplicativo podem ser rastreadas', tabela, v_schema);
    END IF;
    IF v_rel.relkind <> 'r' THEN
        RETURN format('%s não é uma tabela comum (relkind %s): não pode ser rastreada', tabela, v_rel.relkind);
    END IF;
    IF v_rel.relispartition THEN
        RETURN format('%s é uma partição de %s: os comandos na tabela particionada não são capturados; '
                      'desanexe a partição (DETACH PARTITION) ou pare o rastreamento', tabela,
                      (SELECT i.inhparent::regclass FROM pg_inherits i WHERE i.inhrelid = tabela LIMIT 1));
    END IF;
    FOR v_key, v_col IN SELECT e.key, e.value #>> '{}' FROM jsonb_each(mapeamento) e
                         WHERE jsonb_typeof(e.value) = 'string' ORDER BY e.key LOOP
        SELECT a.atttypid, t.typtype, t.typnamespace, t.typowner INTO v_type, v_typtype, v_typnamespace, v_typowner
          FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
         WHERE a.attrelid = tabela AND a.attname = v_col AND a.attnum > 0 AND NOT a.attisdropped;
        IF NOT FOUND THEN
            RETURN format('a tabela %s não tem a coluna "%s" (chave %s do mapeamento)', tabela, v_col, v_key);
        END IF;
        IF v_key = 'id' THEN
            IF NOT v_type = ANY (v_integers) THEN
                RETURN format('a coluna id "%s" de %s deve ser smallint, integer ou bigint, não %s', v_col, tabela,
                              v_type::regtype);
            END IF;
        ELSIF v_key = 'ativo' THEN
            IF v_type <> 'boolean'::regtype THEN
                RETURN format('a coluna "%s" (ativo) de %s deve ser boolean, não %s', v_col, tabela, v_type::regtype);
            END IF;
        ELSIF NOT (v_type = ANY (v_text_family) OR v_type = ANY (v_integers)
                   OR (v_key = 'emails' AND v_type IN ('jsonb'::regtype, 'json'::regtype))
                   -- An enum's text is a cast its owner may redefine: the table's schema,
                   -- the table's owner or a superuser (a table moved to another schema
                   -- keeps its types), never another role's.
                   OR (v_typtype = 'e' AND (v_typnamespace = v_rel.relnamespace OR v_typowner = v_rel.relowner
                                            OR (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = v_typowner)))) THEN
            RETURN format('a coluna "%s" (chave %s) de %s é do tipo %s: use texto, inteiro, json(b) ou um enum do '
                          'esquema da tabela, do dono da tabela ou de um superusuário', v_col, v_key, tabela,
                          v_type::regtype);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION chatwoot._validar_tabela_e_colunas(regclass, jsonb) FROM PUBLIC;

CREATE FUNCTION chatwoot._verificar_gatilhos(tabela regclass) RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nome name;
    v_funcao oid;
    v_estado "char";
BEGIN
    FOR v_nome, v_funcao IN
        VALUES ('zz_chatwoot_sync_linha'::name, 'chatwoot._registrar_mudanca()'::regprocedure::oid),
               ('zz_chatwoot_sync_comando', 'chatwoot._enfileirar_mudancas()'::regprocedure::oid),
               ('zz_chatwoot_sync_truncate', 'chatwoot._registrar_truncate()'::regprocedure::oid) LOOP
        SELECT t.tgenabled INTO v_estado FROM pg_trigger t
         WHERE t.tgrelid = _verificar_gatilhos.tabela AND t.tgname = v_nome AND t.tgfoid = v_funcao;
        IF NOT FOUND THEN
            RETURN format('o gatilho %s de %s foi removido: as mudanças da tabela não são capturadas; '
                          'chame chatwoot.rastrear de novo', v_nome, tabela);
        END IF;
        -- 'D' disabled; 'R' fires only with session_replication_role = replica.
        IF v_estado IN ('D', 'R') THEN
            RETURN format('o gatilho %s de %s está desativado: as mudanças da tabela não são capturadas; '
                          'use ALTER TABLE %s ENABLE TRIGGER %s', v_nome, tabela, tabela, v_nome);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION chatwoot._verificar_gatilhos(regclass) FROM PUBLIC;

CREATE OR REPLACE FUNCTION chatwoot._validar_mapeamento(tabela regclass, mapeamento jsonb) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(chatwoot._validar_tabela_e_colunas($1, $2),
                    CASE WHEN EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tabela = $1)
                         THEN chatwoot._verificar_gatilhos($1) END)
$$;
REVOKE ALL ON FUNCTION chatwoot._validar_mapeamento(regclass, jsonb) FROM PUBLIC;

-- parar_rastreamento deletes the record before it drops the triggers; rastrear replaces
-- them (CREATE OR REPLACE TRIGGER: a disabled one is enabled again) instead.
CREATE OR REPLACE FUNCTION chatwoot.parar_rastreamento(tabela regclass, manter_registro boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_trigger name;
BEGIN
    -- The record goes first: the DROP TRIGGERs below then end a tracking, instead of
    -- stopping a tracked table's capture (which the sql_drop event trigger reports).
    IF NOT manter_registro THEN
        DELETE FROM chatwoot.rastreamentos r WHERE r.tabela = parar_rastreamento.tabela;
    END IF;
    FOR v_trigger IN SELECT tgname FROM pg_trigger
                      WHERE tgrelid = parar_rastreamento.tabela
                        AND tgname IN ('zz_chatwoot_sync_linha', 'zz_chatwoot_sync_comando', 'zz_chatwoot_sync_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trigger, parar_rastreamento.tabela);
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION chatwoot.parar_rastreamento(regclass, boolean) FROM PUBLIC;

CREATE OR REPLACE FUNCTION chatwoot.rastrear(tabela regclass, tipo_entidade text, mapeamento jsonb DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_map jsonb := chatwoot.mapeamento_padrao() || coalesce(rastrear.mapeamento, '{}'::jsonb);
    v_key text;
    v_cols text[] := '{}';
    v_problema text;
    v_atual text;
BEGIN
    IF rastrear.tipo_entidade IS NULL OR rastrear.tipo_entidade !~ '^[a-z][a-z0-9_]{0,40}$' THEN
        RAISE EXCEPTION 'tipo_entidade inválido: use letras minúsculas, dígitos e _, como cliente, parte_contraria, terceiro'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(v_map) LOOP
        IF v_key NOT IN ('id', 'tipo_pessoa', 'nome', 'emails', 'ddd_celular', 'numero_celular', 'cpf', 'cnpj', 'ativo') THEN
            RAISE EXCEPTION 'mapeamento: chave desconhecida "%"', v_key USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF jsonb_typeof(v_map -> v_key) NOT IN ('string', 'null') THEN
            RAISE EXCEPTION 'mapeamento: a chave "%" deve ser o nome de uma coluna ou null', v_key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_key <> 'id' AND jsonb_typeof(v_map -> v_key) = 'string' THEN v_cols := v_cols || (v_map ->> v_key); END IF;
    END LOOP;
    IF jsonb_typeof(v_map -> 'id') IS DISTINCT FROM 'string' OR jsonb_typeof(v_map -> 'nome') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'mapeamento: "id" e "nome" são obrigatórios' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_problema := chatwoot._validar_tabela_e_colunas(rastrear.tabela, v_map);
    IF v_problema IS NOT NULL THEN
        RAISE EXCEPTION 'mapeamento: %', v_problema
            USING ERRCODE = CASE WHEN v_problema LIKE '%não tem a coluna%' THEN 'undefined_column'
                                 ELSE 'invalid_parameter_value' END;
    END IF;
    SELECT r.tipo_entidade INTO v_atual FROM chatwoot.rastreamentos r WHERE r.tabela = rastrear.tabela;
    IF v_atual IS NOT NULL AND v_atual <> rastrear.tipo_entidade THEN
        RAISE EXCEPTION '% já é rastreada como "%": use chatwoot.parar_rastreamento(%) antes de mudar o tipo',
            rastrear.tabela, v_atual, quote_literal(rastrear.tabela::text) USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO chatwoot.rastreamentos AS r (tabela, tipo_entidade, mapeamento)
    VALUES (rastrear.tabela, rastrear.tipo_entidade, v_map)
    ON CONFLICT ON CONSTRAINT rastreamentos_pkey
    DO UPDATE SET mapeamento = EXCLUDED.mapeamento, erro = NULL, erro_em = NULL;

    -- Named to fire after the app's own BEFORE triggers, so we see the final row. OR
    -- REPLACE, not DROP and CREATE: a trigger dropped or disabled by the app is back
    -- and enabled, and no DROP TRIGGER reads as capture stopped on a tracked table.
    EXECUTE format('CREATE OR REPLACE TRIGGER zz_chatwoot_sync_linha BEFORE INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION chatwoot._registrar_mudanca(%L, %L%s)',
                   rastrear.tabela, rastrear.tipo_entidade, v_map ->> 'id',
                   (SELECT coalesce(string_agg(format(', %L', c), ''), '') FROM unnest(v_cols) c));
    EXECUTE format('CREATE OR REPLACE TRIGGER zz_chatwoot_sync_comando AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._enfileirar_mudancas()', rastrear.tabela);
    EXECUTE format('CREATE OR REPLACE TRIGGER zz_chatwoot_sync_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._registrar_truncate(%L)',
                   rastrear.tabela, rastrear.tipo_entidade);
END $$;
REVOKE ALL ON FUNCTION chatwoot.rastrear(regclass, text, jsonb) FROM PUBLIC;

-- A rewrite queues every party of the table again; ATTACH PARTITION and a dropped or
-- disabled capture trigger are recorded and said; a DROP TABLE keeps the deactivations.
CREATE FUNCTION chatwoot._ressincronizar_tabela(tabela regclass) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r chatwoot.rastreamentos;
    v_n bigint;
BEGIN
    SELECT * INTO r FROM chatwoot.rastreamentos t WHERE t.tabela = _ressincronizar_tabela.tabela;
    IF NOT FOUND THEN RETURN 0; END IF;
    WITH partes AS (SELECT i.id, (row_number() OVER (ORDER BY i.id) - 1) / 5000 AS lote
                      FROM chatwoot._ids_rastreados(r.tabela, r.mapeamento ->> 'id') AS i),
         escritas AS (
        INSERT INTO chatwoot.mudancas AS m (tabela, tipo_entidade, tipo, ids, criado_em)
        SELECT r.tabela::oid, r.tipo_entidade, 'u', array_agg(p.id ORDER BY p.id), now()
          FROM partes p GROUP BY p.lote
        RETURNING cardinality(m.ids) AS n)
    SELECT coalesce(sum(e.n), 0) INTO v_n FROM escritas e;
    IF v_n > 0 THEN
        PERFORM chatwoot._acordar_no_commit();
    END IF;
    RETURN v_n;
END $$;
REVOKE ALL ON FUNCTION chatwoot._ressincronizar_tabela(regclass) FROM PUBLIC;

CREATE FUNCTION chatwoot._ao_reescrever_tabela() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('chatwoot.tabelas_reescritas',
                       concat_ws(',', nullif(current_setting('chatwoot.tabelas_reescritas', true), ''),
                                 pg_event_trigger_table_rewrite_oid()::text), true);
END $$;
REVOKE ALL ON FUNCTION chatwoot._ao_reescrever_tabela() FROM PUBLIC;

CREATE OR REPLACE FUNCTION chatwoot._ao_alterar_tabela() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tabela oid;
    v_vistas oid[] := '{}';
    v_reescritas oid[];
    v_n bigint;
BEGIN
    -- The altered tracked tables, and the tracked partitions of an altered table
    -- (ATTACH PARTITION names the partitioned table).
    FOR v_tabela IN SELECT t.tabela::oid FROM chatwoot.rastreamentos t
                     WHERE t.tabela::oid IN (SELECT c.objid FROM pg_event_trigger_ddl_commands() c
                                              WHERE c.classid = 'pg_class'::regclass)
                        OR t.tabela::oid IN (SELECT i.inhrelid FROM pg_inherits i
                                               JOIN pg_event_trigger_ddl_commands() c
                                                 ON c.classid = 'pg_class'::regclass AND c.objid = i.inhparent)
                     ORDER BY 1 LOOP
        PERFORM chatwoot._verificar_rastreamento(v_tabela::regclass);
        v_vistas := v_vistas || v_tabela;
    END LOOP;
    -- A standing problem fixed through another table (DETACH PARTITION names the
    -- partitioned table) is cleared, silently.
    UPDATE chatwoot.rastreamentos t SET erro = NULL, erro_em = NULL
     WHERE t.erro IS NOT NULL AND NOT t.tabela::oid = ANY (v_vistas)
       AND chatwoot._validar_mapeamento(t.tabela, t.mapeamento) IS NULL;
    v_reescritas := string_to_array(nullif(current_setting('chatwoot.tabelas_reescritas', true), ''), ',')::oid[];
    IF v_reescritas IS NOT NULL THEN
        PERFORM set_config('chatwoot.tabelas_reescritas', '', true);
        FOR v_tabela IN SELECT DISTINCT t.tabela::oid FROM chatwoot.rastreamentos t
                         WHERE t.tabela::oid = ANY (v_reescritas) LOOP
            BEGIN
                v_n := chatwoot._ressincronizar_tabela(v_tabela::regclass);
                RAISE NOTICE 'chatwoot_sync: % foi reescrita; % parte(s) serão sincronizadas de novo', v_tabela::regclass, v_n;
            EXCEPTION WHEN query_canceled OR admin_shutdown THEN
                RAISE;
            WHEN OTHERS THEN
                RAISE WARNING 'chatwoot_sync: % foi reescrita, mas suas partes não foram enfileiradas: %',
                    v_tabela::regclass, SQLERRM
                    USING HINT = 'Corrija a tabela ou o mapeamento e chame chatwoot.sincronizar_app_para_chatwoot().';
            END;
        END LOOP;
    END IF;
EXCEPTION WHEN query_canceled OR admin_shutdown THEN
    RAISE;
WHEN OTHERS THEN
    RAISE WARNING 'chatwoot_sync: verificação do rastreamento falhou: %', SQLERRM;
END $$;
REVOKE ALL ON FUNCTION chatwoot._ao_alterar_tabela() FROM PUBLIC;

CREATE OR REPLACE FUNCTION chatwoot._ao_remover_objetos() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_mantidos bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'chatwoot_sync') THEN
        RETURN;  -- DROP EXTENSION itself
    END IF;
    FOR r IN SELECT DISTINCT t.tabela::oid AS relid, t.tipo_entidade, d.objsubid = 0 AS tabela_inteira,
                    CASE WHEN d.objsubid = 0 THEN d.object_identity END AS nome
               FROM pg_event_trigger_dropped_objects() d
               JOIN chatwoot.rastreamentos t ON t.tabela::oid = d.objid
              WHERE d.classid = 'pg_class'::regclass AND d.object_type IN ('table', 'table column') LOOP
        IF r.tabela_inteira THEN
            -- Its changes not drained yet become outbox jobs first, to be marked below.
            IF EXISTS (SELECT 1 FROM chatwoot.mudancas m WHERE m.tabela = r.relid) THEN
                PERFORM chatwoot.drenar_mudancas();
            END IF;
            DELETE FROM chatwoot.rastreamentos t WHERE t.tabela::oid = r.relid;
            -- A deactivation (a removed party's erasure, a desincronizar) needs only the
            -- mapping, not the row: it still runs. The rest read rows that are gone.
            UPDATE chatwoot.fila f SET estado = 'morto', atualizado_em = now(),
                   ultimo_erro = format('a tabela rastreada %s foi removida (DROP TABLE); rastreamento encerrado', r.nome)
             WHERE f.tipo_entidade = r.tipo_entidade AND f.estado = 'pendente' AND f.tipo <> 'desativar_contato';
            SELECT count(*) INTO v_mantidos FROM chatwoot.fila f
             WHERE f.tipo_entidade = r.tipo_entidade AND f.estado = 'pendente' AND f.tipo = 'desativar_contato';
            RAISE WARNING 'chatwoot_sync: % foi removida; o rastreamento de "%" terminou', r.nome, r.tipo_entidade
                USING DETAIL = format('%s desativação(ões) pendente(s) continuam na fila; os demais trabalhos pendentes '
                                      'desse tipo viraram falhas definitivas.', v_mantidos),
                      HINT = 'Uma tabela recriada com o mesmo papel precisa de chatwoot.rastrear de novo.';
        ELSIF EXISTS (SELECT 1 FROM pg_class WHERE oid = r.relid) THEN
            PERFORM chatwoot._verificar_rastreamento(r.relid::regclass);
        END IF;
    END LOOP;
    -- A capture trigger dropped on a table that stays tracked: capture stopped.
    FOR r IN SELECT DISTINCT t.tabela
               FROM pg_event_trigger_dropped_objects() d
               JOIN chatwoot.rastreamentos t
                 ON t.tabela::oid = to_regclass(format('%I.%I', d.address_names[1], d.address_names[2]))::oid
              WHERE d.object_type = 'trigger' AND d.address_names[3] LIKE 'zz\_chatwoot\_sync\_%' LOOP
        PERFORM chatwoot._verificar_rastreamento(r.tabela);
    END LOOP;
EXCEPTION WHEN query_canceled OR admin_shutdown THEN
    RAISE;
WHEN OTHERS THEN
    RAISE WARNING 'chatwoot_sync: fim do rastreamento de uma tabela removida falhou: %', SQLERRM;
END $$;
REVOKE ALL ON FUNCTION chatwoot._ao_remover_objetos() FROM PUBLIC;

DROP EVENT TRIGGER chatwoot_sync_ddl;
CREATE EVENT TRIGGER chatwoot_sync_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TYPE', 'CREATE TRIGGER')
    EXECUTE FUNCTION chatwoot._ao_alterar_tabela();
CREATE EVENT TRIGGER chatwoot_sync_reescrita ON table_rewrite
    EXECUTE FUNCTION chatwoot._ao_reescrever_tabela();

------------------------------------------------------------------------------
-- Dump and restore (issue 17, T3-8): the identity sequences of the dumped tables, and
-- the outbox's unfinished work (a pending erasure must survive a restore)
------------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('chatwoot.partes_chatwoot', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('chatwoot.integracoes', 'id')::regclass, '');
SELECT pg_catalog.pg_extension_config_dump('chatwoot.fila', 'WHERE estado <> ''concluido''');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('chatwoot.fila', 'id')::regclass, '');
-- The change log too (issue 18): its rows name their table by regclass, which a dump
-- writes as the table's name and a restore resolves again (an oid changes). oid to
-- regclass is binary coercible: no rewrite, and the C writer's datum is the same.
ALTER TABLE chatwoot.mudancas ALTER COLUMN tabela TYPE regclass;
SELECT pg_catalog.pg_extension_config_dump('chatwoot.mudancas', '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('chatwoot.mudancas', 'id')::regclass, '');

-- Worker isolation (issue 17): a test of the app-code fence on its own.
CREATE FUNCTION chatwoot._testar_cerca(tabela regclass, comando text, limite_ms integer DEFAULT 0) RETURNS jsonb
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_testar_cerca';
REVOKE ALL ON FUNCTION chatwoot._testar_cerca(regclass, text, integer) FROM PUBLIC;

-- Secrets (issue 17, T3-12): auto_explain, when loaded, logs nested statements' plans
-- with their parameters: the key and the webhook secret in clear. Not inside configurar.
ALTER FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)
    SET auto_explain.log_min_duration = -1;

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

-- Monitoring (issue 18, docs/monitoring/): the worker's requests, 429s and budget in
-- force, and the connections' names, budgets and pauses for pg_monitor (no secret).
CREATE FUNCTION chatwoot.requisicoes_chatwoot(
    OUT banco text,
    OUT integracao_id bigint,
    OUT requisicoes bigint,
    OUT respostas_429 bigint,
    OUT limite_em_vigor integer,
    OUT janela_limite_s integer,
    OUT usadas_na_janela integer
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
