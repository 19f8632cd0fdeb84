#!/usr/bin/env bash
# chatwoot.testar_conexao() against the Chatwoot simulator: success, every kind of
# failure it must explain (token, account, inbox, unreachable, not JSON, 5xx, 429,
# timeout, cancel, down, TLS), the deprecated GUC fallback, and configurar's
# validation as a client sees it.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"

plan 48
SSL_PID=""
trap '[ -n "$SSL_PID" ] && kill "$SSL_PID" 2>/dev/null && wait "$SSL_PID" 2>/dev/null; it_cleanup' EXIT

it_cluster connection "chatwoot_sync.database_name = 'zattar'" || { not_ok "cluster starts"; exit 1; }
sim_start || { not_ok "simulator starts"; exit 1; }
q postgres "CREATE DATABASE zattar" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql >/dev/null \
  || { not_ok "the app's schema loads"; exit 1; }
q zattar "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION"; exit 1; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# psql session reading SQL from stdin; stdout+stderr (notices, errors).
session() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar 2>&1; }
# tc [SQL before] FIELDS: one testar_conexao() call; prints the selected fields of its report r.
tc() {
  local setup="$1" fields="$2"
  printf '%s\nSELECT %s FROM chatwoot.testar_conexao() r;\n' "$setup" "$fields" | session
}
configurar() { q zattar "SELECT chatwoot.configurar($1)" >/dev/null; }
is_eq() {  # is_eq DESCRIPTION GOT EXPECTED
  if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:      $2"; echo "#   expected: $3"; fi
}
is_like() {  # is_like DESCRIPTION GOT EXTENDED-REGEX
  if grep -qE -- "$3" <<<"$2"; then ok "$1"; echo "#   $(tr '\n' ' ' <<<"$2")"; else not_ok "$1"; echo "#   got: $2"; echo "#   expected to match: $3"; fi
}
requests() { curl -sf "$SIM_CONTROL/__sim/requests"; }
clear_requests() { curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null; }

# --- a job waiting with no connection: the worker says so, and stops saying so ------
# The worker writes "no active connection" only when jobs wait, and clears it only
# when it completes jobs: queue one before any connection exists.
worker_error() { q zattar "SELECT coalesce(ultimo_erro, 'null') FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'"; }
worker_says_no_connection() { [[ "$(worker_error)" == *"nenhuma integração ativa"* ]]; }
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Sem Conexao', '[\"semconexao@example.com\"]')" >/dev/null
q zattar "SELECT chatwoot.acordar_worker()" >/dev/null
eventually 10 "a job waits and no connection is active: worker_status().ultimo_erro says there is none" worker_says_no_connection
# A worker that cannot send does no per-commit work: the change stays in the change
# log (shown by fila_resumo as a pending 'mudanca'), not turned into an outbox job.
is_eq "meanwhile the change waits, untouched: one pending 'mudanca' in fila_resumo, no outbox job" \
  "$(q zattar "SELECT string_agg(estado || '/' || tipo || '/' || quantidade, ',') FROM chatwoot.fila_resumo")|$(q zattar "SELECT count(*) FROM chatwoot.fila")" "pendente/mudanca/1|0"
configurar "'$SIM_URL', 'sim-admin-token', 1, 1"
q zattar "SELECT chatwoot.acordar_worker()" >/dev/null
eventually_eq 15 "once a connection is active the job drains" "concluido" q zattar "SELECT string_agg(estado, ',') FROM chatwoot.fila"
eventually_eq 5 "with an active connection and the job done, the worker's ultimo_erro is cleared" "null" worker_error

# --- success -------------------------------------------------------------------
clear_requests
got=$(tc "" "r->>'ok', r->>'status', r->>'account_id', r->'inbox'->>'id', r->'inbox'->>'name', r->>'account_name', r->>'role', coalesce(r->>'erro', 'null'), r ? 'origem'")
is_eq "valid connection: ok true, status 200, account_id 1, inbox 1 'Zattar API', account name, role, no erro" \
  "$got" "true|200|1|1|Zattar API|Zattar Advocacia|administrator|null|f"
log=$(requests)
is_eq "testar_conexao made exactly GET /api/v1/profile then GET /api/v1/accounts/1/inboxes" \
  "$(jq -r '[.[] | .method + " " + .path] | join(",")' <<<"$log")" "GET /api/v1/profile,GET /api/v1/accounts/1/inboxes"
got=$(q zattar "SELECT r->>'ok' FROM chatwoot.testar_conexao((SELECT id FROM chatwoot.integracoes WHERE nome = 'padrao')) r")
is_eq "testar_conexao(id) tests that connection" "$got" "true"

# --- wrong token / account / inbox ------------------------------------------------
configurar "'$SIM_URL', 'token-errado-123', 1, 1"
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "wrong token: ok false, status 401, erro mentions the token" "$got" '^false\|401\|.*token'
report=$(tc "" "r::text")
if grep -q 'token-errado-123' <<<"$report" || [ -z "$report" ]; then not_ok "wrong token: the whole report does not echo the key ($report)"
else ok "wrong token: the whole report does not echo the key"; fi

configurar "'$SIM_URL', 'sim-admin-token', 999, 1"
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "account 999: ok false, status 404, erro says not found (404)" "$got" '^false\|404\|.*404'

configurar "'$SIM_URL', 'sim-admin-token', 2, 1"
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "account 2 (not a member): ok false, 401, erro about access to account 2" "$got" '^false\|401\|.*acesso.*conta 2'

configurar "'$SIM_URL', 'sim-admin-token', 1, 999"
got=$(tc "" "r->>'ok', r->>'status', r->>'erro', coalesce(r->>'inbox', 'null')")
is_like "inbox 999: ok false, erro mentions the inbox" "$got" '^false\|200\|.*inbox 999.*\|null$'

configurar "'$SIM_URL', 'sim-admin-token', 1"
got=$(tc "" "r->>'ok', coalesce(r->>'inbox', 'null')")
is_eq "no default inbox: ok true, inbox null" "$got" "true|null"

# --- unreachable ------------------------------------------------------------------
DEAD_PORT=$(free_port)
configurar "'http://127.0.0.1:$DEAD_PORT', 'sim-admin-token', 1, 1"
started=$(now_ms)
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
elapsed=$(( $(now_ms) - started ))
is_like "nothing listening: ok false, erro mentions conectar" "$got" '^false\|0\|.*conectar'
check "nothing listening: answers quickly (< 2 s, took ${elapsed} ms)" test "$elapsed" -lt 2000

# --- simulator faults ----------------------------------------------------------------
configurar "'$SIM_URL', 'sim-admin-token', 1, 1"
sim_faults '{"non_json": true}'
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "non-JSON answer: ok false, erro mentions JSON" "$got" '^false\|200\|.*JSON'
sim_clear_faults

sim_faults '{"error_500_rate": 1}'
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "HTTP 500: ok false, status 500" "$got" '^false\|500\|.*500'
sim_clear_faults

sim_faults '{"throttle_next": 1}'
got=$(tc "" "r->>'ok', r->>'status', r->>'erro'")
is_like "throttled: ok false, status 429, erro mentions 429" "$got" '^false\|429\|.*429'
sim_clear_faults
is_eq "after the faults are cleared: ok true" "$(tc "" "r->>'ok'")" "true"

# --- timeout and cancel ------------------------------------------------------------
sim_faults '{"hang_ms": 30000}'
started=$(now_ms)
got=$(tc "SET chatwoot_sync.request_timeout = '1s';" "r->>'ok', r->>'status', r->>'erro'")
elapsed=$(( $(now_ms) - started ))
is_like "hang with request_timeout 1s: ok false, erro is a timeout" "$got" '^false\|0\|.*(sem resposta|tempo|timeout).*1000 ms'
check "hang with request_timeout 1s: returns within 2 s (took ${elapsed} ms)" test "$elapsed" -lt 2000 -a "$elapsed" -ge 900

# The time is the server's, from just before the statement to just after its error:
# the timeout's 300 ms plus how long testar_conexao takes to notice the interrupt
# (docs/SQL.md: within 100 ms).
out=$(session <<'SQL'
SET chatwoot_sync.request_timeout = '10s';
SELECT pg_backend_pid() AS antes \gset
SET statement_timeout = '300ms';
SELECT clock_timestamp() AS t0 \gset
SELECT chatwoot.testar_conexao();
SELECT 'elapsed=' || round(extract(epoch FROM clock_timestamp() - :'t0') * 1000);
SET statement_timeout = 0;
SELECT 1 + 1, pg_backend_pid() = :antes;
SQL
)
elapsed=$(sed -nE 's/^elapsed=([0-9]+)$/\1/p' <<<"$out")
is_like "statement_timeout 300ms cancels testar_conexao" "$out" 'canceling statement due to statement timeout'
check "statement_timeout: the call ends 300-400 ms after it started (interrupted within 100 ms; took ${elapsed:-?} ms)" \
  test "${elapsed:-0}" -ge 300 -a "${elapsed:-9999}" -lt 400
is_like "statement_timeout: the same backend still works afterwards" "$out" '^2\|t$'

# A cancel from another session (pg_cancel_backend) interrupts it too.
# The cancel-to-return time is the server's: from just after pg_cancel_backend() returned
# to the cancelled session's next statement (docs/SQL.md: within 100 ms).
# The session prints its backend's pid first: that pid, and no other, is cancelled.
session <<'SQL' >"$IT_WORK/cancel.out" &
SET chatwoot_sync.request_timeout = '20s';
SELECT 'backend_pid=' || pg_backend_pid();
SELECT chatwoot.testar_conexao();
SELECT 'returned_at=' || round(extract(epoch FROM clock_timestamp()) * 1000);
SELECT 'ainda_vivo';
SQL
CANCEL_PSQL=$!
CANCEL_BACKEND=""
for _ in $(seq 1 50); do
  CANCEL_BACKEND=$(sed -nE 's/^backend_pid=([0-9]+)$/\1/p' "$IT_WORK/cancel.out")
  [ -n "$CANCEL_BACKEND" ] && [ "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE pid = $CANCEL_BACKEND AND state = 'active'")" = 1 ] && break
  sleep 0.05
done
sleep 0.3  # on purpose: the request hangs a while in testar_conexao before the cancel
cancelled_at=$(q postgres "SELECT pg_cancel_backend(${CANCEL_BACKEND:-0})::text || ' ' || round(extract(epoch FROM clock_timestamp()) * 1000)")
for _ in $(seq 1 100); do kill -0 "$CANCEL_PSQL" 2>/dev/null || break; sleep 0.1; done
kill "$CANCEL_PSQL" 2>/dev/null; wait "$CANCEL_PSQL"
out=$(cat "$IT_WORK/cancel.out")
returned_at=$(sed -nE 's/^returned_at=([0-9]+)$/\1/p' <<<"$out")
elapsed=$(( ${returned_at:-999999} - ${cancelled_at#* } ))
is_like "pg_cancel_backend interrupts a hanging testar_conexao" "$out" 'canceling statement due to user request'
check "pg_cancel_backend: the call returns within 100 ms of the cancel (cancel: '$cancelled_at', took ${elapsed} ms)" \
  test "${cancelled_at% *}" = true -a "$elapsed" -ge 0 -a "$elapsed" -lt 100
is_like "pg_cancel_backend: the backend still works afterwards" "$out" 'ainda_vivo'
sim_clear_faults

# --- down and back up ---------------------------------------------------------------
sim_faults '{"down": true}'
got=$(tc "" "r->>'ok', r->>'erro'")
is_like "simulator down: ok false, erro mentions conectar" "$got" '^false\|.*conectar'
sim_faults '{"down": false}'
eventually 5 "simulator back up: ok true again" bash -c "[ \"\$(psql -X -A -t -q -h 127.0.0.1 -p $IT_PORT -U postgres -d zattar -c \"SELECT chatwoot.testar_conexao()->>'ok'\")\" = true ]"
check "the backend survived every failure (no server crash; server log read)" bash -c "[ -s '$IT_DIR/server.log' ] && ! grep -qE 'terminated by signal|server process .* exited with exit code [^0]' '$IT_DIR/server.log'"

# --- deprecated GUC fallback -----------------------------------------------------------
q zattar "DELETE FROM chatwoot.integracoes" >/dev/null
got=$(tc "" "r->>'ok', r->>'erro'")
is_like "no connection and no fallback: ok false, erro points to configurar" "$got" '^false\|.*configurar'
out=$(tc "SET chatwoot_sync.api_url = '$SIM_URL'; SET chatwoot_sync.api_key = 'sim-admin-token'; SET chatwoot_sync.account_id = 1; SET chatwoot_sync.default_inbox_id = 1;" \
         "r->>'ok', r->>'status', r->'inbox'->>'id', r->>'origem'")
is_like "GUC fallback: ok true, inbox 1, origem guc" "$out" '^true\|200\|1\|guc$'
is_like "GUC fallback: a NOTICE says the settings are obsolete (obsoleta)" "$out" 'NOTICE: .*obsoleta'
configurar "'$SIM_URL', 'sim-admin-token', 1, 1"
out=$(tc "SET chatwoot_sync.api_url = 'http://127.0.0.1:$DEAD_PORT'; SET chatwoot_sync.api_key = 'x'; SET chatwoot_sync.account_id = 1;" \
         "r->>'ok', r ? 'origem'")
is_eq "a row in integracoes wins over the GUCs (no notice, no origem)" "$out" "true|f"

# --- TLS -------------------------------------------------------------------------------
TLS_DIR="$IT_WORK/tls"; mkdir -p "$TLS_DIR"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" >/dev/null 2>&1
TLS_PORT=$(free_port)
openssl s_server -accept "$TLS_PORT" -cert "$TLS_DIR/cert.pem" -key "$TLS_DIR/key.pem" -www -quiet \
  >"$TLS_DIR/s_server.log" 2>&1 </dev/null &
SSL_PID=$!
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$TLS_PORT") 2>/dev/null && break; sleep 0.1; done
configurar "'https://127.0.0.1:$TLS_PORT', 'sim-admin-token', 1, 1"
got=$(tc "" "r->>'ok', r->>'erro'")
is_like "self-signed certificate: ok false, erro about TLS / the certificate (verified by default)" "$got" '^false\|.*(TLS|certificado)'
got=$(tc "SET chatwoot_sync.tls_verify = off;" "r->>'ok', r->>'status', r->>'erro'")
if grep -qE 'TLS|certificado' <<<"$got"; then not_ok "tls_verify = off: the erro is no longer about TLS ($got)"
else ok "tls_verify = off: the erro is no longer about TLS"; fi
is_like "tls_verify = off: the TLS server was reached over https (it answers HTML: not JSON)" "$got" '^false\|200\|.*JSON'
kill "$SSL_PID" 2>/dev/null; wait "$SSL_PID" 2>/dev/null; SSL_PID=""

# --- configurar rejects bad input (22023), never echoing the key ----------------------------
rows=$(q zattar "SELECT count(*) || '/' || max(updated_at) FROM chatwoot.integracoes")
reject() {  # reject DESCRIPTION ARGS
  local out
  out=$(printf '\\set VERBOSITY verbose\nSELECT chatwoot.configurar(%s);\n' "$2" | session)
  if grep -q 'ERROR:  22023:' <<<"$out" && ! grep -q 'CHAVE-CONEXAO-7777' <<<"$out"; then ok "$1"
  else not_ok "$1"; echo "#   got: $out"; fi
}
reject "configurar rejects 'ftp://x' (22023, key not echoed)" "'ftp://x', 'CHAVE-CONEXAO-7777', 1"
reject "configurar rejects 'not a url'" "'not a url', 'CHAVE-CONEXAO-7777', 1"
reject "configurar rejects an empty url" "'', 'CHAVE-CONEXAO-7777', 1"
reject "configurar rejects an empty key" "'$SIM_URL', '', 1"
reject "configurar rejects a space-only key" "'$SIM_URL', '    ', 1"
reject "configurar rejects a key with a space (key not echoed)" "'$SIM_URL', 'CHAVE-CONEXAO-7777 x', 1"
reject "configurar rejects account_id 0" "'$SIM_URL', 'CHAVE-CONEXAO-7777', 0"
reject "configurar rejects account_id -1" "'$SIM_URL', 'CHAVE-CONEXAO-7777', -1"
reject "configurar rejects default_inbox_id 0" "'$SIM_URL', 'CHAVE-CONEXAO-7777', 1, 0"
is_eq "the rejected calls changed nothing" "$(q zattar "SELECT count(*) || '/' || max(updated_at) FROM chatwoot.integracoes")" "$rows"
out=$(printf "SELECT chatwoot.configurar('ftp://x', 'CHAVE-CONEXAO-7777', 1);\n" | session)
is_like "the error tells what a valid api_url looks like" "$out" 'ERROR:  api_url inválida: .*https://'

[ $IT_FAILED -eq 0 ]
