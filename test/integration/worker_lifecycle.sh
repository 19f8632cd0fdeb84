#!/usr/bin/env bash
# The launcher and the per-database workers over their whole life: start, idle
# without busy polling, SIGHUP reload, SIGTERM, kill -9 (crash recovery), DROP /
# CREATE EXTENSION, a rolled-back CREATE EXTENSION, an unlisted database,
# database_name changed by SIGHUP, DROP DATABASE of a served database, and a hot
# standby that starts serving only when promoted.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"

plan 57
it_cluster lifecycle \
  "chatwoot_sync.database_name = 'zattar,outro,observador'" \
  "chatwoot_sync.poll_interval = '1s'" || { not_ok "cluster starts"; exit 1; }
LOG="$IT_DIR/server.log"

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
log_count() { grep -c -- "$1" "$LOG"; }

# worker_status() of the shared registry, read through the real function in a database
# that keeps the extension throughout (observador, created below): the databases under
# test lose it with DROP EXTENSION. A copy of its declaration would drift from it.
st() { q observador "SELECT $2 FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = '$1'"; }

# Processes as PostgreSQL sees them.
launcher_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync launcher'"; }
worker_pid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = '$1'"; }
has_worker() { [ -n "$(worker_pid "$1")" ]; }
has_launcher() { [ -n "$(launcher_pid)" ]; }
no_worker() { local p; p=$(worker_pid "$1") && [ -z "$p" ]; }
process_gone() { [ ! -e "/proc/$1" ] || grep -qE '^[0-9]+ \(.*\) Z' "/proc/$1/stat" 2>/dev/null; }
known_and_gone() { [ -n "$1" ] && process_gone "$1"; }  # an empty pid is not a process that is gone
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }  # utime + stime
aguardar() { [ "$(q "$1" "SELECT chatwoot.aguardar_worker(${2:-1000})" 2>/dev/null)" = t ]; }

# --- start -------------------------------------------------------------------
eventually 10 "launcher runs at startup" has_launcher
check "launcher is visible in pg_stat_activity by backend_type and application_name" \
  test "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE '%chatwoot%'
                        AND application_name LIKE '%chatwoot%' AND backend_type LIKE '%launcher%'")" = 1
q postgres "CREATE DATABASE zattar" >/dev/null
q postgres "CREATE DATABASE outro" >/dev/null
q postgres "CREATE DATABASE observador" >/dev/null
q observador "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION in observador (st reads worker_status there)"; exit 1; }
check "CREATE EXTENSION in a listed database" q zattar "CREATE EXTENSION chatwoot_sync"
check "aguardar_worker(10000) is true" test "$(q zattar "SELECT chatwoot.aguardar_worker(10000)")" = t
check "worker for zattar visible in pg_stat_activity (backend_type, application_name)" \
  test "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE datname = 'zattar' AND backend_type LIKE '%chatwoot%worker%'
                        AND application_name LIKE '%chatwoot%'")" = 1
WPID=$(worker_pid zattar)
row=$(q zattar "SELECT banco, pid = ${WPID:-0}, estado IN ('ocioso', 'trabalhando'), iniciado_em <= now(),
                       ultimo_ciclo_em >= iniciado_em
                  FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'")
check "worker_status: banco, pid of pg_stat_activity, estado ocioso/trabalhando, iniciado_em, ultimo_ciclo_em ($row)" \
  test "$row" = "zattar|t|t|t|t"
check "worker_status has one launcher row with the launcher's pid" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE pid = $(launcher_pid) AND estado = 'ativo') || '/' || count(*)
                      FROM chatwoot.worker_status() WHERE processo = 'launcher'")" = "1/1"

# --- no busy polling -----------------------------------------------------------
LPID=$(launcher_pid)
w0=$(cpu_ticks "$WPID"); l0=$(cpu_ticks "$LPID")
sleep 3  # on purpose: idle time measured
w1=$(cpu_ticks "$WPID"); l1=$(cpu_ticks "$LPID")
check "idle worker uses < 5 CPU ticks in 3 s (used $((w1 - w0)))" test $((w1 - w0)) -lt 5
check "idle launcher uses < 5 CPU ticks in 3 s (used $((l1 - l0)))" test $((l1 - l0)) -lt 5
check "the idle worker still completes cycles on its poll (ultimo_ciclo_em within 2 s)" \
  test "$(q zattar "SELECT ultimo_ciclo_em > now() - interval '2 s' FROM chatwoot.worker_status() WHERE banco = 'zattar'")" = t

# --- SIGHUP --------------------------------------------------------------------
reloads=$(st zattar recargas_config)
q postgres "ALTER SYSTEM SET chatwoot_sync.poll_interval = '700ms'" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null
eventually_eq 5 "SIGHUP: recargas_config increments and intervalo_poll_ms becomes 700" t \
  q zattar "SELECT recargas_config > $reloads AND intervalo_poll_ms = 700 FROM chatwoot.worker_status() WHERE banco = 'zattar'"
check "SIGHUP: the worker is the same process" test "$(worker_pid zattar)" = "$WPID"

# --- SIGTERM -------------------------------------------------------------------
started=$(now_ms)
check "pg_terminate_backend(worker) succeeds" test "$(q postgres "SELECT pg_terminate_backend($WPID)")" = t
while ! process_gone "$WPID" && [ $(( $(now_ms) - started )) -lt 3000 ]; do sleep 0.02; done
elapsed=$(( $(now_ms) - started ))
check "SIGTERM: the worker process is gone within 1 s (took ${elapsed} ms)" test "$elapsed" -lt 1000
row=$(st zattar "estado || '|' || (pid IS NULL)")
check "SIGTERM: worker_status says estado 'parado', pid NULL ($row)" test "$row" = "parado|true"
eventually 15 "SIGTERM: the postmaster starts a new worker" \
  bash -c "p=\$(psql -X -A -t -q -h 127.0.0.1 -p $IT_PORT -U postgres -d postgres -c \"SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'\"); [ -n \"\$p\" ] && [ \"\$p\" != $WPID ]"
check "after SIGTERM: the new worker completes a cycle" aguardar zattar 5000
WPID=$(worker_pid zattar)
check "after SIGTERM: worker_status has the new pid" test "$(st zattar pid)" = "$WPID"

# --- kill -9: crash recovery ----------------------------------------------------
OLD_LPID=$(launcher_pid)
kill -9 "$WPID"
eventually 10 "kill -9 of the worker: the postmaster reinitializes (crash recovery)" \
  grep -q "all server processes terminated; reinitializing" "$LOG"
eventually 30 "kill -9: after recovery the worker runs again and aguardar_worker is true" aguardar zattar 1000
NEW_LPID=$(launcher_pid)
check "kill -9: a new launcher runs ($OLD_LPID -> $NEW_LPID)" test -n "$NEW_LPID" -a "$NEW_LPID" != "$OLD_LPID"
WPID=$(worker_pid zattar)
check "kill -9: worker_status shows the new worker (registry rebuilt)" \
  test "$(st zattar "pid = ${WPID:-0} AND estado IN ('ocioso', 'trabalhando')")" = t

# --- DROP / CREATE EXTENSION ----------------------------------------------------
# With a long poll, a prompt exit proves the commit wakes the worker.
q postgres "ALTER SYSTEM SET chatwoot_sync.poll_interval = '60s'" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null
eventually_eq 5 "poll_interval 60s applied" 60000 st zattar intervalo_poll_ms
WPID=$(worker_pid zattar)
LPID=$(launcher_pid)
POSTMASTER=$(head -1 "$IT_DIR/data/postmaster.pid")
q zattar "DROP EXTENSION chatwoot_sync" >/dev/null
started=$(now_ms)
while ! { process_gone "$WPID" && [ "$(st zattar estado)" = sem_extensao ]; } && [ $(( $(now_ms) - started )) -lt 5000 ]; do
  sleep 0.05
done
elapsed=$(( $(now_ms) - started ))
check "DROP EXTENSION: the worker exits within 3 s with a 60 s poll (took ${elapsed} ms)" test "$elapsed" -lt 3000
check "DROP EXTENSION: worker_status estado sem_extensao, pid NULL" \
  test "$(st zattar "estado || '|' || (pid IS NULL)")" = "sem_extensao|true"
sleep 1  # on purpose: a worker restarted by mistake would show within it
check "DROP EXTENSION: no worker runs for the database afterwards" no_worker zattar
q zattar "CREATE EXTENSION chatwoot_sync" >/dev/null
started=$(now_ms)
check "CREATE EXTENSION again: the worker runs and cycles within 3 s" \
  test "$(q zattar "SELECT chatwoot.aguardar_worker(3000)")" = t
check "CREATE EXTENSION again: no restart (same postmaster and launcher)" \
  test "$(head -1 "$IT_DIR/data/postmaster.pid")/$(launcher_pid)" = "$POSTMASTER/$LPID"
q postgres "ALTER SYSTEM SET chatwoot_sync.poll_interval = '1s'" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null

# --- a rolled-back CREATE EXTENSION ---------------------------------------------
eventually 5 "outro has no worker before the test" no_worker outro
started_outro=$(log_count 'worker started for database "outro"')
iniciado_outro=$(st outro "coalesce(iniciado_em::text, '-')")
q outro "BEGIN; CREATE EXTENSION chatwoot_sync; ROLLBACK;" >/dev/null
deadline=$((SECONDS + 2)); seen=0
while [ $SECONDS -lt $deadline ]; do has_worker outro && seen=1; sleep 0.05; done
check "ROLLBACK of CREATE EXTENSION: no worker for outro in 2 s" test $seen = 0
check "ROLLBACK of CREATE EXTENSION: no worker was even started (log, iniciado_em)" \
  test "$(log_count 'worker started for database "outro"')|$(st outro "coalesce(iniciado_em::text, '-')")" = "$started_outro|$iniciado_outro"
check "ROLLBACK of CREATE EXTENSION: the extension is not there" \
  test "$(q outro "SELECT count(*) FROM pg_extension WHERE extname = 'chatwoot_sync'")" = 0

# --- a database not listed -------------------------------------------------------
q postgres "CREATE DATABASE naolistado" >/dev/null
out=$(qe naolistado "CREATE EXTENSION chatwoot_sync")
check "CREATE EXTENSION in an unlisted database fails mentioning chatwoot_sync.database_name ($(head -1 <<<"$out"))" \
  bash -c '[[ "$1" == *ERROR* && "$1" == *chatwoot_sync.database_name* ]]' _ "$out"
check "unlisted database: the extension is not installed" \
  test "$(q naolistado "SELECT count(*) FROM pg_extension WHERE extname = 'chatwoot_sync'")" = 0

# --- database_name changed by SIGHUP -----------------------------------------------
q postgres "CREATE DATABASE terceiro" >/dev/null
q postgres "ALTER SYSTEM SET chatwoot_sync.database_name = 'zattar,outro,terceiro,observador'" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null
eventually 5 "database_name reloaded" bash -c "[[ \"\$(psql -X -A -t -q -h 127.0.0.1 -p $IT_PORT -U postgres -d terceiro -c 'SHOW chatwoot_sync.database_name')\" == *terceiro* ]]"
check "CREATE EXTENSION in a database added by SIGHUP" q terceiro "CREATE EXTENSION chatwoot_sync"
eventually 3 "the added database gets a worker" aguardar terceiro 200
TPID=$(worker_pid terceiro)
ZPID=$(worker_pid zattar)
started_terceiro=$(log_count 'worker started for database "terceiro"')
q postgres "ALTER SYSTEM SET chatwoot_sync.database_name = 'zattar,outro,observador'" >/dev/null
q postgres "SELECT pg_reload_conf()" >/dev/null
eventually 5 "removing a database from database_name by SIGHUP makes its worker exit" \
  bash -c "[ ! -e /proc/$TPID ] || grep -qE '^[0-9]+ \(.*\) Z' /proc/$TPID/stat"
# The slot shows 'parado' until the launcher's next scan forgets databases it no longer serves.
# An empty answer must be "no row", not a failed query.
removed_status=$(st terceiro "coalesce(pid::text, 'null') || '|' || estado"); removed_rc=$?
check "the removed database's worker_status shows no running worker (parado, or forgotten; query rc $removed_rc: '$removed_status')" \
  bash -c "[ $removed_rc = 0 ] && { [ '$removed_status' = 'null|parado' ] || [ -z '$removed_status' ]; }"
check "the other databases' worker is untouched" test "$(worker_pid zattar)" = "$ZPID"

# --- hot standby ------------------------------------------------------------------
SDIR="$IT_WORK/standby"; SPORT=$(free_port)
mkdir -p "$SDIR"; chown postgres:postgres "$SDIR"
if as_postgres "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$IT_PORT" -U postgres -D "$SDIR/data" -R -X stream -c fast \
     >"$SDIR/basebackup.log" 2>&1; then
  ok "pg_basebackup of the primary"
else
  not_ok "pg_basebackup of the primary: $(tail -3 "$SDIR/basebackup.log")"
fi
rm -f "$SDIR/data/postmaster.pid"
printf "port = %s\nunix_socket_directories = '%s'\n" "$SPORT" "$SDIR" >> "$SDIR/data/postgresql.conf"
chown postgres:postgres "$SDIR/data/postgresql.conf"
check "standby starts" cluster_start "$SDIR"
sq() { psql -X -A -t -q -h 127.0.0.1 -p "$SPORT" -U postgres -d "$1" -c "$2"; }
check "standby is in recovery" test "$(sq postgres "SELECT pg_is_in_recovery()")" = t
sleep 2  # on purpose: time for a launcher started by mistake to show
check "standby runs no chatwoot launcher or worker" \
  test "$(sq postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE '%chatwoot%' OR application_name LIKE '%chatwoot%'")" = 0
check "standby: worker_status shows no running launcher" \
  test "$(sq zattar "SELECT coalesce(pid::text, 'null') || '|' || estado FROM chatwoot.worker_status() WHERE processo = 'launcher'")" = "null|parado"
check "pg_promote() on the standby" test "$(sq postgres "SELECT pg_promote()")" = t
eventually 15 "promoted: the launcher starts" \
  bash -c "[ \"\$(psql -X -A -t -q -h 127.0.0.1 -p $SPORT -U postgres -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync launcher'\")\" = 1 ]"
eventually 15 "promoted: a worker for zattar runs and aguardar_worker is true" \
  bash -c "[ \"\$(psql -X -A -t -q -h 127.0.0.1 -p $SPORT -U postgres -d zattar -c 'SELECT chatwoot.aguardar_worker(1000)')\" = t ]"
check "promoted: the worker is in pg_stat_activity" \
  test "$(sq postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'")" = 1
cluster_stop "$SDIR" immediate

# --- DROP DATABASE of served databases -----------------------------------------------
q outro "CREATE EXTENSION chatwoot_sync" >/dev/null
eventually 5 "outro gets a worker after CREATE EXTENSION" aguardar outro 200
started=$(now_ms)
out=$(timeout 15 psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d postgres -c "DROP DATABASE outro" 2>&1)
rc=$?; elapsed=$(( $(now_ms) - started ))
check "DROP DATABASE (without FORCE) of a served database succeeds in < 10 s (${elapsed} ms) $out" \
  test $rc = 0 -a "$elapsed" -lt 10000
ZPID=$(worker_pid zattar)
started=$(now_ms)
out=$(timeout 15 psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d postgres -c "DROP DATABASE zattar WITH (FORCE)" 2>&1)
rc=$?; elapsed=$(( $(now_ms) - started ))
check "DROP DATABASE zattar WITH (FORCE) succeeds in < 10 s (${elapsed} ms) $out" test $rc = 0 -a "$elapsed" -lt 10000
check "DROP DATABASE: the served worker (pid '$ZPID') is gone" known_and_gone "$ZPID"
# The observer's worker goes too, so that none at all may be left below.
q postgres "DROP DATABASE observador WITH (FORCE)" >/dev/null
# The postmaster restarts a worker 5 s after a non-zero exit: none may come back.
sleep 6
check "after DROP DATABASE and database_name removal: no chatwoot worker is left or restarted" \
  test "$(q postgres "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker'")" = 0
check "the worker removed from database_name was not restarted" \
  test "$(log_count 'worker started for database "terceiro"')" = "$started_terceiro"
check "the launcher still runs" test -n "$(launcher_pid)"
check "no worker reported an ERROR or crashed (server log read)" \
  bash -c "[ -s '$LOG' ] && ! grep -E '\"chatwoot_sync (launcher|worker)\" \(PID [0-9]+\) (exited with exit code [^01]|was terminated by signal [^9])|chatwoot_sync (launcher|worker) (ERROR|PANIC):' '$LOG'"

[ $IT_FAILED -eq 0 ]
