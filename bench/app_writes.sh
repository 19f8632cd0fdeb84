#!/usr/bin/env bash
# P1b: the app's everyday write, one row per transaction. pgbench, 4 clients, single-row
# INSERT transactions into a Zattar-shaped `clientes`, side by side in one run:
# untracked, tracked by chatwoot.rastrear, and PgQ's pgq.logutriga on the same shape.
# No connection is configured, so nothing is sent: what is measured is the trigger
# and whatever the worker does per commit (it should do nothing: it cannot send).
# Rounds alternate the order (reversed every other round); the figure is the median of
# each round's paired ratio (tracked TPS over... the untracked TPS of the same round,
# as time per transaction), with the worker's CPU over the tracked runs beside it.
# Usage: bench/app_writes.sh [ROUNDS] [SECONDS]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-7}
SECONDS_EACH=${2:-10}
bench_setup >/dev/null
three_tables
sq "DELETE FROM chatwoot.integracoes" >/dev/null   # no connection: the worker cannot send
worker_pid=$(sq "SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker'")
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$worker_pid/stat"; }

for t in sem_rastreio rastreada pgq_logutriga; do
  cat >"$BENCH_DIR/$t.sql" <<SQL
\set n random(1, 1000000000)
INSERT INTO $t (tipo_pessoa, nome, emails, ddd_celular, numero_celular)
VALUES ('pf', 'Cliente ' || :n, jsonb_build_array('c' || :n || '@example.com'), '11', (900000000 + :n % 99999999)::text);
SQL
done

# One pgbench run of SECONDS_EACH on table $1, from the same state each time (the tables
# and the queue emptied, vacuumed, checkpointed); prints its TPS.
run() {
  sq "TRUNCATE $1" >/dev/null; sq "DELETE FROM chatwoot.fila" >/dev/null; sq "TRUNCATE pgq.event_1_0, pgq.event_1_1, pgq.event_1_2" >/dev/null 2>&1
  sq "VACUUM" >/dev/null; sq "CHECKPOINT" >/dev/null
  "$PG_BINDIR/pgbench" -n -h 127.0.0.1 -p "$PORT" -U postgres -c 4 -j 2 -T "$SECONDS_EACH" -f "$BENCH_DIR/$1.sql" zattar 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}
run sem_rastreio >/dev/null  # warm-up
declare -A tps paired
worker_ticks=0; tracked_seconds=0
for r in $(seq 1 "$ROUNDS"); do
  declare -A this
  order="sem_rastreio rastreada pgq_logutriga"
  (( r % 2 == 0 )) && order="pgq_logutriga rastreada sem_rastreio"
  for t in $order; do
    t0=$(ticks)
    this[$t]=$(run "$t")
    [ "$t" = rastreada ] && { worker_ticks=$((worker_ticks + $(ticks) - t0)); tracked_seconds=$((tracked_seconds + SECONDS_EACH)); }
    tps[$t]+="${this[$t]} "
  done
  for t in rastreada pgq_logutriga; do  # time per transaction over the untracked one of this round
    paired[$t]+="$(awk -v a="${this[$t]}" -v b="${this[sem_rastreio]}" 'BEGIN {print b / a}') "
  done
  echo "round $r: untracked ${this[sem_rastreio]} tps, tracked ${this[rastreada]} tps, PgQ ${this[pgq_logutriga]} tps"
done
echo "P1b single-row INSERT transactions, pgbench -c 4 -j 2, ${SECONDS_EACH} s per run, $ROUNDS rounds ($(nproc) cores)"
printf '%-14s %12s %14s %s\n' table median_tps paired_ratio "paired ratios"
for t in sem_rastreio rastreada pgq_logutriga; do
  m=$(tr ' ' '\n' <<<"${tps[$t]}" | grep . | median)
  if [ "$t" = sem_rastreio ]; then pr=1; rounds="-"; else
    pr=$(tr ' ' '\n' <<<"${paired[$t]}" | grep . | median); rounds="${paired[$t]}"; fi
  printf '%-14s %12.1f %14.3f %s\n' "$t" "$m" "$pr" "$rounds"
done
echo "worker CPU during the tracked runs: $worker_ticks ticks in ${tracked_seconds} s ($(awk -v t="$worker_ticks" -v s="$tracked_seconds" 'BEGIN {printf "%.1f", t / s}') % of a core)"
