-- The C++/PostgreSQL error boundary (src/pg/boundary.hpp): every failure mode
-- becomes a clean ERROR, the session survives, and C++ destructors run.
CREATE EXTENSION IF NOT EXISTS chatwoot_sync;
\set VERBOSITY default

SELECT chatwoot._fronteira_destrutores() AS antes \gset
SELECT pg_backend_pid() AS pid_antes \gset

-- A C++ exception thrown by the core.
SELECT chatwoot._testar_fronteira('excecao_cpp');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- std::bad_alloc becomes PostgreSQL's out-of-memory error.
SELECT chatwoot._testar_fronteira('bad_alloc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Something that is not even a std::exception.
SELECT chatwoot._testar_fronteira('excecao_desconhecida');
-- A PostgreSQL ERROR raised below C++ frames keeps its own message and SQLSTATE.
SELECT chatwoot._testar_fronteira('erro_pg');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The backend is still healthy and usable in the same session.
SELECT chatwoot._testar_fronteira('ok');
SELECT 1 + 1 AS ainda_vivo;
-- ... and it is the same backend (psql would have had to reconnect after a crash).
SELECT pg_backend_pid() = :pid_antes AS mesmo_backend;

-- Each of the five calls above destroyed its C++ resource, failing or not.
SELECT chatwoot._fronteira_destrutores() - :antes AS destrutores_executados;

-- Errors inside a transaction abort only that transaction, as usual.
BEGIN;
SELECT chatwoot._testar_fronteira('excecao_cpp');
SELECT 1;
ROLLBACK;
SELECT chatwoot._testar_fronteira('ok');
