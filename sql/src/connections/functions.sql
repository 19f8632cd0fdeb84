------------------------------------------------------------------------------
-- Connections: configuring and testing them
------------------------------------------------------------------------------
-- Keeps updated_at current (connections and party mappings). Its search_path is
-- pinned like every other function's: it runs inside the worker's statements.
CREATE FUNCTION chatwoot._tocar_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := pg_catalog.now();
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION chatwoot._tocar_updated_at() FROM PUBLIC;

CREATE TRIGGER integracoes_updated_at BEFORE UPDATE ON chatwoot.integracoes
    FOR EACH ROW EXECUTE FUNCTION chatwoot._tocar_updated_at();

-- A changed connection ends a pause: the refusal may be fixed.
CREATE FUNCTION chatwoot._integracao_alterada() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (NEW.api_url, NEW.api_key, NEW.account_id, NEW.default_inbox_id, NEW.ativo)
       IS DISTINCT FROM (OLD.api_url, OLD.api_key, OLD.account_id, OLD.default_inbox_id, OLD.ativo) THEN
        NEW.pausada_em := NULL;
        NEW.motivo_pausa := NULL;
    END IF;
    RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION chatwoot._integracao_alterada() FROM PUBLIC;
CREATE TRIGGER integracoes_pausa BEFORE UPDATE ON chatwoot.integracoes
    FOR EACH ROW EXECUTE FUNCTION chatwoot._integracao_alterada();

-- Tells the worker at commit that the connection changed (it reloads it, retries a
-- paused integration, and wakes even while it ignores ordinary commits). Not for the
-- worker's own pause: that update sets pausada_em.
CREATE FUNCTION chatwoot._conexao_mudou() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'chatwoot_conexao_mudou';
REVOKE ALL ON FUNCTION chatwoot._conexao_mudou() FROM PUBLIC;
CREATE TRIGGER integracoes_mudou AFTER INSERT OR DELETE ON chatwoot.integracoes
    FOR EACH ROW EXECUTE FUNCTION chatwoot._conexao_mudou();
CREATE TRIGGER integracoes_mudou_update AFTER UPDATE ON chatwoot.integracoes
    FOR EACH ROW WHEN (NEW.pausada_em IS NULL OR NEW.pausada_em IS NOT DISTINCT FROM OLD.pausada_em)
    EXECUTE FUNCTION chatwoot._conexao_mudou();

-- The core's URL check (scheme, host, port, length, control characters, numeric
-- IPv4 forms, link-local and cloud metadata addresses): NULL when the URL is usable,
-- else why not.
CREATE FUNCTION chatwoot._verificar_api_url(api_url text) RETURNS text
    LANGUAGE c STABLE AS 'MODULE_PATHNAME', 'chatwoot_verificar_api_url';
REVOKE ALL ON FUNCTION chatwoot._verificar_api_url(text) FROM PUBLIC;

-- Insert or update the connection named `nome`. Validates before writing, so a
-- bad value never reaches a constraint whose error would print the row (and the key).
-- The budget arguments keep the stored (or default) values when NULL. Always ends a
-- pause (the caller is saying: try again).
CREATE FUNCTION chatwoot.configurar(
    api_url text,
    api_key text,
    account_id integer,
    default_inbox_id integer DEFAULT NULL,
    nome text DEFAULT 'padrao',
    webhook_secret text DEFAULT NULL,
    limite_requisicoes integer DEFAULT NULL,
    janela_limite_s integer DEFAULT NULL
) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
    v_url text := btrim(configurar.api_url);
    v_problema text;
BEGIN
    IF v_url IS NULL THEN
        RAISE EXCEPTION 'api_url inválida: informe a URL http(s) da instância Chatwoot, por exemplo https://chat.exemplo.com.br'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v_problema := chatwoot._verificar_api_url(v_url);
    IF v_problema IS NOT NULL THEN
        RAISE EXCEPTION 'api_url inválida: %; informe a URL http(s) da instância Chatwoot, por exemplo https://chat.exemplo.com.br',
            v_problema USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.api_key IS NULL OR btrim(configurar.api_key) = '' THEN
        RAISE EXCEPTION 'api_key não pode ser vazia: use o access token de um administrador do Chatwoot'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.api_key ~ '[[:space:][:cntrl:]]' OR length(configurar.api_key) > 1024 THEN
        RAISE EXCEPTION 'api_key não pode conter espaços ou caracteres de controle, nem passar de 1024 caracteres'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.account_id IS NULL OR configurar.account_id <= 0 THEN
        RAISE EXCEPTION 'account_id deve ser um inteiro positivo (o número da conta no Chatwoot)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.default_inbox_id IS NOT NULL AND configurar.default_inbox_id <= 0 THEN
        RAISE EXCEPTION 'default_inbox_id deve ser um inteiro positivo ou NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.nome IS NULL OR btrim(configurar.nome) = '' THEN
        RAISE EXCEPTION 'nome da integração não pode ser vazio' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.limite_requisicoes IS NOT NULL AND configurar.limite_requisicoes < 0 THEN
        RAISE EXCEPTION 'limite_requisicoes deve ser >= 0 (0 desliga o ritmo: IP liberado no Chatwoot)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF configurar.janela_limite_s IS NOT NULL AND configurar.janela_limite_s NOT BETWEEN 1 AND 3600 THEN
        RAISE EXCEPTION 'janela_limite_s deve estar entre 1 e 3600 segundos' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO chatwoot.integracoes AS i (nome, api_url, api_key, account_id, default_inbox_id, webhook_secret,
                                           limite_requisicoes, janela_limite_s)
    VALUES (btrim(configurar.nome), rtrim(v_url, '/'), configurar.api_key, configurar.account_id,
            configurar.default_inbox_id, configurar.webhook_secret,
            coalesce(configurar.limite_requisicoes, 2900), coalesce(configurar.janela_limite_s, 60))
    ON CONFLICT ON CONSTRAINT integracoes_nome_key DO UPDATE
        SET api_url = EXCLUDED.api_url,
            api_key = EXCLUDED.api_key,
            account_id = EXCLUDED.account_id,
            default_inbox_id = EXCLUDED.default_inbox_id,
            webhook_secret = COALESCE(configurar.webhook_secret, i.webhook_secret),
            limite_requisicoes = COALESCE(configurar.limite_requisicoes, i.limite_requisicoes),
            janela_limite_s = COALESCE(configurar.janela_limite_s, i.janela_limite_s),
            pausada_em = NULL,
            motivo_pausa = NULL,
            ativo = true
    RETURNING i.id INTO v_id;
    RETURN v_id;
END $$;
REVOKE ALL ON FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer) FROM PUBLIC;
-- auto_explain, when loaded, logs nested statements' plans with their parameters: the
-- key and the webhook secret in clear (probe 026355c, 6.2). Not inside configurar.
ALTER FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)
    SET auto_explain.log_min_duration = -1;
INSERT INTO chatwoot._acessos_app (privilegio, objeto, para_configurar)
VALUES ('EXECUTE', 'FUNCTION chatwoot.configurar(text, text, integer, integer, text, text, integer, integer)', true);

-- Calls Chatwoot now (profile, then the account's inboxes) and reports
-- {ok, status, account_id, inbox, erro}. NULL means the first active connection,
-- or the deprecated chatwoot_sync.api_url/api_key settings when there is none.
CREATE FUNCTION chatwoot.testar_conexao(integracao_id bigint DEFAULT NULL) RETURNS jsonb
    LANGUAGE c SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'chatwoot_testar_conexao';
REVOKE ALL ON FUNCTION chatwoot.testar_conexao(bigint) FROM PUBLIC;
INSERT INTO chatwoot._acessos_app (privilegio, objeto) VALUES ('EXECUTE', 'FUNCTION chatwoot.testar_conexao(bigint)');
