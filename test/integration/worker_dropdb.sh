#!/usr/bin/env bash
# DROP DATABASE of a served database stops its worker only when the drop is going to
# run (../shared/review/security-probe-026355c.md 7.3, T3-4): a login role with no
# rights, a drop inside a transaction block, the current database, an unknown name:
# each is refused by PostgreSQL and leaves the worker alone, so a loop of them cannot
# keep sync down. The owner's real drop (not a superuser) still stops it and succeeds.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"
plan 14

it_zattar dropdb "chatwoot_sync.poll_interval = '1s'"
LOG="$IT_DIR/server.log"
q zattar "CREATE ROLE ninguem LOGIN; CREATE ROLE dono LOGIN;
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
worker_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'"; }
exits() { grep -c 'is being dropped; worker exits' "$LOG"; }
as_role() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U "$1" -d "$2" -c "$3" 2>&1; }
eventually 30 "the fixture's clients are synced" queue_drained
WPID=$(worker_pid)
check "the worker runs (pid $WPID)" test -n "$WPID"

out=$(as_role ninguem postgres "DROP DATABASE zattar")
check "a login role with no rights: DROP DATABASE zattar is refused ($out)" grep -q 'must be owner' <<<"$out"
out=$(as_role ninguem postgres "BEGIN; DROP DATABASE zattar; COMMIT")
check "the same inside BEGIN is refused ($(head -1 <<<"$out"))" grep -q 'ERROR' <<<"$out"
# A client queued before a loop of refused drops, half of them inside BEGIN.
id=$(q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Durante os DROP DATABASE') RETURNING id")
for i in $(seq 1 10); do
  as_role ninguem postgres "DROP DATABASE zattar" >/dev/null
  as_role ninguem postgres "BEGIN; DROP DATABASE zattar; COMMIT" >/dev/null
done
check "after 22 refused drops the worker is the same process ($(worker_pid) = $WPID)" test "$(worker_pid)" = "$WPID"
check "no worker exit for a dropped database was logged" test "$(exits)" = 0
eventually_eq 20 "the client queued meanwhile is synced" t \
  q zattar "SELECT sincronizado FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = $id"

# The database's owner (not a superuser): refused while inside a transaction block, or
# connected to it, or naming a database that does not exist.
q postgres "ALTER DATABASE zattar OWNER TO dono" >/dev/null
out=$(as_role dono postgres "BEGIN; DROP DATABASE zattar; COMMIT")
check "the owner's DROP DATABASE inside BEGIN is refused ($(head -1 <<<"$out"))" grep -q 'transaction block' <<<"$out"
out=$(as_role dono zattar "DROP DATABASE zattar")
check "the owner's DROP DATABASE of the database it is connected to is refused" grep -q 'currently open database' <<<"$out"
as_role dono postgres "DROP DATABASE IF EXISTS zattar_nao_existe" >/dev/null
check "after those, the worker is still the same process" test "$(worker_pid)" = "$WPID"
check "and no worker exit was logged" test "$(exits)" = 0

# The owner's real drop stops the worker (the worker would make it fail) and succeeds.
started=$(date +%s%N)
out=$(timeout 15 psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U dono -d postgres -c "DROP DATABASE zattar" 2>&1)
rc=$?; elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
check "the owner's DROP DATABASE zattar succeeds in < 10 s (${elapsed} ms) $out" test $rc = 0 -a "$elapsed" -lt 10000
check "the database is gone" test "$(q postgres "SELECT count(*) FROM pg_database WHERE datname = 'zattar'")" = 0
check "its worker ($WPID) is gone" bash -c "[ ! -e /proc/$WPID ] || grep -qE '^[0-9]+ \(.*\) Z' /proc/$WPID/stat"
exit $IT_FAILED
