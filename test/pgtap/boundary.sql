-- The C++/PostgreSQL error boundary: every failure becomes a clean ERROR with the
-- right SQLSTATE, the C++ destructors run, and the backend carries on.
BEGIN;
SELECT plan(20);
CREATE TEMP TABLE inicio AS SELECT pg_backend_pid() AS pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid();

-- How many C++ destructors ran during one call of _testar_fronteira(modo), failing or not.
CREATE FUNCTION pg_temp.destrutores_em(modo text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE antes bigint := chatwoot._fronteira_destrutores();
BEGIN
    BEGIN
        PERFORM chatwoot._testar_fronteira(modo);
    EXCEPTION WHEN others THEN NULL;
    END;
    RETURN chatwoot._fronteira_destrutores() - antes;
END $$;

SELECT throws_ok($$SELECT chatwoot._testar_fronteira('erro_pg')$$, '22012', 'division by zero',
                 'erro_pg: the PostgreSQL error keeps its SQLSTATE (22012) and message across C++ frames');
SELECT throws_ok($$SELECT chatwoot._testar_fronteira('bad_alloc')$$, '53200', NULL,
                 'bad_alloc: std::bad_alloc becomes out_of_memory (53200)');
SELECT throws_like($$SELECT chatwoot._testar_fronteira('bad_alloc')$$, '%out of memory%',
                   'bad_alloc: the message says out of memory');
SELECT throws_ok($$SELECT chatwoot._testar_fronteira('excecao_cpp')$$, '38000', NULL,
                 'excecao_cpp: a C++ exception becomes external_routine_exception (38000)');
SELECT throws_like($$SELECT chatwoot._testar_fronteira('excecao_cpp')$$, '%falha simulada%',
                   'excecao_cpp: the message carries the exception text (falha simulada)');
SELECT throws_ok($$SELECT chatwoot._testar_fronteira('excecao_desconhecida')$$, '38000', NULL,
                 'excecao_desconhecida: a non-std exception becomes 38000');
SELECT throws_like($$SELECT chatwoot._testar_fronteira('excecao_desconhecida')$$, '%unknown C++ exception%',
                   'excecao_desconhecida: reported as an unknown C++ exception');
SELECT throws_ok($$SELECT chatwoot._testar_fronteira('nao_existe')$$, '38000', NULL, 'an unknown mode is a 38000 error');
SELECT throws_like($$SELECT chatwoot._testar_fronteira('nao_existe')$$, '%modo desconhecido: nao_existe%',
                   'an unknown mode names the mode');
SELECT is(chatwoot._testar_fronteira('ok'), 'ok: 3', 'ok: returns normally through the boundary');

-- Destructors run on every path
SELECT is(pg_temp.destrutores_em('erro_pg'), 1::bigint, 'erro_pg: the C++ resource was destroyed');
SELECT is(pg_temp.destrutores_em('bad_alloc'), 1::bigint, 'bad_alloc: the C++ resource was destroyed');
SELECT is(pg_temp.destrutores_em('excecao_cpp'), 1::bigint, 'excecao_cpp: the C++ resource was destroyed');
SELECT is(pg_temp.destrutores_em('excecao_desconhecida'), 1::bigint, 'excecao_desconhecida: the C++ resource was destroyed');
SELECT is(pg_temp.destrutores_em('ok'), 1::bigint, 'ok: the C++ resource was destroyed');
SELECT cmp_ok(chatwoot._fronteira_destrutores(), '>=', 5::bigint, 'the destructor counter accumulates in the session');

-- The backend and the transaction are still healthy
SELECT is((SELECT count(*) FROM pg_stat_activity a JOIN inicio i USING (pid, backend_start) WHERE a.state = 'active'), 1::bigint,
          'the backend that took the failures is still the one running (same pid and start, in pg_stat_activity)');
SELECT lives_ok($$SELECT chatwoot._testar_fronteira('ok')$$, 'the boundary still works after the failures');
SELECT throws_ok($$SELECT chatwoot._testar_fronteira('erro_pg')$$, '22012', NULL, 'and still maps errors after them');
SELECT is(pg_temp.destrutores_em('erro_pg') + pg_temp.destrutores_em('excecao_cpp'), 2::bigint,
          'repeated failures keep destroying their resources');

SELECT * FROM finish();
ROLLBACK;
