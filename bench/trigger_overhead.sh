#!/usr/bin/env bash
# P1: cost of the sync trigger on a 100,000-row INSERT into a Zattar-shaped
# `clientes`, side by side in one run: untracked, tracked by chatwoot.rastrear, and
# PgQ's pgq.logutriga on the same table shape. Each INSERT runs in BEGIN ... ROLLBACK
# (same work, repeatable tables); rounds alternate (the order reversed every other
# round) and medians are reported, also of each round's paired ratio.
# chatwoot.rastrear's share is a per-row C BEFORE trigger that remembers the id and a
# statement-level INSERT of 'lote' jobs of up to 5,000 ids each. The figure is the
# paired ratio: the machine's speed drifts between rounds, which moves the ratio of
# the two medians, while each round's own pair is measured seconds apart.
# Usage: bench/trigger_overhead.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-15}
bench_setup >/dev/null
three_tables

# One 100k-row INSERT, rolled back; prints "wall_ms cpu_ms": the statement's time (psql
# \timing) and the CPU its backend spent on it (/proc/PID/schedstat, in ns). This VM's
# wall times swing by a third from one INSERT to the next with the same work; the CPU
# time shows the trigger's own cost without that noise.
insert_measure() {
  # Every INSERT starts from the same state: the rolled-back rows of earlier rounds
  # vacuumed away (else the unique checks wade through them) and a fresh checkpoint.
  sq "VACUUM" >/dev/null; sq "CHECKPOINT" >/dev/null
  local pid line wall cpu0 cpu1
  coproc PSQ { psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar 2>&1; }
  echo "SELECT pg_backend_pid();" >&"${PSQ[1]}"
  read -r pid <&"${PSQ[0]}"
  cpu0=$(awk '{print $1}' "/proc/$pid/schedstat")
  printf '%s\n' 'BEGIN;' '\timing on' \
    "INSERT INTO $1 (tipo_pessoa, nome, cpf, emails, ddd_celular, numero_celular)
     SELECT 'pf', 'Nome ' || g, lpad(g::text, 11, '0'), jsonb_build_array('p' || g || '@example.com'), '11', (900000000 + g)::text
       FROM generate_series(1, 100000) g;" >&"${PSQ[1]}"
  while read -r line <&"${PSQ[0]}"; do
    [[ $line == Time:* ]] && { wall=$(sed 's/^Time: \([0-9.]*\) ms.*/\1/' <<<"$line"); break; }
  done
  cpu1=$(awk '{print $1}' "/proc/$pid/schedstat")
  printf '%s\n' '\timing off' 'ROLLBACK;' '\q' >&"${PSQ[1]}"
  wait "$PSQ_PID" 2>/dev/null || true
  echo "$wall $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.1f", (b - a) / 1e6}')"
}
for t in sem_rastreio rastreada pgq_logutriga; do insert_measure $t >/dev/null; done  # warm-up
declare -A times cpus paired paired_cpu
for r in $(seq 1 "$ROUNDS"); do
  declare -A this this_cpu
  order="sem_rastreio rastreada pgq_logutriga"  # reversed every other round: no table always goes first
  (( r % 2 == 0 )) && order="pgq_logutriga rastreada sem_rastreio"
  for t in $order; do
    read -r this[$t] this_cpu[$t] < <(insert_measure $t)
    times[$t]+="${this[$t]} "; cpus[$t]+="${this_cpu[$t]} "
  done
  for t in rastreada pgq_logutriga; do  # the same round's untracked INSERT is the reference
    paired[$t]+="$(awk -v a="${this[$t]}" -v b="${this[sem_rastreio]}" 'BEGIN {print a / b}') "
    paired_cpu[$t]+="$(awk -v a="${this_cpu[$t]}" -v b="${this_cpu[sem_rastreio]}" 'BEGIN {print a / b}') "
  done
done
base=$(tr ' ' '\n' <<<"${times[sem_rastreio]}" | grep . | median)
cpu_base=$(tr ' ' '\n' <<<"${cpus[sem_rastreio]}" | grep . | median)
echo "P1 trigger overhead, 100,000-row INSERT, median of $ROUNDS rounds ($(nproc) cores)"
printf '%-14s %9s %7s %8s %8s %7s %10s %7s %8s\n' table wall_ms ratio min_ms max_ms paired cpu_ms ratio paired
for t in sem_rastreio rastreada pgq_logutriga; do
  all=$(tr ' ' '\n' <<<"${times[$t]}" | grep . | sort -n)
  m=$(median <<<"$all")
  c=$(tr ' ' '\n' <<<"${cpus[$t]}" | grep . | median)
  pr=1; pc=1
  if [ "$t" != sem_rastreio ]; then
    pr=$(tr ' ' '\n' <<<"${paired[$t]}" | grep . | median)
    pc=$(tr ' ' '\n' <<<"${paired_cpu[$t]}" | grep . | median)
  fi
  printf '%-14s %9.1f %7.3f %8.1f %8.1f %7.3f %10.1f %7.3f %8.3f\n' "$t" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {print a / b}')" \
    "$(head -1 <<<"$all")" "$(tail -1 <<<"$all")" "$pr" "$c" "$(awk -v a="$c" -v b="$cpu_base" 'BEGIN {print a / b}')" "$pc"
done
echo "wall: psql's statement time; cpu: the backend's CPU time for the statement; ratio: median over the"
echo "untracked median; paired: median of each round's ratio to that round's untracked INSERT"
