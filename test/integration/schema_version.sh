#!/usr/bin/env bash
# The library refuses to run against a schema of another version (one .so serves
# every database; each is upgraded on its own by ALTER EXTENSION chatwoot_sync
# UPDATE). An older schema is faked by rewriting pg_extension.extversion: the worker
# then drains nothing and says why in worker_status(), the SQL functions refuse with
# the same words, and the app's writes still succeed and are still recorded; with the
# version put back the worker drains what waited.
source "$(dirname "$0")/../lib/integration.sh"
plan 20

it_zattar schema "chatwoot_sync.poll_interval = '1s'"
LIB_VERSION=$(sed -nE "s/^default_version *= *'([^']+)'.*/\\1/p" chatwoot_sync.control)
OLD_VERSION=0.0.1
status() { q zattar "SELECT $1 FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'"; }
request_count() { requests_json | jq 'length'; }
pending_job() { q zattar "SELECT estado FROM chatwoot.fila WHERE id = $1"; }

q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Versao Antes', '[\"antes@example.com\"]')" >/dev/null
eventually 30 "with the schema at the library's version ($LIB_VERSION) the worker drains" queue_drained

check "a superuser fakes an older schema (extversion $OLD_VERSION)" \
  q zattar "UPDATE pg_extension SET extversion = '$OLD_VERSION' WHERE extname = 'chatwoot_sync'"
q zattar "SELECT chatwoot.acordar_worker()" >/dev/null
eventually_eq 10 "worker_status: estado esquema_desatualizado" esquema_desatualizado status estado
msg=$(status ultimo_erro)
check "worker_status.ultimo_erro names both versions and the ALTER command ($msg)" \
  grep -qF "versão $OLD_VERSION e a biblioteca na versão $LIB_VERSION: execute ALTER EXTENSION chatwoot_sync UPDATE" <<<"$msg"
check "worker_status.avisos says the same" grep -qF "ALTER EXTENSION chatwoot_sync UPDATE" <<<"$(status avisos)"

clear_requests
check "an app INSERT into a tracked table still succeeds" \
  q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Versao Durante', '[\"durante@example.com\"]')"
check "the trigger still recorded it in the change log" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.mudancas")" -ge 1
JOB=$(q zattar "SELECT chatwoot.sincronizar_parte('cliente', (SELECT id FROM clientes WHERE nome = 'Versao Antes'))")
check "a job can still be queued by SQL (job $JOB)" test -n "$JOB"
sleep 3   # three poll intervals, and the wakes of the commits above
check "the queued job stays pendente" test "$(pending_job "$JOB")" = pendente
check "the change log is not drained" test "$(q zattar "SELECT count(*) FROM chatwoot.mudancas")" -ge 1
check "Chatwoot received no request" test "$(request_count)" = 0
check "worker_status still says esquema_desatualizado (rechecked every cycle)" test "$(status estado)" = esquema_desatualizado

refusal() {  # refusal SQL: the NOTICE with the SQLSTATE and message of the refusal
  qe zattar "DO \$\$ BEGIN PERFORM $1; RAISE NOTICE 'no refusal';
             EXCEPTION WHEN object_not_in_prerequisite_state THEN RAISE NOTICE 'recusa: %', SQLERRM; END \$\$"
}
out=$(refusal "chatwoot.testar_conexao()")
check "testar_conexao refuses (object_not_in_prerequisite_state) naming both versions and the ALTER ($out)" \
  grep -qF "recusa: o esquema chatwoot_sync está na versão $OLD_VERSION e a biblioteca na versão $LIB_VERSION: execute ALTER EXTENSION chatwoot_sync UPDATE" <<<"$out"
out=$(refusal "chatwoot.drenar_mudancas()")
check "drenar_mudancas refuses the same way ($out)" grep -qF "recusa: o esquema chatwoot_sync está na versão $OLD_VERSION" <<<"$out"
check "the refused drenar_mudancas drained nothing" test "$(q zattar "SELECT count(*) FROM chatwoot.mudancas")" -ge 1
check "acordar_worker still works (shared memory only)" test "$(q zattar "SELECT chatwoot.acordar_worker()")" = t

check "the version is put back" \
  q zattar "UPDATE pg_extension SET extversion = '$LIB_VERSION' WHERE extname = 'chatwoot_sync'"
q zattar "SELECT chatwoot.acordar_worker()" >/dev/null
eventually 30 "the worker drains what waited" queue_drained
check "worker_status: a normal estado again, the version's message gone ($(status "estado || '|' || coalesce(ultimo_erro, '')"))" \
  test "$(status "estado IN ('ocioso', 'trabalhando') AND coalesce(ultimo_erro, '') NOT LIKE '%ALTER EXTENSION%' AND coalesce(avisos, '') NOT LIKE '%ALTER EXTENSION%'")" = t
check "Chatwoot now received the requests (and the party written meanwhile is mapped)" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id
                    WHERE p.tipo_entidade = 'cliente' AND c.nome = 'Versao Durante' AND p.sincronizado")" = 1 -a "$(request_count)" -gt 0
exit $IT_FAILED
