#!/usr/bin/env bash
# P7: the worker's resident memory while it drains JOBS jobs (default 1,000,000),
# sampled every second; reports first, peak and last RSS. Parties are inserted in
# chunks of 100,000 (each drained before the next), as a long-running app would produce them.
# Usage: bench/worker_memory.sh [JOBS]
source "$(dirname "$0")/lib.sh"
JOBS=${1:-1000000}
bench_setup >/dev/null
sq "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 0)" >/dev/null  # budget off (a safelisted IP)
sq "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
wait_drained 60
pid=$(sq "SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker'")
# VmRSS counts the shared buffers the worker has touched (shared with every backend);
# RssAnon is the worker's own memory, the figure that would grow with a leak.
rss() { awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {print r, a}' "/proc/$pid/status"; }
echo "worker pid $pid, VmRSS/RssAnon at start: $(rss) kB"
: > "$BENCH_DIR/rss"
( while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s) $(rss)" >> "$BENCH_DIR/rss"; sleep 1; done ) &
sampler=$!
chunk=100000
t0=$(now_ms)
for ((done_ = 0; done_ < JOBS; done_ += chunk)); do
  n=$(( JOBS - done_ < chunk ? JOBS - done_ : chunk ))
  sq "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', 'Mem ' || g, jsonb_build_array('mem' || g || '@example.com')
        FROM generate_series($done_ + 1, $done_ + $n) g" >/dev/null
  curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null   # keep the simulator's own log small
  wait_drained 3600
  echo "after $((done_ + n)) jobs: VmRSS/RssAnon $(rss) kB"
done
t1=$(now_ms)
kill "$sampler" 2>/dev/null
echo "drained $JOBS jobs in $(( (t1 - t0) / 1000 )) s"
awk 'NR == 1 {f2 = $2; f3 = $3} {if ($2 > p2) p2 = $2; if ($3 > p3) p3 = $3; l2 = $2; l3 = $3}
     END {printf "VmRSS kB: first %d, peak %d, last %d\nRssAnon kB: first %d, peak %d, last %d (%d samples)\n", f2, p2, l2, f3, p3, l3, NR}' "$BENCH_DIR/rss"
