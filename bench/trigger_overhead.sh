#!/usr/bin/env bash
# P1: cost of the sync trigger on a 100,000-row INSERT into a Zattar-shaped
# `clientes`, side by side in one run: untracked, tracked by chatwoot.rastrear, and
# PgQ's pgq.logutriga on the same table shape. Each INSERT runs in BEGIN ... ROLLBACK
# (same work, repeatable tables); rounds alternate and the median is reported.
# Usage: bench/trigger_overhead.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-7}
bench_setup >/dev/null
sq "CREATE EXTENSION pgq" >/dev/null
sq "SELECT pgq.create_queue('bench')" >/dev/null
for t in sem_rastreio rastreada pgq_logutriga; do
  sq "CREATE TABLE $t (LIKE clientes INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)" >/dev/null
  sq "ALTER TABLE $t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY" >/dev/null
done
sq "SELECT chatwoot.rastrear('rastreada', 'bench')" >/dev/null
sq "CREATE TRIGGER pgq_bench AFTER INSERT OR UPDATE OR DELETE ON pgq_logutriga FOR EACH ROW EXECUTE PROCEDURE pgq.logutriga('bench')" >/dev/null

insert_ms() {  # one 100k-row INSERT, rolled back; prints the statement's time in ms
  psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar 2>&1 <<SQL | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | head -1
BEGIN;
\timing on
INSERT INTO $1 (tipo_pessoa, nome, cpf, emails, ddd_celular, numero_celular)
SELECT 'pf', 'Nome ' || g, lpad(g::text, 11, '0'), jsonb_build_array('p' || g || '@example.com'), '11', (900000000 + g)::text
  FROM generate_series(1, 100000) g;
\timing off
ROLLBACK;
SQL
}
for t in sem_rastreio rastreada pgq_logutriga; do insert_ms $t >/dev/null; done  # warm-up
declare -A times
for r in $(seq 1 "$ROUNDS"); do
  for t in sem_rastreio rastreada pgq_logutriga; do times[$t]+="$(insert_ms $t) "; done
done
base=$(tr ' ' '\n' <<<"${times[sem_rastreio]}" | grep . | median)
echo "P1 trigger overhead, 100,000-row INSERT, median of $ROUNDS rounds ($(nproc) cores)"
printf '%-16s %10s %8s\n' table median_ms ratio
for t in sem_rastreio rastreada pgq_logutriga; do
  m=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | median)
  printf '%-16s %10.1f %8.3f\n' "$t" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')"
done
