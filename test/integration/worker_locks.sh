#!/usr/bin/env bash
# One lock or open transaction of the app never stops the rest (issue 17, T3-2; probe
# ../shared/review/security-probe-026355c.md 3.6-3.7, p06 L1-L3): the app holds
# terceiros in ACCESS EXCLUSIVE mode, leaves a transaction idle after
# sincronizar_parte, leaves a prepared transaction holding queue rows, or alters
# clientes in a long transaction. The affected kind waits and says why; every other
# party keeps syncing within seconds; cancel and terminate reach the worker at any
# time; waiting for a lock burns no attempts. Every app session here is bounded
# (timeout, pg_sleep) and ended by this script.
source "$(dirname "$0")/../lib/integration.sh"
plan 21

it_zattar locks "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'" \
  "max_prepared_transactions = 5"
q zattar "CREATE ROLE app_zattar LOGIN; GRANT CREATE ON SCHEMA public TO app_zattar;
          ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE partes_contrarias OWNER TO app_zattar;
          ALTER TABLE terceiros OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          INSERT INTO clientes (tipo_pessoa, nome, emails)
          SELECT 'pf', 'Cliente Numero ' || g, jsonb_build_array('cliente' || g || '@example.com') FROM generate_series(4, 9) g;
          SELECT chatwoot.conceder_acesso_app('app_zattar');
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro'), chatwoot.sincronizar_app_para_chatwoot()" >/dev/null

APP_PSQL=(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar)
qa() { "${APP_PSQL[@]}" -c "$1" 2>&1; }
BG_PIDS=()
# The app's background sessions end by themselves (timeout, pg_sleep) and are ended here too.
locks_cleanup() {
  exec 7>&- 2>/dev/null
  for p in "${BG_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  it_cleanup
}
trap locks_cleanup EXIT
# app_session NAME SQL: runs SQL as the app in the background (bounded by `timeout`).
app_session() {
  PGAPPNAME="$1" timeout 150 "${APP_PSQL[@]}" -c "$2" >"$IT_WORK/$1.out" 2>&1 &
  BG_PIDS+=($!)
}
end_session() {  # NAME: cancels its statement (its transaction rolls back), waits for the psql
  q postgres "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = '$1'" >/dev/null
  wait_for 20 session_gone "$1"
}
session_gone() { [ -z "$(q postgres "SELECT 1 FROM pg_stat_activity WHERE application_name = '$1'")" ]; }
wait_for() { local deadline=$((SECONDS + $1)); shift; while [ $SECONDS -le $deadline ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
holds_exclusive() {  # SESSION TABLE
  [ "$(q zattar "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                    WHERE a.application_name = '$1' AND l.relation = '$2'::regclass AND l.mode = 'AccessExclusiveLock' AND l.granted" 2>/dev/null)" = 1 ]
}
wpid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'"; }
worker_gone() { [ -z "$(q postgres "SELECT 1 FROM pg_stat_activity WHERE pid = $1")" ]; }
new_worker_since() { local p; p=$(wpid); [ -n "$p" ] && [ "$p" != "$1" ]; }
new_client() { q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', '$1') RETURNING id"; }
synced() { sim_contacts | jq -e --arg i "zattar_$1_$2" 'any(.[]; .identifier == $i)' >/dev/null; }
sim_field() { sim_contacts | jq -r --arg i "zattar_$1_$2" ".[] | select(.identifier == \$i) | $3"; }
job_state() { q zattar "SELECT estado || '|' || (tentativas <= 2)::text FROM chatwoot.fila WHERE id = $1"; }
eventually 60 "the fixture's parties are synced" queue_drained

# --- L1: the app holds terceiros in ACCESS EXCLUSIVE mode while a terceiro job is due --------------
app_session trava_l1 "BEGIN; LOCK TABLE terceiros IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(90); COMMIT"
wait_for 20 holds_exclusive trava_l1 terceiros
job=$(qa "SELECT chatwoot.sincronizar_parte('terceiro', 1)")
check "the app holds ACCESS EXCLUSIVE on terceiros, and a terceiro job ($job) is due" \
  bash -c '[[ "$1" =~ ^[0-9]+$ ]] && "$2"' _ "$job" "$(holds_exclusive trava_l1 terceiros && echo true || echo false)"
c=$(new_client 'Cliente Durante a Trava A')
eventually 10 "a client inserted during the lock syncs within 10 s" synced cliente "$c"
blocked_said() {
  local s; s=$(q zattar "SELECT coalesce(avisos, '') || ' ' || coalesce(ultimo_erro, '') FROM chatwoot.worker_status() WHERE processo = 'worker'")
  grep -qi 'terceiros' <<<"$s" && grep -qi 'bloquead' <<<"$s"
}
eventually 20 "worker_status says terceiros is bloqueada (avisos or ultimo_erro) while the job waits" blocked_said
WPID=$(wpid)
check "pg_cancel_backend(worker) returns while the lock is held" \
  test "$(timeout 10 psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d postgres -c "SELECT pg_cancel_backend(${WPID:-0})")" = t
c=$(new_client 'Cliente Depois do Cancel')
eventually 10 "after the cancel the worker keeps serving: a new client syncs within 10 s" synced cliente "$c"
c=$(new_client 'Cliente Durante a Trava C')
eventually 10 "another client inserted during the lock syncs within 10 s" synced cliente "$c"
end_session trava_l1
eventually_eq 30 "after the lock ends the terceiro job completes, with at most 2 attempts (waiting burns none)" "concluido|true" \
  job_state "${job:-0}"

# --- L2: an app transaction left idle after sincronizar_parte -----------------------------------
mkfifo "$IT_WORK/ocioso_l2.fifo"
PGAPPNAME=ocioso_l2 timeout 150 "${APP_PSQL[@]}" -f "$IT_WORK/ocioso_l2.fifo" >"$IT_WORK/ocioso_l2.out" 2>&1 &
BG_PIDS+=($!)
L2_PID=$!
exec 7<>"$IT_WORK/ocioso_l2.fifo"
echo "BEGIN; SELECT chatwoot.sincronizar_parte('cliente', 5), chatwoot.sincronizar_parte('cliente', 9);" >&7
eventually_eq 20 "an app session is idle in transaction after sincronizar_parte('cliente', 5)" "idle in transaction" \
  q postgres "SELECT state FROM pg_stat_activity WHERE application_name = 'ocioso_l2'"
# Client 5's own edit meets that session's uncommitted job (the probe's case); client 6
# and a new client must not wait behind it.
# Client 9 is edited in the same statement, then deleted: its changes must reach the queue
# in their order (the deletion last), though the first one is taken apart.
qa "UPDATE clientes SET nome = nome || ' (editado)' WHERE id IN (5, 6, 9)" >/dev/null
qa "DELETE FROM clientes WHERE id = 9" >/dev/null
c=$(new_client 'Cliente Durante a Transacao Aberta')
eventually_eq 10 "client 6's edit reaches Chatwoot within 10 s" "Cliente Numero 6 (editado)" sim_field cliente 6 .name
eventually 10 "a client inserted meanwhile syncs within 10 s" synced cliente "$c"
echo "ROLLBACK;" >&7
exec 7>&-
wait_for 20 session_gone ocioso_l2
eventually_eq 20 "when that transaction ends, client 5's edit syncs too" "Cliente Numero 5 (editado)" sim_field cliente 5 .name
released_9() { sim_contacts | jq -r '[.[] | select((.identifier // "") | startswith("zattar_cliente_9-removido-")) | .custom_attributes.ativo] | join(",")'; }
eventually_eq 20 "and client 9, edited then deleted meanwhile, ends released in Chatwoot (-removido-, ativo false): its changes kept their order" false \
  released_9

# --- L2: a prepared transaction left open with queue rows --------------------------------------
out=$(qa "BEGIN; SELECT chatwoot.desincronizar('cliente', 7); SELECT chatwoot.sincronizar_parte('cliente', 8); PREPARE TRANSACTION 'p1'")
[ "$(q zattar "SELECT count(*) FROM pg_prepared_xacts WHERE gid = 'p1'")" = 1 ] || echo "# PREPARE TRANSACTION failed: $out"
qa "UPDATE clientes SET nome = nome || ' (editado)' WHERE id = 8" >/dev/null
c=$(new_client 'Cliente Durante o Prepared')
eventually 10 "with a prepared transaction holding queue rows (desincronizar 7, sincronizar_parte 8), a new client syncs within 10 s" \
  synced cliente "$c"
WPID=$(wpid)
q postgres "SELECT pg_terminate_backend(${WPID:-0})" >/dev/null
eventually 10 "pg_terminate_backend of the worker ends it within 10 s meanwhile" worker_gone "${WPID:-0}"
eventually 30 "a new worker starts" new_worker_since "${WPID:-0}"
q zattar "COMMIT PREPARED 'p1'" >/dev/null
eventually_eq 30 "after COMMIT PREPARED, client 7's contact is inactive in Chatwoot (ativo false)" false \
  sim_field cliente 7 .custom_attributes.ativo
for gid in $(q zattar "SELECT gid FROM pg_prepared_xacts"); do q zattar "ROLLBACK PREPARED '$gid'" >/dev/null; done

# --- L3: ALTER TABLE clientes in a long transaction, with a client job due ----------------------
app_session altera_l3 "BEGIN; ALTER TABLE clientes ADD COLUMN x integer; SELECT pg_sleep(90); ROLLBACK"
wait_for 20 holds_exclusive altera_l3 clientes
job=$(qa "SELECT chatwoot.sincronizar_parte('cliente', 4)")
check "the app's open ALTER TABLE holds clientes in ACCESS EXCLUSIVE mode, and a client job ($job) is due" \
  bash -c '[[ "$1" =~ ^[0-9]+$ ]] && "$2"' _ "$job" "$(holds_exclusive altera_l3 clientes && echo true || echo false)"
for n in 1 2; do
  p=$(q zattar "INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Contraria Durante o ALTER $n') RETURNING id")
  eventually 10 "a parte contraria ($n of 2) inserted meanwhile syncs within 10 s" synced parte_contraria "$p"
done
end_session altera_l3
eventually_eq 30 "after the ALTER rolls back the client job completes, with at most 2 attempts" "concluido|true" job_state "${job:-0}"
exit $IT_FAILED
