#!/usr/bin/env bash
# Secrets: the app role never reads api_key / webhook_secret; the api_key setting
# is superuser-only and masked; and the extension never writes a key anywhere:
# not in the server log (log_statement = all, log_min_messages = debug1), not in
# pg_stat_activity, not in errors or reports, not in what it sends to Chatwoot
# besides the api_access_token header. auto_explain logs every plan, nested ones with
# their parameters (probe 026355c, 6.2): configurar's own statements are not logged.
#
# The keys are loaded with COPY FROM STDIN, so no statement text the test sends
# contains them: any occurrence in the log was written by the server itself.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"

KEY="SEGREDO-XYZ-987654321"         # the simulator's admin token: a working key
WRONG_KEY="SEGREDO-ERRADO-13579"    # a key Chatwoot rejects (401)
FILIAL_KEY="SEGREDO-FILIAL-24680"   # configured by the app role allowed to configure
WEBHOOK="WEBHOOK-SEGREDO-55555"
GUC_KEY="SEGREDO-GUC-123456"        # the deprecated chatwoot_sync.api_key setting

plan 68
it_cluster secrets \
  "chatwoot_sync.database_name = 'zattar,guc'" \
  "chatwoot_sync.poll_interval = '500ms'" \
  "log_statement = 'all'" \
  "log_min_messages = debug1" \
  "log_error_verbosity = verbose" \
  "shared_preload_libraries = 'chatwoot_sync,auto_explain'" \
  "auto_explain.log_min_duration = 0" \
  "auto_explain.log_nested_statements = on" \
  "auto_explain.log_verbose = on" \
  "auto_explain.log_settings = on" || { not_ok "cluster starts"; exit 1; }
LOG="$IT_DIR/server.log"

# The simulator, with our key as its admin token.
REAL_SIM_BIN="$SIM_BIN"
SIM_BIN="$IT_WORK/chatwoot-sim-token"
printf '#!/bin/sh\nexec "%s" --token %s "$@"\n' "$REAL_SIM_BIN" "$KEY" >"$SIM_BIN"
chmod 755 "$SIM_BIN"
sim_start || { not_ok "simulator starts"; exit 1; }

q postgres "CREATE DATABASE zattar" >/dev/null
q postgres "CREATE DATABASE guc" >/dev/null
q zattar "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION"; exit 1; }
q guc "CREATE EXTENSION chatwoot_sync" >/dev/null

# as USER DB: a psql session reading SQL from stdin; stdout+stderr.
as() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U "$1" -d "$2" 2>&1; }
asc() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U "$1" -d "$2" -c "$3" 2>&1; }
is_like() {  # is_like DESCRIPTION GOT EXTENDED-REGEX
  if grep -qE -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1"; echo "#   got: $2"; echo "#   expected to match: $3"; fi
}
is_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:      $2"; echo "#   expected: $3"; fi
}
# configure_with_copy USER NOME URL ACCOUNT INBOX KEY [WEBHOOK]: configurar() with the secrets read by COPY.
configure_with_copy() {
  local user="$1" nome="$2" url="$3" account="$4" inbox="$5" key="$6" webhook="${7:-}"
  as "$user" zattar <<SQL
CREATE TEMP TABLE segredos (chave text, webhook text);
COPY segredos FROM STDIN;
${key}	${webhook:-\\N}
\\.
SELECT chatwoot.configurar('$url', chave, $account, $inbox, '$nome', webhook) FROM segredos;
SQL
}
# Keys we must never see outside the test's own statements (pattern split so this
# query's own text does not contain them).
SECRET_SQL="(query LIKE '%SEGREDO-' || '%' OR query LIKE '%WEBHOOK-' || 'SEGREDO%')"
check_activity() {  # the chatwoot processes and every backend: no key in pg_stat_activity.query
  q postgres "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND $SECRET_SQL"
}
ACTIVITY_LEAKS=0
sample_activity() { local n; n=$(check_activity); [ "${n:-1}" = 0 ] || ACTIVITY_LEAKS=$((ACTIVITY_LEAKS + 1)); }

# --- configure with the secrets ---------------------------------------------------
id=$(configure_with_copy postgres padrao "$SIM_URL" 1 1 "$KEY" "$WEBHOOK")
check "configurar stores the connection (key and webhook secret read by COPY) -> id $id" test -n "$id" -a "$id" -gt 0 2>/dev/null
is_eq "the stored key is the one given" "$(q zattar "SELECT md5(api_key) = md5('SEGREDO-XYZ-' || '987654321') AND webhook_secret LIKE 'WEBHOOK-%' FROM chatwoot.integracoes")" "t"
is_eq "testar_conexao with the key works" "$(q zattar "SELECT chatwoot.testar_conexao()->>'ok'")" "true"

# --- the app role ------------------------------------------------------------------
q postgres "CREATE ROLE app_zattar LOGIN" >/dev/null
q zattar "SELECT chatwoot.conceder_acesso_app('app_zattar')" >/dev/null
q guc "SELECT chatwoot.conceder_acesso_app('app_zattar')" >/dev/null
is_like "app: SELECT api_key is denied" "$(asc app_zattar zattar "SELECT api_key FROM chatwoot.integracoes")" \
  'permission denied for table integracoes'
is_like "app: SELECT webhook_secret is denied" "$(asc app_zattar zattar "SELECT webhook_secret FROM chatwoot.integracoes")" \
  'permission denied for table integracoes'
is_like "app: SELECT * is denied" "$(asc app_zattar zattar "SELECT * FROM chatwoot.integracoes")" \
  'permission denied for table integracoes'
is_like "app: COPY of the table is denied" "$(asc app_zattar zattar "COPY chatwoot.integracoes TO STDOUT")" \
  'permission denied for table integracoes'
is_eq "app: SELECT id, nome, api_url, account_id works" \
  "$(asc app_zattar zattar "SELECT id, nome, api_url, account_id FROM chatwoot.integracoes")" "$id|padrao|$SIM_URL|1"
out=$(asc app_zattar zattar "SELECT chatwoot.testar_conexao()")
is_like "app: testar_conexao works for it (SECURITY DEFINER): ok true" "$out" '"ok": true'
if grep -q -- "$KEY" <<<"$out"; then not_ok "app: the testar_conexao report has no key"; else ok "app: the testar_conexao report has no key"; fi
is_like "app: calling configurar is denied" \
  "$(asc app_zattar zattar "SELECT chatwoot.configurar('http://x.com', 'k', 1)")" 'permission denied for function configurar'
is_like "app: calling _testar_fronteira is denied" \
  "$(asc app_zattar zattar "SELECT chatwoot._testar_fronteira('ok')")" 'permission denied for function _testar_fronteira'

q postgres "CREATE ROLE app_admin LOGIN" >/dev/null
q zattar "SELECT chatwoot.conceder_acesso_app('app_admin', pode_configurar => true)" >/dev/null
out=$(configure_with_copy app_admin filial "$SIM_URL" 1 1 "$FILIAL_KEY")
is_like "app granted pode_configurar: configurar works" "$out" '^[0-9]+$'
is_like "app granted pode_configurar: still cannot read api_key" \
  "$(asc app_admin zattar "SELECT api_key FROM chatwoot.integracoes")" 'permission denied for table integracoes'
q zattar "DELETE FROM chatwoot.integracoes WHERE nome = 'filial'" >/dev/null

# --- the api_key setting ---------------------------------------------------------------
is_like "app: SHOW chatwoot_sync.api_key is an error (superuser only)" \
  "$(asc app_zattar zattar "SHOW chatwoot_sync.api_key")" 'must be superuser'
q postgres "ALTER SYSTEM SET chatwoot_sync.api_key = '$GUC_KEY'" >/dev/null
q postgres "ALTER SYSTEM SET chatwoot_sync.api_url = '$SIM_URL'" >/dev/null
q postgres "ALTER SYSTEM SET chatwoot_sync.account_id = 1" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null
eventually_eq 5 "the api_url / api_key / account_id settings are reloaded: testar_conexao in guc (no row) uses them (origem guc)" \
  guc q guc "SELECT chatwoot.testar_conexao()->>'origem'"
is_eq "superuser: SHOW chatwoot_sync.api_key prints ********" "$(q zattar "SHOW chatwoot_sync.api_key")" "********"
is_eq "superuser: current_setting() also prints ********" "$(q zattar "SELECT current_setting('chatwoot_sync.api_key')")" "********"
out=$(q zattar "SHOW ALL")
if grep -q 'chatwoot_sync.api_key' <<<"$out" || grep -q -- "$GUC_KEY" <<<"$out"; then not_ok "superuser: SHOW ALL does not list api_key"
else ok "superuser: SHOW ALL does not list api_key"; fi
check "superuser: SHOW ALL lists the other chatwoot_sync settings" grep -q 'chatwoot_sync.api_url' <<<"$out"
out=$(asc app_zattar zattar "SHOW ALL")
if grep -q 'chatwoot_sync.api_key' <<<"$out" || grep -q -- "$GUC_KEY" <<<"$out"; then not_ok "app: SHOW ALL does not list api_key"
else ok "app: SHOW ALL does not list api_key"; fi
is_eq "app: pg_settings exposes nothing of api_key" \
  "$(asc app_zattar zattar "SELECT count(*) FROM pg_settings WHERE name = 'chatwoot_sync.api_key' OR setting LIKE '%SEGREDO-' || '%' OR reset_val LIKE '%SEGREDO-' || '%'")" "0"
is_like "app: current_setting('chatwoot_sync.api_key') is an error" \
  "$(asc app_zattar zattar "SELECT current_setting('chatwoot_sync.api_key')")" 'must be superuser'
out=$(asc app_zattar guc "SELECT chatwoot.testar_conexao()")
is_like "GUC fallback as the app (database guc, no row): it is used (origem guc, 401 for that key)" "$out" \
  '"status": 401.*"origem": "guc"|"origem": "guc".*"status": 401'
if grep -q -- "$GUC_KEY" <<<"$out"; then not_ok "GUC fallback: the report has no key"; else ok "GUC fallback: the report has no key"; fi
sample_activity

# --- every path where the key is in use --------------------------------------------------
rc_ok() { q zattar "SELECT chatwoot.testar_conexao()->>'ok'"; }
is_eq "success path (the profile reply echoes the token)" "$(rc_ok)" "true"
id_wrong=$(configure_with_copy postgres errada "$SIM_URL" 1 1 "$WRONG_KEY")
is_like "wrong key: 401 reported" "$(q zattar "SELECT chatwoot.testar_conexao($id_wrong)->>'erro'")" '401'
q zattar "UPDATE chatwoot.integracoes SET account_id = 999 WHERE nome = 'padrao'" >/dev/null
is_like "account 999: 404 reported" "$(q zattar "SELECT chatwoot.testar_conexao()->>'status'")" '^404$'
q zattar "UPDATE chatwoot.integracoes SET account_id = 2 WHERE nome = 'padrao'" >/dev/null
is_like "account 2: 401 (no access) reported" "$(q zattar "SELECT chatwoot.testar_conexao()->>'erro'")" 'acesso'
q zattar "UPDATE chatwoot.integracoes SET account_id = 1, default_inbox_id = 999 WHERE nome = 'padrao'" >/dev/null
is_like "inbox 999 reported" "$(q zattar "SELECT chatwoot.testar_conexao()->>'erro'")" 'inbox 999'
q zattar "UPDATE chatwoot.integracoes SET default_inbox_id = 1, api_url = 'http://127.0.0.1:$(free_port)' WHERE nome = 'padrao'" >/dev/null
is_like "unreachable URL reported" "$(q zattar "SELECT chatwoot.testar_conexao()->>'erro'")" 'conectar'
q zattar "UPDATE chatwoot.integracoes SET api_url = '$SIM_URL' WHERE nome = 'padrao'" >/dev/null
sim_faults '{"hang_ms": 20000}'
# Sample pg_stat_activity while a request hangs (the backend is inside testar_conexao).
( for _ in $(seq 1 8); do check_activity; sleep 0.1; done ) >"$IT_WORK/activity.samples" 2>&1 &
SAMPLER=$!
is_like "hang: timeout reported" \
  "$(printf "SET chatwoot_sync.request_timeout = '1s';\nSELECT chatwoot.testar_conexao()->>'erro';\n" | as postgres zattar)" 'sem resposta'
wait $SAMPLER
is_eq "sampled pg_stat_activity during a hanging request: no key" "$(sort -u "$IT_WORK/activity.samples")" "0"
is_like "hang + statement_timeout: cancelled" \
  "$(printf "SET statement_timeout = '300ms';\nSELECT chatwoot.testar_conexao();\n" | as postgres zattar)" 'statement timeout'
sim_clear_faults
sim_faults '{"non_json": true}'; q zattar "SELECT chatwoot.testar_conexao()" >/dev/null; sim_clear_faults
sim_faults '{"error_500_rate": 1}'; q zattar "SELECT chatwoot.testar_conexao()" >/dev/null; sim_clear_faults
sim_faults '{"throttle_next": 2}'; q zattar "SELECT chatwoot.testar_conexao()" >/dev/null; sim_clear_faults
# Validation errors with the key in the arguments (the key has a space: rejected).
out=$(configure_with_copy postgres ruim "$SIM_URL" 1 1 "$KEY x")
is_like "configurar rejects a key with a space" "$out" 'api_key'
if grep -q -- "$KEY" <<<"$out"; then not_ok "that error does not repeat the key"; else ok "that error does not repeat the key"; fi
out=$(configure_with_copy postgres ruim "ftp://x" 1 1 "$KEY")
is_like "configurar rejects a bad url with a good key" "$out" 'api_url'
if grep -q -- "$KEY" <<<"$out"; then not_ok "that error does not repeat the key"; else ok "that error does not repeat the key"; fi
# --- the worker syncing a contact with the wrong key: real requests, real 401s ---------
# Only the wrong key's connection is active: the worker itself uses the key, is
# refused, pauses the integration (a 401 no retry can fix spends no attempt) and says
# why, with no key in what it records.
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql >/dev/null
sim_mode '{"log_headers": true}' >/dev/null   # from here on the log shows every header sent
curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null
q zattar "UPDATE chatwoot.integracoes SET ativo = (nome = 'errada')" >/dev/null
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Chave Errada', '[\"chave.errada@example.com\"]')" >/dev/null
for _ in $(seq 1 10); do sample_activity; sleep 0.1; done
# paused: "true|<reason up to 'inválido'>" while the worker's integration is paused for good.
paused() {
  q zattar "SELECT (pausado_ate = 'infinity')::text || '|' || coalesce(motivo_pausa, '') FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'" |
    sed -E 's/(inválido).*/\1/'
}
# refused_requests: the worker's requests to the account's API answered 401 since the log was cleared.
refused_requests() { curl -sf "$SIM_CONTROL/__sim/requests" | jq '[.[] | select((.path | startswith("/api/v1/accounts/")) and .status == 401)] | length'; }
# client_waits NAME: its change waits with no attempt spent, as an outbox job or still in the change log.
client_waits() {
  q zattar "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM chatwoot.fila f WHERE f.tipo_entidade = 'cliente' AND f.entidade_id = c.id AND f.estado = 'pendente' AND f.tentativas = 0)
                                  OR EXISTS (SELECT 1 FROM chatwoot.mudancas m WHERE c.id = ANY (m.ids)))
                  || '|' || (SELECT count(*) FROM chatwoot.fila WHERE tentativas > 0)
              FROM clientes c WHERE c.nome = '$1'"
}
eventually_eq 30 "with the wrong key the worker is refused and pauses the integration, saying why" \
  "true|integração pausada: HTTP 401: token de API inválido" paused
is_eq "the change spent no attempt on the refusal (it waits; no job has an attempt)" "$(client_waits 'Chave Errada')" "1|0"
refused=$(refused_requests)
check "the worker sent a request with the wrong key and got a 401 ($refused)" test "${refused:-0}" -ge 1
is_eq "erros_sincronizacao lists the paused integration with its 401, and no key" \
  "$(q zattar "SELECT count(*) FILTER (WHERE origem = 'integracao' AND erro LIKE '%401%') || '/' ||
                      count(*) FILTER (WHERE erro LIKE '%SEGREDO-' || '%' OR erro LIKE '%WEBHOOK-' || 'SEGREDO%')
                 FROM chatwoot.erros_sincronizacao")" "1/0"
is_eq "the pause reason (integracoes.motivo_pausa, worker_status) carries no key" \
  "$(q zattar "SELECT (SELECT count(*) FROM chatwoot.integracoes WHERE motivo_pausa LIKE '%SEGREDO-' || '%') +
                      (SELECT count(*) FROM chatwoot.worker_status() WHERE motivo_pausa LIKE '%SEGREDO-' || '%')")" "0"
# No active row: the worker falls back to the deprecated settings, whose key is
# refused too: paused again (in the worker: there is no row to mark).
curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Chave Guc', '[\"chave.guc@example.com\"]')" >/dev/null
guc_refused() { [ "$(refused_requests)" -ge 1 ]; }
eventually 30 "with no active row the worker uses the api_key setting and is refused" guc_refused
eventually_eq 10 "and pauses, saying why" "true|integração pausada: HTTP 401: token de API inválido" paused
is_eq "neither change spent an attempt; the pause reason carries no key (nor the setting's)" \
  "$(client_waits 'Chave Guc')|$(q zattar "SELECT count(*) FROM chatwoot.worker_status() WHERE motivo_pausa LIKE '%SEGREDO-' || '%' OR motivo_pausa LIKE '%GUC-' || 'SEGREDO%'")" "1|0|0"
# worker_status().ultimo_erro: set while a job waits with no connection at all.
worker_error() { q zattar "SELECT coalesce(ultimo_erro, 'null') FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'"; }
worker_error_set() { [ "$(worker_error)" != null ]; }
q postgres "ALTER SYSTEM RESET chatwoot_sync.api_url" >/dev/null
reload_settings zattar
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Chave Certa', '[\"chave.certa@example.com\"]')" >/dev/null
eventually 10 "worker_status().ultimo_erro is set (a job waits, no connection is active)" worker_error_set
is_eq "worker_status.ultimo_erro carries no key" \
  "$(q zattar "SELECT count(*) FROM chatwoot.worker_status() WHERE ultimo_erro LIKE '%SEGREDO-' || '%' OR ultimo_erro LIKE '%WEBHOOK-' || 'SEGREDO%'")" "0"
# The right key again: the worker syncs that contact (filter with a query string, create).
q zattar "UPDATE chatwoot.integracoes SET ativo = (nome <> 'errada')" >/dev/null
q zattar "SELECT chatwoot.acordar_worker()" >/dev/null
eventually_eq 15 "with the right key the worker syncs the waiting contact" "concluido" \
  q zattar "SELECT f.estado FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Chave Certa'"
# Worker cycles with the configuration in place.
for _ in 1 2 3; do
  q zattar "SELECT chatwoot.acordar_worker(), chatwoot.aguardar_worker(3000, clock_timestamp())" >/dev/null
  sample_activity
done
is_eq "the worker cycles with the configuration in place" \
  "$(q zattar "SELECT chatwoot.aguardar_worker(3000, clock_timestamp())")" "t"
is_eq "testar_conexao works again at the end" "$(rc_ok)" "true"

# --- replies that quote the secrets: redacted from whatever is recorded ------------------------
# Chatwoot, or a proxy before it, may quote what it was sent. A 401 and a 422 whose bodies
# quote the webhook secret and the token header (echoed from the request): without the
# redaction, testar_conexao's report and the dead letter's error would hold both.
ECHO_BODY="recusado: webhook $WEBHOOK, cabecalho Api-Access-Token="
echo_reply() {  # echo_reply STATUS PATH_REGEX
  sim_faults "{\"reply\": {\"status\": $1, \"content_type\": \"text/plain\", \"body\": \"$ECHO_BODY\", \"echo_header\": \"Api-Access-Token\", \"path_regex\": \"$2\", \"count\": 1}}"
}
# redacted_both TEXT: the reply is quoted, each secret as [redacted], no piece of 8
# characters of either (the redaction's own rule; the two test secrets share "SEGREDO-").
redacted_both() {
  grep -qF "recusado: webhook [redacted]" <<<"$1" && grep -qF "Api-Access-Token=[redacted]" <<<"$1" &&
    ! grep -qF -e "${KEY:0:8}" -e "${WEBHOOK:0:8}" -e "${WEBHOOK: -8}" -e "${KEY: -8}" <<<"$1"
}
echo_reply 401 '/profile$'
out=$(q zattar "SELECT chatwoot.testar_conexao()->>'erro'")
sim_clear_faults
check "testar_conexao on a 401 quoting the token and the webhook secret: both redacted ($out)" redacted_both "$out"
echo_reply 422 '/contacts$'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco Segredos')" >/dev/null
echo_error() {
  q zattar "SELECT f.ultimo_erro FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente'
             WHERE c.nome = 'Eco Segredos' AND f.ultimo_erro LIKE '%recusado: webhook%'"
}
eventually 15 "the worker's create is answered with a 422 quoting both secrets" echo_error
sim_clear_faults
recorded="$(echo_error) | $(q zattar "SELECT string_agg(erro, ' | ') FROM chatwoot.erros_sincronizacao WHERE erro LIKE '%recusado: webhook%'")"
check "the job's error and erros_sincronizacao quote that reply with both secrets redacted ($recorded)" \
  redacted_both "$recorded"

# --- where the keys must not be ------------------------------------------------------------
# The worker's own statements run with search_path pinned to pg_catalog, pg_temp
# (worker.cpp): auto_explain (log_settings) prints it under each plan that ran so. This
# is the pin alone; worker_qualified_sql.sh proves the qualified SQL alone.
# (A log line's start is its date; mawk has no {n} in regular expressions.)
worker_plans=$(awk '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / { if (inplan) { n++; if (!pinned) bad++ }
                      inplan = /chatwoot_sync worker LOG: +([0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]: )?duration: .* plan:/; pinned = 0; next }
                    inplan && /^[ \t]*Settings: .*search_path = .pg_catalog, pg_temp./ { pinned = 1 }
                    END { if (inplan) { n++; if (!pinned) bad++ } print n + 0, bad + 0 }' "$LOG")
check "every plan the worker logged ran with search_path = 'pg_catalog, pg_temp' (plans, unpinned: $worker_plans)" \
  bash -c '[ "${1% *}" -ge 10 ] && [ "${1#* }" = 0 ]' _ "$worker_plans"
check "no key in pg_stat_activity.query of any backend, chatwoot workers included (sampled)" test "$ACTIVITY_LEAKS" = 0
is_eq "no key in the chatwoot processes' pg_stat_activity.query now" \
  "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'chatwoot%' AND $SECRET_SQL")" "0"
check "the log is verbose enough to catch leaks (statements and DEBUG1 lines were logged)" \
  bash -c "grep -q 'statement: SELECT chatwoot.testar_conexao' '$LOG' && grep -q 'DEBUG:' '$LOG'"
for secret in "$KEY" "$WRONG_KEY" "$FILIAL_KEY" "$WEBHOOK"; do
  n=$(grep -c -- "$secret" "$LOG")
  if [ "$n" = 0 ]; then ok "server log: $secret appears nowhere"
  else not_ok "server log: $secret appears nowhere ($n lines)"; grep -- "$secret" "$LOG" | head -5 | sed 's/^/#   /'; fi
done
# The GUC key was sent by the test in ALTER SYSTEM: those statement lines (and their
# continuation) are the test's own; anything else was written by the server.
leaks=$(grep -- "$GUC_KEY" "$LOG" | grep -v "statement: ALTER SYSTEM SET chatwoot_sync.api_key")
if [ -z "$leaks" ]; then ok "server log: the api_key setting's value appears only in the test's own ALTER SYSTEM statement"
else not_ok "server log: the api_key setting's value appears only in the test's own ALTER SYSTEM statement"; sed 's/^/#   /' <<<"$leaks" | head -5; fi
# The log since the wrong-key section: the worker's contact sync (with the wrong key,
# then the right one) and the testar_conexao calls after it.
reqs=$(curl -sf "$SIM_CONTROL/__sim/requests")
check "the simulator received the worker's contact requests, with their query string" \
  test "$(jq '[.[] | select(.path | endswith("/contacts/filter")) | select(.query | test("include_contact_inboxes"))] | length' <<<"$reqs")" -ge 3
if grep -qE -- "SEGREDO|WEBHOOK-" <<<"$reqs"; then not_ok "simulator request log (paths, queries, bodies): no key"
else ok "simulator request log (paths, queries, bodies): no key"; fi
# The simulator logs a query's api_access_token as [FILTERED]: the parameter's name is
# enough to see a key sent in the URL.
check "requests never carry the key in the URL query (no api_access_token parameter)" \
  test "$(jq '[.[] | select(.query | test("api_access_token|SEGREDO"))] | length' <<<"$reqs")" = 0
# The log holds every header of these requests (log_headers: the token header's value
# shows as [FILTERED], the query string unredacted as raw_query), so the "no key"
# check above covers headers and raw queries too. The key travels in one header,
# spelt Api-Access-Token (a proxy drops api_access_token), on every API request.
check "every API request logged with headers (the last 5 or more) carried Api-Access-Token and no api_access_token header" \
  test "$(jq '[.[] | select(.path | startswith("/api/v1/"))] | [length, (map(select(.headers["Api-Access-Token"] == "[FILTERED]" and (.headers | has("api_access_token") | not))) | length)] | "\(.[0] >= 5)|\(.[0] - .[1])"' -r <<<"$reqs")" = "true|0" \
  || jq -c '[.[] | select(.path | startswith("/api/v1/")) | select(.headers["Api-Access-Token"] != "[FILTERED]" or (.headers | has("api_access_token")))] | .[:3] | .[] | "#   \(.method) \(.path) \(.headers)"' -r <<<"$reqs"
check "the log kept raw queries (so a key in a URL would have been seen)" \
  test "$(jq '[.[] | select(.raw_query != null and (.raw_query | length) > 0)] | length' <<<"$reqs")" -ge 3

[ $IT_FAILED -eq 0 ]
