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

-- Does `mapeamento` fit `tabela` as it is now? NULL when it does, else why not. The
-- rule rastrear applies (chatwoot._validar_mapeamento adds the capture triggers' check
-- for the DDL event trigger and the worker, which reads app rows only through a
-- mapping that fits): an ordinary table, not a partition (a statement on the
-- partitioned table fires the partition's row trigger but not its statement trigger,
-- so its changes would never be queued), outside the extension's and the system's
-- schemas; an integer id; every mapped column present, of a built-in type (the text
-- family, integers, boolean, json/jsonb) or an enum of the table's own schema, so
-- reading it runs no code of a role but the table's owner's.
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

-- Does a tracked table still capture its changes? NULL when its three triggers are in
-- place and fire, else why not: a DROP TRIGGER or a DISABLE TRIGGER (USER, ALL or by
-- name) by the table's owner would otherwise stop capture without a word.
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

-- Does `mapeamento` fit `tabela`, and, when the table is tracked, are its changes still
-- captured? NULL when so, else why not. One rule for the DDL event trigger and the
-- worker: a problem is recorded in rastreamentos.erro and fails that kind's jobs with
-- the reason until it is fixed.
CREATE FUNCTION chatwoot._validar_mapeamento(tabela regclass, mapeamento jsonb) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(chatwoot._validar_tabela_e_colunas($1, $2),
                    CASE WHEN EXISTS (SELECT 1 FROM chatwoot.rastreamentos r WHERE r.tabela = $1)
                         THEN chatwoot._verificar_gatilhos($1) END)
$$;
REVOKE ALL ON FUNCTION chatwoot._validar_mapeamento(regclass, jsonb) FROM PUBLIC;

CREATE FUNCTION chatwoot.parar_rastreamento(tabela regclass, manter_registro boolean DEFAULT false) RETURNS void
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

-- DDL on a tracked table. After an ALTER, or a column dropped by a DROP ... CASCADE:
-- the mapping is checked again, and a mapping that no longer fits is recorded
-- (rastreamentos.erro, shown by erros_sincronizacao and worker_status) and said in a
-- WARNING; the worker then fails only that kind's jobs, with that reason, until the
-- table or the mapping is fixed. The same for what stops capture: the table attached
-- as a partition (the ALTER names the partitioned table), a capture trigger disabled
-- or dropped. A rewrite (ALTER COLUMN ... TYPE ... USING) changes rows without firing
-- a trigger: every party of the kind is queued again. After a DROP TABLE: tracking
-- ends; the kind's pending deactivations still run (they need only the mapping), its
-- other waiting jobs become dead letters that say why. Never fails the DDL.
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

-- Every party of a tracked table into the change log, as an UPDATE of each would put
-- it (in chunks of 5,000 ids, as the statement trigger writes): the worker drains it.
-- Returns how many.
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

-- table_rewrite: the rows cannot be read yet (the catalogs already describe the new
-- row type, the file still holds the old rows), so the table is only noted, for the
-- end of the command (_ao_alterar_tabela) to queue its parties. Reads nothing: it
-- runs as the role that altered the table.
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

CREATE FUNCTION chatwoot._ao_alterar_tabela() RETURNS event_trigger
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

CREATE FUNCTION chatwoot._ao_remover_objetos() RETURNS event_trigger
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

-- CREATE TRIGGER: pg_restore creates a tracked table's triggers after its ALTER TABLEs
-- (which record them missing); the check of standing problems then clears that.
CREATE EVENT TRIGGER chatwoot_sync_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE', 'ALTER TYPE', 'CREATE TRIGGER')
    EXECUTE FUNCTION chatwoot._ao_alterar_tabela();
CREATE EVENT TRIGGER chatwoot_sync_reescrita ON table_rewrite
    EXECUTE FUNCTION chatwoot._ao_reescrever_tabela();
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
