#!/usr/bin/env bash
# What the extension stores stays valid, bounded and secret-free, and what it accepts
# stays sane, whatever a server, a proxy or the app's data holds
# (../shared/review/security-probe-a030d9f.md, D7-D11, D13-D14; issue 9 §3-4): replies
# with invalid UTF-8, NUL bytes and a token echoed back; a megabyte phone; a 3 GB
# reply; a Retry-After of 31 years; hostile URLs; the key set with log_statement = all;
# and a worker that cannot send doing no work per commit.
source "$(dirname "$0")/../lib/integration.sh"
plan 77

it_zattar replies "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.max_backoff = '3s'" \
  "chatwoot_sync.max_attempts = 2" "log_statement = 'all'"
q zattar "CREATE ROLE app_zattar LOGIN; ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          SELECT chatwoot.conceder_acesso_app('app_zattar'); SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
qa() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar -c "$1" 2>&1; }
b64() { printf "$1" | base64 -w0; }
KEY=sim-admin-token

# --- replies with invalid UTF-8, NUL bytes, a character split at byte 300 -------------------------
# 422s: dead letters, so the texts stay (fila.ultimo_erro, partes_chatwoot.erro_sincronizacao);
# a retried 500 goes through the same recording.
body_ff=$(b64 '{"message":"inv\xffalido \xc3\x28"}')
body_nul=$(b64 'erro\x00com NUL')
split=$(b64 "$(printf 'a%.0s' $(seq 1 299))\xc3\xa7$(printf 'b%.0s' $(seq 1 40))")
sim_set_faults "{\"reply\": {\"status\": 422, \"body_base64\": \"$body_nul\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Nul')" >/dev/null
eventually_eq 15 "a 422 with a NUL byte is recorded" t q zattar "SELECT count(*) > 0 FROM chatwoot.fila WHERE ultimo_erro LIKE '%erro%com NUL%'"
sim_set_faults "{\"reply\": {\"status\": 422, \"body_base64\": \"$split\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Corte')" >/dev/null
eventually_eq 15 "a 422 whose 300th byte splits a character is recorded" t q zattar "SELECT count(*) > 0 FROM chatwoot.fila WHERE ultimo_erro LIKE '%aaaa%'"
sim_set_faults "{\"reply\": {\"status\": 422, \"content_type\": \"application/json\", \"body_base64\": \"$body_ff\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Invalido')" >/dev/null
eventually_eq 15 "a 422 with invalid UTF-8 makes a dead letter, the third" t q zattar "SELECT count(*) = 3 FROM chatwoot.fila WHERE estado = 'morto'"
sim_clear_faults
valid_text() {  # every stored text converts to UTF-8 and holds no NUL byte
  q zattar "SELECT count(*) FROM (SELECT ultimo_erro AS t FROM chatwoot.fila UNION ALL SELECT erro_sincronizacao FROM chatwoot.partes_chatwoot) x
            WHERE t IS NOT NULL AND position('\\x00'::bytea IN convert_to(t, 'UTF8')) = 0"
}
check "every stored error text is valid UTF-8 without NUL (convert_to succeeds on each of $(q zattar "SELECT count(*) FROM chatwoot.fila WHERE ultimo_erro IS NOT NULL"))" \
  test "$(valid_text)" = "$(q zattar "SELECT count(*) FROM (SELECT ultimo_erro AS t FROM chatwoot.fila UNION ALL SELECT erro_sincronizacao FROM chatwoot.partes_chatwoot) x WHERE t IS NOT NULL")"
check "the reply is quoted up to about 300 bytes, cut at a character boundary" \
  test "$(q zattar "SELECT bool_and(octet_length(ultimo_erro) <= 340) FROM chatwoot.fila WHERE ultimo_erro LIKE '%aaaa%'")" = t
psql -X -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -c "COPY chatwoot.fila TO STDOUT" >"$IT_WORK/fila.copy"
psql -X -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -c "COPY chatwoot.partes_chatwoot TO STDOUT" >"$IT_WORK/partes.copy"
out=$( { cat "$IT_WORK/fila.copy" | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar \
           -c "CREATE TABLE copia_fila (LIKE chatwoot.fila)" -c "COPY copia_fila FROM STDIN" &&
         cat "$IT_WORK/partes.copy" | psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar \
           -c "CREATE TABLE copia_partes (LIKE chatwoot.partes_chatwoot)" -c "COPY copia_partes FROM STDIN"; } 2>&1)
check "the outbox and the mappings dump and load back (COPY out, COPY in)" test -z "$out"

# --- the app's own data: a megabyte phone, an odd e-mail ----------------------------------------
qa "INSERT INTO clientes (tipo_pessoa, nome, ddd_celular, numero_celular, emails)
    VALUES ('pf', 'Fone enorme', '11', repeat('9', 1048576), jsonb_build_object('a', repeat('ç', 50)))" >/dev/null
eventually 20 "the party with a 1 MB phone is synced" queue_drained
check "its recorded problems quote only an excerpt ($(q zattar "SELECT octet_length(erro_sincronizacao) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Fone enorme'") bytes)" \
  test "$(q zattar "SELECT octet_length(erro_sincronizacao) < 400 AND erro_sincronizacao LIKE '%telefone%' AND erro_sincronizacao LIKE '%email%'
                    FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Fone enorme'")" = t
check "...in valid UTF-8" test "$(valid_text)" -gt 0

# --- a reply that echoes the token: redacted before the app can read it ---------------------------
sim_set_faults '{"reply": {"status": 422, "content_type": "text/plain", "body": "invalid request, header Api-Access-Token=", "echo_header": "Api-Access-Token", "count": 1}}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco')" >/dev/null
eventually_eq 15 "the echoing 422 makes a dead letter" t q zattar "SELECT count(*) > 0 FROM chatwoot.fila WHERE ultimo_erro LIKE '%invalid request%'"
sim_clear_faults
seen=$(qa "SELECT string_agg(erro, ' | ') FROM chatwoot.erros_sincronizacao")
check "the app role reads the error, with the key redacted" \
  bash -c "grep -q 'Api-Access-Token=\[redacted\]' <<<\"\$1\" && ! grep -q '$KEY' <<<\"\$1\"" _ "$seen"

# --- T3-7: a reply that echoes a secret so that the stored excerpt's cut falls inside it ------------
# A 422 message is quoted up to 300 bytes, a 401 error up to 200: each secret is redacted from the
# whole reply first, so the app role reads no piece (8+ first characters) of the key or the webhook
# secret in erros_sincronizacao, in the pause reason, or in testar_conexao's erro.
WHSEC=whsec-integ-Q7n2Lp9x
q zattar "SELECT chatwoot.configurar('$SIM_URL', '$KEY', 1, 1, webhook_secret => '$WHSEC'${IT_BUDGET:+, limite_requisicoes => $IT_BUDGET, janela_limite_s => 60})" >/dev/null
q zattar "ALTER SYSTEM SET chatwoot_sync.max_attempts = 20" >/dev/null; q zattar "SELECT pg_reload_conf()" >/dev/null
no_piece() { ! grep -qF -e "${KEY:0:8}" -e "${WHSEC:0:8}" <<<"$1"; }
xs() { printf 'x%.0s' $(seq 1 "$1"); }
# $1 straddles byte 297 (the cut keeps 297 bytes and an ellipsis): all but its last character.
echo_across() { local n=$(( $2 - 3 - ${#1} + 1 )); printf '{\\"%s\\":\\"%s%s (header echoed by the proxy)\\"}' "$3" "$(xs $n)" "$1"; }
sim_set_faults "{\"reply\": {\"status\": 422, \"content_type\": \"application/json\", \"body\": \"$(echo_across "$KEY" 300 message)\", \"path_regex\": \"/contacts$\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco corte chave')" >/dev/null
eventually_eq 15 "a 422 whose message echoes the key across the 300-byte cut makes a dead letter" t \
  q zattar "SELECT count(*) = 1 FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Eco corte chave' AND f.estado = 'morto'"
sim_set_faults "{\"reply\": {\"status\": 422, \"content_type\": \"application/json\", \"body\": \"$(echo_across "$WHSEC" 300 message)\", \"path_regex\": \"/contacts$\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco corte segredo')" >/dev/null
eventually_eq 15 "a 422 whose message echoes the webhook secret across the cut makes a dead letter" t \
  q zattar "SELECT count(*) = 1 FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Eco corte segredo' AND f.estado = 'morto'"
sim_set_faults "{\"reply\": {\"status\": 401, \"content_type\": \"application/json\", \"body\": \"$(echo_across "$KEY" 200 error)\", \"path_regex\": \"/contacts$\", \"count\": 1}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Eco corte 401')" >/dev/null
eventually_eq 15 "a 401 whose error echoes the key across the 200-byte cut pauses the integration" t \
  q zattar "SELECT pausada_em IS NOT NULL AND motivo_pausa LIKE 'HTTP 401: xxx%' FROM chatwoot.integracoes WHERE nome = 'padrao'"
seen=$(qa "SELECT string_agg(erro, ' | ') FROM chatwoot.erros_sincronizacao WHERE erro LIKE '%HTTP 4%xxxx%'")
check "the app role reads the three errors in erros_sincronizacao, with no piece of the key or the webhook secret" \
  bash -c "[ \$(grep -o 'HTTP 4[02][12]: xxx' <<<\"\$1\" | wc -l) -ge 3 ] && ! grep -qF -e '${KEY:0:8}' -e '${WHSEC:0:8}' <<<\"\$1\"" _ "$seen"
sim_set_faults "{\"reply\": {\"status\": 401, \"content_type\": \"application/json\", \"body\": \"$(echo_across "$WHSEC" 200 error)\", \"path_regex\": \"/profile$\", \"count\": 1}}"
out=$(qa "SELECT chatwoot.testar_conexao()->>'erro'")
check "testar_conexao, as the app role, on a 401 echoing the webhook secret across the cut: no piece of it ($(tail -c 60 <<<"$out"))" \
  bash -c "grep -q '^HTTP 401: xxx' <<<\"\$1\" && ! grep -qF -e '${KEY:0:8}' -e '${WHSEC:0:8}' <<<\"\$1\"" _ "$out"
sim_clear_faults >/dev/null
q zattar "SELECT chatwoot.configurar('$SIM_URL', '$KEY', 1, 1, webhook_secret => '$WHSEC'${IT_BUDGET:+, limite_requisicoes => $IT_BUDGET, janela_limite_s => 60})" >/dev/null  # ends the pause
eventually 20 "once reconfigured, the paused job drains" queue_drained

# --- T3-11: a lookup answered 2xx with a body that cannot be read is retried, never "no contact" ---
# (probe rows 5.1-5.3): for each, the job waits with a retry that says so, and no POST /contacts is
# sent; once the lookups are readable again, each party's contact is created exactly once.
unreadable_state() {  # "<pending with the unreadable-lookup error> <POST /contacts sent>" for party $1
  echo "$(q zattar "SELECT estado = 'pendente' AND tentativas >= 1 AND ultimo_erro LIKE 'resposta ilegível da busca de contato%'
                      FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = '$1'")" \
       "$(requests_json | jq '[.[] | select(.method == "POST" and (.path | test("/contacts$")))] | length')"
}
unreadable() {  # unreadable MODE BODY
  local nome="Ilegivel $1"
  clear_requests
  sim_set_faults "{\"reply\": {\"status\": 200, \"content_type\": \"application/json\", \"body_base64\": \"$(printf '%s' "$2" | base64 -w0)\", \"path_regex\": \"/contacts/filter\"}}"
  q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', '$nome')" >/dev/null
  eventually_eq 20 "$1: the lookup's unreadable 2xx is a retry (pending, its error says so), with 0 POST /contacts" "t 0" \
    unreadable_state "$nome"
}
unreadable html '<html><body>Please wait...</body></html>'
unreadable deep "$(printf '[%.0s' $(seq 1 3000))$(printf ']%.0s' $(seq 1 3000))"
unreadable bigid '{"meta":{"count":1},"payload":[{"id":99999999999999999999999,"identifier":"x"}]}'
unreadable strid '{"meta":{"count":1},"payload":[{"id":"1001","identifier":"x"}]}'
unreadable negid '{"meta":{"count":1},"payload":[{"id":-1001,"identifier":"x"}]}'
unreadable floatid '{"meta":{"count":1},"payload":[{"id":1001.5,"identifier":"x"}]}'
unreadable dupkeys '{"payload":[{"id":1,"identifier":"x"}],"payload":[]}'
unreadable nopayload '{"meta":{"count":0}}'
clear_requests
sim_clear_faults >/dev/null
eventually 30 "once the lookups are readable, the 8 jobs drain" queue_drained
summary=$(creates_summary "$(requests_json)")
check "...and each of the 8 parties got its contact created exactly once ($summary)" creates_ok "$summary" 8

# --- T3-11: a redirect is not followed, and is a retry that names the Location (probe row 5.5) ----
clear_requests
sim_set_faults "{\"reply\": {\"status\": 302, \"content_type\": \"application/json\", \"body\": \"{}\", \"headers\": {\"Location\": \"http://127.0.0.2:9/entrar?token=$KEY\"}, \"path_regex\": \"/contacts/filter\"}}"
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Redirecionado')" >/dev/null
eventually_eq 20 "a 302 on the lookup leaves the job pending with a retry whose error names the Location (key redacted)" t \
  q zattar "SELECT estado = 'pendente' AND tentativas >= 1 AND ultimo_erro LIKE 'HTTP 302: redirecionamento para ''http://127.0.0.2:9/entrar?token=[redacted]''%'
              FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Redirecionado'"
sim_set_faults "{\"reply\": {\"status\": 302, \"content_type\": \"application/json\", \"body\": \"{}\", \"headers\": {\"Location\": \"https://chat.example.com/api/v1/profile\"}, \"path_regex\": \"/profile$\", \"count\": 1}}"
out=$(qa "SELECT chatwoot.testar_conexao()->>'erro'")
check "testar_conexao names the redirect and its Location ($out)" \
  bash -c "grep -qF \"HTTP 302: redirecionamento para 'https://chat.example.com/api/v1/profile'\" <<<\"\$1\"" _ "$out"
sim_clear_faults >/dev/null
eventually 30 "once the redirect is gone, the redirected job drains" queue_drained
q zattar "ALTER SYSTEM SET chatwoot_sync.max_attempts = 2" >/dev/null; q zattar "SELECT pg_reload_conf()" >/dev/null

# --- a 3 GB reply: cut off at max_response_size (4 MB), memory flat, in the backend and the worker ---
sim_set_faults '{"reply": {"status": 200, "content_type": "application/json", "body": "[1111111111111111111111111111111111111111111111111111111111111111,", "repeat": 50000000}}'
started=$(date +%s%3N)
out=$(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar 2>&1 <<'SQL'
SET statement_timeout = '10s';
SELECT chatwoot.testar_conexao()->>'erro';
SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1];
SQL
)
elapsed=$(( $(date +%s%3N) - started ))
# The limit the message names, as the server has it (the setting is in kB).
limit=$(q zattar "SELECT setting::bigint * 1024 FROM pg_settings WHERE name = 'chatwoot_sync.max_response_size' AND unit = 'kB'")
check "testar_conexao on a 3 GB reply says it is too large, over ${limit:-?} bytes (took ${elapsed} ms)" \
  bash -c "[ -n '$limit' ] && grep -q 'resposta maior que $limit bytes' <<<\"\$1\" && [ $elapsed -lt 5000 ]" _ "$out"
hwm=$(tail -1 <<<"$out")
check "the backend's peak memory stayed under 100 MB (${hwm} kB)" test "${hwm:-999999}" -lt 102400
wpid=$(q zattar "SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker'")
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Grande ' || g FROM generate_series(1, 8) g" >/dev/null
eventually_eq 30 "the worker's jobs against the 3 GB replies fail as too large" t \
  q zattar "SELECT count(*) >= 8 FROM chatwoot.fila WHERE ultimo_erro LIKE '%resposta maior que%'"
check "the worker's peak memory stayed under 150 MB ($(awk '/VmHWM/ {print $2}' /proc/$wpid/status) kB)" \
  test "$(awk '/VmHWM/ {print $2}' "/proc/$wpid/status")" -lt 153600
sim_clear_faults
eventually 30 "once the replies are sane the jobs drain" queue_drained

# --- a Retry-After of 31 years is clamped to the backoff cap (3 s here), and shown -----------------
sim_set_faults '{"reply": {"status": 429, "content_type": "text/plain", "body": "Retry later\n", "headers": {"Retry-After": "999999999"}, "count": 3}}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Depois do 429')" >/dev/null
eventually_eq 10 "worker_status shows the pause, no longer than the cap" t \
  q zattar "SELECT pausado_ate BETWEEN now() AND now() + interval '4 s' AND motivo_pausa LIKE '%limite%' FROM chatwoot.worker_status() WHERE processo = 'worker'"
eventually 30 "the worker resumes by itself and the job drains" queue_drained
check "the 429s cost the job no attempt" \
  test "$(q zattar "SELECT tentativas FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome = 'Depois do 429'")" = 1

# --- configurar refuses hostile URLs -----------------------------------------------------------
refused() {  # refused DESCRIPTION URL
  local out; out=$(printf '\\set VERBOSITY verbose\nSELECT chatwoot.configurar(%s, %s, 1, 1, %s);\n' "$2" "'$KEY'" "'hostil'" |
                   psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar 2>&1)
  if grep -q 'ERROR:  22023' <<<"$out"; then ok "$1"; else not_ok "$1"; echo "#   got: $(head -c 300 <<<"$out")"; fi
}
refused "configurar refuses a control character in the host" "E'http://127.0.0.1\\x01:25480'"
refused "configurar refuses port 99999" "'http://127.0.0.1:99999'"
refused "configurar refuses a 1 MB URL" "'https://chat.example.com/' || repeat('a', 1048576)"
refused "configurar refuses the cloud metadata address" "'http://169.254.169.254/latest/meta-data'"
refused "configurar refuses a metadata host name" "'http://metadata.google.internal'"
refused "configurar refuses IPv4 written as one number" "'http://2130706433'"
refused "configurar refuses IPv4 written in hex" "'http://0x7f000001'"
check "with chatwoot_sync.allow_link_local_addresses on, a link-local URL is accepted" \
  test "$(printf "SET chatwoot_sync.allow_link_local_addresses = on;\nSELECT chatwoot.configurar('http://169.254.10.10', 'k-e-y-1', 1, NULL, 'link_local') > 0;\n" |
          psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar)" = t
q zattar "DELETE FROM chatwoot.integracoes WHERE nome = 'link_local'" >/dev/null

# --- the documented way to set the key leaves no trace in the log, even with log_statement = all ----
PART1="CHAVE-NUNCA-"; PART2="NO-LOG-31415"; SECRET="$PART1$PART2"  # no statement of the test holds it whole
printf '%s\n' "$SECRET" >"$IT_WORK/chave"
psql -X -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar >/dev/null 2>&1 <<SQL
CREATE TEMP TABLE chave (api_key text);
\copy chave FROM '$IT_WORK/chave'
SELECT chatwoot.configurar('ftp://errada', (SELECT api_key FROM chave), 1, 1, 'doc');
SELECT chatwoot.configurar('$SIM_URL', (SELECT api_key FROM chave), 1, 1, 'doc');
SQL
check "the key was stored by that way" test "$(q zattar "SELECT api_key = '$PART1' || '$PART2' FROM chatwoot.integracoes WHERE nome = 'doc'")" = t
check "the log has the statements (log_statement = all) and the refusal" \
  bash -c "grep -q 'statement: SELECT chatwoot.configurar' '$IT_DIR/server.log' && grep -q 'api_url inválida' '$IT_DIR/server.log'"
check "the key appears nowhere in the server log" bash -c "! grep -q '$SECRET' '$IT_DIR/server.log'"
q zattar "DELETE FROM chatwoot.integracoes WHERE nome = 'doc'" >/dev/null

# --- a worker that cannot send does no work per commit ----------------------------------------
worker_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$(q zattar "SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker'")/stat"; }
# commits N: N single-row INSERT transactions by the app, from 4 sessions at once (pgbench).
# A worker woken by each commit spent 8-11 ticks on 8,000 (the code before the change
# log); one that does nothing per commit spends 0, plus at most a poll cycle or two.
printf "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Sem envio');\n" >"$IT_WORK/commit.sql"
# Prints how many rows they added (so a check cannot pass on commits that never happened).
sin_envio() { q zattar "SELECT count(*) FROM clientes WHERE nome = 'Sem envio'"; }
commits() {
  local before; before=$(sin_envio)
  "$PG_BINDIR/pgbench" -n -c 4 -j 2 -t $(($1 / 4)) -f "$IT_WORK/commit.sql" -h 127.0.0.1 -p "$IT_PORT" -U app_zattar zattar >/dev/null 2>&1
  echo $(( $(sin_envio) - before ))
}
# Every due job backing off (Chatwoot answers 500 to everything): the worker waits the
# backoff out, and commits meanwhile wake it no more than when it has no connection.
q zattar "ALTER SYSTEM SET chatwoot_sync.max_attempts = 20" >/dev/null
q zattar "ALTER SYSTEM SET chatwoot_sync.max_backoff = '60s'" >/dev/null
q zattar "SELECT pg_reload_conf()" >/dev/null
sim_set_faults '{"error_500_rate": 1}'
qa "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Recua')" >/dev/null
# After the 5th failed attempt the backoff is about 16 s (+-20 %): time for 8,000 commits.
eventually_eq 60 "with every attempt failing, worker_status shows the worker backing off" t \
  q zattar "SELECT bool_and(f.tentativas >= 5) AND bool_and(w.motivo_pausa LIKE 'todas as tentativas recentes falharam%' AND w.pausado_ate > clock_timestamp() + interval '6 s')
              FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id, chatwoot.worker_status() w
             WHERE f.tipo_entidade = 'cliente' AND c.nome = 'Recua' AND w.processo = 'worker'"
until_ms=$(q zattar "SELECT (extract(epoch FROM pausado_ate) * 1000)::bigint FROM chatwoot.worker_status() WHERE processo = 'worker'")
t0=$(worker_ticks); added=$(commits 8000); t1=$(worker_ticks); done_ms=$(date +%s%3N)
check "backing off, 8,000 commits from 4 sessions cost the worker next to nothing ($added rows, $((t1 - t0)) ticks, done $((until_ms - done_ms)) ms before the backoff ended)" \
  test "$added" = 8000 -a $((t1 - t0)) -lt 4 -a "$done_ms" -lt "$until_ms"
sim_clear_faults
eventually 90 "they drain once Chatwoot answers again" queue_drained
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null
worker_cycled zattar  # it has seen that no connection is active
t0=$(worker_ticks); added=$(commits 8000); t1=$(worker_ticks)
check "with no connection, 8,000 commits from 4 sessions cost the worker next to nothing ($added rows, $((t1 - t0)) ticks)" \
  test "$added" = 8000 -a $((t1 - t0)) -lt 4
sim_set_faults '{"reply": {"status": 401, "content_type": "application/json", "body": "{\"error\":\"Account is suspended\"}"}}'
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
eventually_eq 20 "a 401 pauses the integration, in worker_status" t \
  q zattar "SELECT motivo_pausa LIKE '%suspensa%' AND pausado_ate = 'infinity' FROM chatwoot.worker_status() WHERE processo = 'worker'"
worker_cycled zattar  # the cycle that paused it is over
t0=$(worker_ticks); added=$(commits 8000); t1=$(worker_ticks)
check "paused, 8,000 commits from 4 sessions cost the worker next to nothing ($added rows, $((t1 - t0)) ticks)" \
  test "$added" = 8000 -a $((t1 - t0)) -lt 4
sim_clear_faults
exit $IT_FAILED
