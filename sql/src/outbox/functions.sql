------------------------------------------------------------------------------
-- Outbox: draining the change log, waking the worker, dead letters
------------------------------------------------------------------------------
-- Moves the change log into the outbox now, as the worker does in every cycle in
-- which it can send (it does nothing per commit while it cannot). Runs as the caller,
-- with search_path pinned as the worker's: a superuser calling it in a database whose
-- public schema the app writes must not pick up the app's operators.
CREATE FUNCTION chatwoot.drenar_mudancas() RETURNS bigint
    LANGUAGE c SET search_path = pg_catalog, pg_temp AS 'MODULE_PATHNAME', 'chatwoot_drenar_mudancas';
COMMENT ON FUNCTION chatwoot.drenar_mudancas() IS
    'Moves chatwoot.mudancas into chatwoot.fila now (the worker does it each cycle it can send); returns the rows moved.';
REVOKE ALL ON FUNCTION chatwoot.drenar_mudancas() FROM PUBLIC;

-- Wakes this database's worker when the current transaction commits.
CREATE FUNCTION chatwoot._acordar_no_commit() RETURNS void
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_acordar_no_commit';
REVOKE ALL ON FUNCTION chatwoot._acordar_no_commit() FROM PUBLIC;

-- Queues a job of kind `tipo` for each party (tipo_entidade, id) in `ids`: the one
-- place SQL queues parties (the worker's debounced queuing of the change log is its
-- own). A party has at most one pending job (fila_um_pendente_por_parte, whose
-- predicate the conflict target repeats): with `substituir` that job takes this kind
-- and is due now, without it the job stays as it is (it reads the row when it runs).
-- Returns the ids of the jobs queued or changed. Duplicate ids count once.
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

-- Dead letters back to the queue, attempts reset. A job superseded by a newer
-- pending one for the same party is simply dropped (the newer one sends fresher data).
CREATE FUNCTION chatwoot.reprocessar(job_id bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j chatwoot.fila;
BEGIN
    SELECT * INTO j FROM chatwoot.fila WHERE id = job_id AND estado = 'morto' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM chatwoot.fila f WHERE f.estado = 'pendente' AND f.tipo <> 'lote'
                  AND f.tipo_entidade = j.tipo_entidade AND f.entidade_id = j.entidade_id) THEN
        DELETE FROM chatwoot.fila WHERE id = job_id;
    ELSE
        UPDATE chatwoot.fila SET estado = 'pendente', tentativas = 0, executar_apos = now(), bloqueado_ate = NULL,
                                 atualizado_em = now()
         WHERE id = job_id;
    END IF;
    PERFORM chatwoot._acordar_no_commit();
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION chatwoot.reprocessar(bigint) FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.reprocessar(bigint)');

CREATE FUNCTION chatwoot.reprocessar_falhas() RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT count(*) FILTER (WHERE chatwoot.reprocessar(id))
      FROM (SELECT id FROM chatwoot.fila WHERE estado = 'morto' ORDER BY id) mortos
$$;
REVOKE ALL ON FUNCTION chatwoot.reprocessar_falhas() FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.reprocessar_falhas()');
