#!/usr/bin/env bash
# A streaming standby (pg_basebackup) promoted while the primary is draining the
# queue carries on with nothing lost: the outbox is WAL-logged and replicated, and
# the promoted server's worker requeues the jobs the old primary had in flight.
source "$(dirname "$0")/../lib/integration.sh"

it_zattar primary "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.request_timeout = '1s'"
PRIMARY_DIR=$IT_DIR; PRIMARY_PORT=$IT_PORT
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null

SDIR="$IT_WORK/standby"; SPORT=$(free_port)
mkdir -p "$SDIR"; chown postgres:postgres "$SDIR"
as_postgres "$PG_BINDIR/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$SDIR/data" -R -X stream -c fast \
  >"$SDIR/basebackup.log" 2>&1 || { not_ok "pg_basebackup"; exit 1; }
echo "port = $SPORT" >> "$SDIR/data/postgresql.auto.conf"
cluster_start "$SDIR" || { not_ok "standby starts"; exit 1; }
ok "a streaming standby of the primary runs"

# Slow Chatwoot down so the drain is still going when the primary dies.
sim_faults '{"latency_ms": 40}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', 'Failover ' || g, jsonb_build_array('failover' || g || '@example.com') FROM generate_series(1, 1500) g" >/dev/null
# Wait until the first batch is recorded, so the primary dies with work both done and in flight.
for _ in $(seq 1 200); do
  done_before=$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'concluido' AND tipo_entidade = 'cliente'")
  [ "$done_before" -gt 0 ] && break; sleep 0.1
done
check "the primary was mid-drain when it died (some done, not all: $done_before)" \
  bash -c "[ $done_before -gt 0 ] && [ $done_before -lt 1500 ]"
# Let the standby catch up on what the primary committed, then kill the primary.
for _ in $(seq 1 50); do
  lag=$(psql -X -At -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -c "SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0) FROM pg_stat_replication")
  [ "$lag" = 0 ] && break; sleep 0.1
done
cluster_stop "$PRIMARY_DIR" immediate
IT_PORT=$SPORT
check "the standby is promoted" q postgres "SELECT pg_promote()"
sim_clear_faults
qd() { [ "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado IN ('pendente', 'processando')")" = 0 ]; }
eventually 90 "the promoted standby drains the rest of the queue" qd
check "0 lost: all 1,500 clients are mapped on the promoted server" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Failover %' AND p.sincronizado")" = 1500
contacts=$(curl -sf "$SIM_CONTROL/__sim/accounts/1/contacts")
check "0 duplicate contacts in Chatwoot" \
  test "$(jq '[.[].identifier | select(. != null)] | length - (unique | length)' <<<"$contacts")" = 0
check "Chatwoot holds exactly the 1,500 contacts" \
  test "$(jq '[.[] | select(.name | startswith("Failover "))] | length' <<<"$contacts")" = 1500
exit $IT_FAILED
