#!/usr/bin/env bash
# P1: cost of the sync trigger on a 100,000-row INSERT into a Zattar-shaped
# `clientes`, side by side in one run: untracked, tracked by chatwoot.rastrear, and
# PgQ's pgq.logutriga on the same table shape. Each INSERT runs in BEGIN ... ROLLBACK
# (same work, repeatable tables); rounds alternate and the median is reported.
# chatwoot.rastrear's share is a per-row C BEFORE trigger that remembers the id and
# one statement-level INSERT of a 'lote' job holding all the ids.
# Usage: bench/trigger_overhead.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-11}
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
  # Every INSERT starts from the same state: the rolled-back rows of earlier rounds
  # vacuumed away (else the unique checks wade through them) and a fresh checkpoint.
  sq "VACUUM" >/dev/null; sq "CHECKPOINT" >/dev/null
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
declare -A times paired
for r in $(seq 1 "$ROUNDS"); do
  declare -A this
  for t in sem_rastreio rastreada pgq_logutriga; do this[$t]=$(insert_ms $t); times[$t]+="${this[$t]} "; done
  for t in rastreada pgq_logutriga; do  # the same round's untracked INSERT is the reference
    paired[$t]+="$(awk -v a="${this[$t]}" -v b="${this[sem_rastreio]}" 'BEGIN {print a / b}') "
  done
done
base=$(tr ' ' '\n' <<<"${times[sem_rastreio]}" | grep . | median)
echo "P1 trigger overhead, 100,000-row INSERT, median of $ROUNDS rounds ($(nproc) cores)"
printf '%-16s %10s %8s %10s %10s %13s\n' table median_ms ratio min_ms max_ms paired_ratio
for t in sem_rastreio rastreada pgq_logutriga; do
  all=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | sort -n)
  m=$(median <<<"$all")
  pr=1; [ "$t" = sem_rastreio ] || pr=$(tr ' ' '\n' <<<"${paired[$t]}" | grep . | median)
  printf '%-16s %10.1f %8.3f %10.1f %10.1f %13.3f\n' "$t" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')" \
    "$(head -1 <<<"$all")" "$(tail -1 <<<"$all")" "$pr"
done
echo "ratio: median over median of untracked; paired_ratio: median of each round's ratio to that round's untracked INSERT"
