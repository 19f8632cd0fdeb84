------------------------------------------------------------------------------
-- Internal: proves the C++/PostgreSQL error boundary (see src/pg/boundary.hpp)
------------------------------------------------------------------------------
CREATE FUNCTION chatwoot._testar_fronteira(modo text) RETURNS text
    LANGUAGE c STRICT AS 'MODULE_PATHNAME', 'chatwoot_testar_fronteira';
CREATE FUNCTION chatwoot._fronteira_destrutores() RETURNS bigint
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_fronteira_destrutores';
REVOKE ALL ON FUNCTION chatwoot._testar_fronteira(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION chatwoot._fronteira_destrutores() FROM PUBLIC;
