------------------------------------------------------------------------------
-- Access: what the app role may use, declared by each feature beside its objects
------------------------------------------------------------------------------
-- One row per privilege an application role gets from chatwoot.conceder_acesso_app;
-- para_configurar rows only when it is called with pode_configurar. Written only by
-- the install and update scripts, so no hand-kept list drifts from the objects.
-- Not dumped: its rows come from those scripts, which a restore's CREATE EXTENSION
-- runs again (dumped rows would then collide with them on the primary key).
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
