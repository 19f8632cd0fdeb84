\echo Use "CREATE EXTENSION chatwoot_sync" to load this file. \quit

-- Fails loudly when the extension cannot be served here (not preloaded, or this
-- database is not in chatwoot_sync.database_name), and asks the launcher to start
-- this database's worker when the transaction commits.
CREATE FUNCTION chatwoot._registrar_instalacao() RETURNS void
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_registrar_instalacao';
SELECT chatwoot._registrar_instalacao();
REVOKE ALL ON FUNCTION chatwoot._registrar_instalacao() FROM PUBLIC;
