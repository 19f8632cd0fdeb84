------------------------------------------------------------------------------
-- Internal: proves the C++/PostgreSQL error boundary (see src/pg/boundary.hpp)
------------------------------------------------------------------------------
CREATE FUNCTION chatwoot._testar_fronteira(modo text) RETURNS text
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'chatwoot_testar_fronteira';
CREATE FUNCTION chatwoot._fronteira_destrutores() RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_fronteira_destrutores';
REVOKE ALL ON FUNCTION chatwoot._testar_fronteira(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION chatwoot._fronteira_destrutores() FROM PUBLIC;

-- Internal: proves the app-code fence alone (src/pg/boundary/app_code_fence.hpp).
CREATE FUNCTION chatwoot._testar_cerca(tabela regclass, comando text, limite_ms integer DEFAULT 0) RETURNS jsonb
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_testar_cerca';
REVOKE ALL ON FUNCTION chatwoot._testar_cerca(regclass, text, integer) FROM PUBLIC;
