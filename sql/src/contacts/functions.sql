------------------------------------------------------------------------------
-- Contacts: tracking app tables, capturing their changes, queuing parties
------------------------------------------------------------------------------
CREATE TRIGGER partes_chatwoot_updated_at BEFORE UPDATE ON chatwoot.partes_chatwoot
    FOR EACH ROW EXECUTE FUNCTION chatwoot._tocar_updated_at();

-- Row-level: records which parties changed (an UPDATE touching no mapped column
-- records nothing). Statement-level: queues them in one go and wakes the worker at
-- commit. Both in C; neither can make the app's statement fail. They run with the
-- app's rights; the statement trigger raises them to the extension owner's only
-- around its one write, with search_path pinned there, and queues only for a table
-- and kind chatwoot.rastreamentos lists (see src/pg/change_capture.cpp).
CREATE FUNCTION chatwoot._registrar_mudanca() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_registrar_mudanca';
CREATE FUNCTION chatwoot._enfileirar_mudancas() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_enfileirar_mudancas';
-- Executable by nobody but the owner: triggers that rastrear installed still fire
-- (firing checks no EXECUTE), but no other role can attach them to a table of its own
-- and write the outbox through them.
REVOKE ALL ON FUNCTION chatwoot._registrar_mudanca() FROM PUBLIC;
REVOKE ALL ON FUNCTION chatwoot._enfileirar_mudancas() FROM PUBLIC;

-- TRUNCATE of a tracked table: every mapped party of that kind is removed, as a
-- DELETE of each would say: its mapping is marked removed (a new party that reuses
-- the id, after RESTART IDENTITY, never inherits the contact) and a job releases
-- the contact. The app's TRUNCATE never fails because of it.
CREATE FUNCTION chatwoot._registrar_truncate() RETURNS trigger
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
REVOKE ALL ON FUNCTION chatwoot._registrar_truncate() FROM PUBLIC;

-- Default mapping: the Zattar party tables (shared/design/zattar-tables.md).
CREATE FUNCTION chatwoot.mapeamento_padrao() RETURNS jsonb
    LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', 'id', 'tipo_pessoa', 'tipo_pessoa', 'nome', 'nome', 'emails', 'emails',
        'ddd_celular', 'ddd_celular', 'numero_celular', 'numero_celular',
        'cpf', 'cpf', 'cnpj', 'cnpj', 'ativo', 'ativo')
$$;

-- Does `mapeamento` fit `tabela` as it is now? NULL when it does, else why not. One
-- rule for rastrear, the DDL event trigger and the worker (which reads app rows only
-- through a mapping that fits): an ordinary table outside the extension's and the
-- system's schemas; an integer id; every mapped column present, of a built-in type
-- (the text family, integers, boolean, json/jsonb) or an enum of the table's own
-- schema, so reading it runs no code of a role but the table's owner's.
CREATE FUNCTION chatwoot._validar_mapeamento(tabela regclass, mapeamento jsonb) RETURNS text
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
    v_text_family oid[] := ARRAY['text'::regtype, 'varchar'::regtype, 'bpchar'::regtype, 'name'::regtype]::oid[];
    v_integers oid[] := ARRAY['int2'::regtype, 'int4'::regtype, 'int8'::regtype]::oid[];
BEGIN
    SELECT * INTO v_rel FROM pg_class c WHERE c.oid = _validar_mapeamento.tabela;
    IF NOT FOUND THEN
        RETURN format('a tabela %s não existe mais', _validar_mapeamento.tabela::oid);
    END IF;
    SELECT nspname INTO v_schema FROM pg_namespace WHERE oid = v_rel.relnamespace;
    IF v_schema IN ('chatwoot', 'pg_catalog', 'information_schema', 'pg_toast') OR v_schema LIKE 'pg_temp%'
       OR v_schema LIKE 'pg_toast_temp%' THEN
        RETURN format('%s está no esquema %s: só tabelas do aplicativo podem ser rastreadas', tabela, v_schema);
    END IF;
    IF v_rel.relkind <> 'r' THEN
        RETURN format('%s não é uma tabela comum (relkind %s): não pode ser rastreada', tabela, v_rel.relkind);
    END IF;
    FOR v_key, v_col IN SELECT e.key, e.value #>> '{}' FROM jsonb_each(mapeamento) e
                         WHERE jsonb_typeof(e.value) = 'string' ORDER BY e.key LOOP
        SELECT a.atttypid, t.typtype, t.typnamespace INTO v_type, v_typtype, v_typnamespace
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
                   OR (v_typtype = 'e' AND v_typnamespace = v_rel.relnamespace)) THEN
            RETURN format('a coluna "%s" (chave %s) de %s é do tipo %s: use texto, inteiro, json(b) ou um enum do '
                          'esquema da tabela', v_col, v_key, tabela, v_type::regtype);
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION chatwoot._validar_mapeamento(regclass, jsonb) FROM PUBLIC;

CREATE FUNCTION chatwoot.parar_rastreamento(tabela regclass, manter_registro boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_trigger name;
BEGIN
    FOR v_trigger IN SELECT tgname FROM pg_trigger
                      WHERE tgrelid = parar_rastreamento.tabela
                        AND tgname IN ('zz_chatwoot_sync_linha', 'zz_chatwoot_sync_comando', 'zz_chatwoot_sync_truncate') LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', v_trigger, parar_rastreamento.tabela);
    END LOOP;
    IF NOT manter_registro THEN
        DELETE FROM chatwoot.rastreamentos r WHERE r.tabela = parar_rastreamento.tabela;
    END IF;
END $$;
REVOKE ALL ON FUNCTION chatwoot.parar_rastreamento(regclass, boolean) FROM PUBLIC;

CREATE FUNCTION chatwoot.rastrear(tabela regclass, tipo_entidade text, mapeamento jsonb DEFAULT NULL)
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
    v_problema := chatwoot._validar_mapeamento(rastrear.tabela, v_map);
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

    PERFORM chatwoot.parar_rastreamento(rastrear.tabela, manter_registro => true);
    -- Named to fire after the app's own BEFORE triggers, so we see the final row.
    EXECUTE format('CREATE TRIGGER zz_chatwoot_sync_linha BEFORE INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION chatwoot._registrar_mudanca(%L, %L%s)',
                   rastrear.tabela, rastrear.tipo_entidade, v_map ->> 'id',
                   (SELECT coalesce(string_agg(format(', %L', c), ''), '') FROM unnest(v_cols) c));
    EXECUTE format('CREATE TRIGGER zz_chatwoot_sync_comando AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._enfileirar_mudancas()', rastrear.tabela);
    EXECUTE format('CREATE TRIGGER zz_chatwoot_sync_truncate AFTER TRUNCATE ON %s '
                   'FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._registrar_truncate(%L)',
                   rastrear.tabela, rastrear.tipo_entidade);
END $$;
REVOKE ALL ON FUNCTION chatwoot.rastrear(regclass, text, jsonb) FROM PUBLIC;

-- DDL on a tracked table. After an ALTER, or a column dropped by a DROP ... CASCADE:
-- the mapping is checked again, and a mapping that no longer fits is recorded
-- (rastreamentos.erro, shown by erros_sincronizacao and worker_status) and said in a
-- WARNING; the worker then fails only that kind's jobs, with that reason, until the
-- table or the mapping is fixed. After a DROP TABLE: tracking ends, and the kind's
-- waiting jobs become dead letters that say why. Never fails the DDL.
CREATE FUNCTION chatwoot._verificar_rastreamento(tabela regclass) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r chatwoot.rastreamentos;
    v_problema text;
BEGIN
    SELECT * INTO r FROM chatwoot.rastreamentos t WHERE t.tabela = _verificar_rastreamento.tabela;
    IF NOT FOUND THEN RETURN; END IF;
    v_problema := chatwoot._validar_mapeamento(r.tabela, r.mapeamento);
    IF v_problema IS DISTINCT FROM r.erro THEN
        UPDATE chatwoot.rastreamentos t SET erro = v_problema, erro_em = CASE WHEN v_problema IS NULL THEN NULL ELSE now() END
         WHERE t.tabela = r.tabela;
    END IF;
    IF v_problema IS NOT NULL THEN
        RAISE WARNING 'chatwoot_sync: o rastreamento de % (%) não corresponde mais à tabela: %', r.tabela, r.tipo_entidade, v_problema
            USING HINT = 'Desfaça a mudança ou chame chatwoot.rastrear com o mapeamento novo; até lá os trabalhos desse tipo falham.';
    END IF;
END $$;
REVOKE ALL ON FUNCTION chatwoot._verificar_rastreamento(regclass) FROM PUBLIC;

CREATE FUNCTION chatwoot._ao_alterar_tabela() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tabela oid;
BEGIN
    FOR v_tabela IN SELECT DISTINCT c.objid FROM pg_event_trigger_ddl_commands() c
                     WHERE c.classid = 'pg_class'::regclass
                       AND c.objid IN (SELECT t.tabela::oid FROM chatwoot.rastreamentos t) LOOP
        PERFORM chatwoot._verificar_rastreamento(v_tabela::regclass);
    END LOOP;
EXCEPTION WHEN query_canceled OR admin_shutdown THEN
    RAISE;
WHEN OTHERS THEN
    RAISE WARNING 'chatwoot_sync: verificação do rastreamento falhou: %', SQLERRM;
END $$;
REVOKE ALL ON FUNCTION chatwoot._ao_alterar_tabela() FROM PUBLIC;

CREATE FUNCTION chatwoot._ao_remover_objetos() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
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
            UPDATE chatwoot.fila f SET estado = 'morto', atualizado_em = now(),
                   ultimo_erro = format('a tabela rastreada %s foi removida (DROP TABLE); rastreamento encerrado', r.nome)
             WHERE f.tipo_entidade = r.tipo_entidade AND f.estado = 'pendente';
            RAISE WARNING 'chatwoot_sync: % foi removida; o rastreamento de "%" terminou', r.nome, r.tipo_entidade;
        ELSIF EXISTS (SELECT 1 FROM pg_class WHERE oid = r.relid) THEN
            PERFORM chatwoot._verificar_rastreamento(r.relid::regclass);
        END IF;
    END LOOP;
EXCEPTION WHEN query_canceled OR admin_shutdown THEN
    RAISE;
WHEN OTHERS THEN
    RAISE WARNING 'chatwoot_sync: fim do rastreamento de uma tabela removida falhou: %', SQLERRM;
END $$;
REVOKE ALL ON FUNCTION chatwoot._ao_remover_objetos() FROM PUBLIC;

CREATE EVENT TRIGGER chatwoot_sync_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION chatwoot._ao_alterar_tabela();
CREATE EVENT TRIGGER chatwoot_sync_drop ON sql_drop
    EXECUTE FUNCTION chatwoot._ao_remover_objetos();

CREATE FUNCTION chatwoot.sincronizar_parte(tipo_entidade text, entidade_id bigint) RETURNS bigint
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
REVOKE ALL ON FUNCTION chatwoot.sincronizar_parte(text, bigint) FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.sincronizar_parte(text, bigint)');

-- Soft unsync: the mapping is kept but marked not synced, and Chatwoot is told the
-- party is inactive (custom attribute ativo = false). Nothing is deleted.
CREATE FUNCTION chatwoot.desincronizar(tipo_entidade text, entidade_id bigint) RETURNS void
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
REVOKE ALL ON FUNCTION chatwoot.desincronizar(text, bigint) FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.desincronizar(text, bigint)');

-- The ids of a tracked table's rows (only the active ones when `coluna_ativo` is
-- given), read under the table owner's identity in a security-restricted operation,
-- as REFRESH MATERIALIZED VIEW reads: a cast or type function of the owner's runs
-- with the owner's rights, never the caller's or the extension's.
CREATE FUNCTION chatwoot._ids_rastreados(tabela regclass, coluna_id text, coluna_ativo text DEFAULT NULL)
    RETURNS TABLE (id bigint)
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_ids_rastreados';
REVOKE ALL ON FUNCTION chatwoot._ids_rastreados(regclass, text, text) FROM PUBLIC;

-- Queues every tracked party (of one kind, or 'todos'). Returns how many were queued.
-- A kind whose mapping no longer fits its table is skipped with a WARNING.
CREATE FUNCTION chatwoot.sincronizar_app_para_chatwoot(tipo_entidade text DEFAULT 'todos',
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
REVOKE ALL ON FUNCTION chatwoot.sincronizar_app_para_chatwoot(text, boolean) FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.sincronizar_app_para_chatwoot(text, boolean)');
