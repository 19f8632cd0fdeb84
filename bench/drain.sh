#!/usr/bin/env bash
# P2, P3 and P8, side by side in one run against the simulator:
#  P2  requests/s the worker sustains on new contacts as a share of what wrk gets from
#      the same simulator in the same run sending the same requests
#      (bench/wrk_new_contact.lua), in alternating rounds (median reported), and of wrk
#      on a GET of one contact for reference; requests per contact and per update; the
#      same at 50 ms of added latency against 0.9 x max_concurrency / 50 ms.
#  P3  commit -> first request latency for single-row INSERTs (p50, p99).
#  P8  an update storm: 100,000 UPDATEs spread over 1,000 clients -> requests sent.
# Usage: bench/drain.sh [NEW_CONTACTS] [STORM_UPDATES] [P2_ROUNDS]
source "$(dirname "$0")/lib.sh"
N=${1:-20000}
STORM=${2:-100000}
P2_ROUNDS=${3:-7}
CONC=16
bench_setup "chatwoot_sync.max_concurrency = $CONC" "chatwoot_sync.poll_interval = '1s'" >/dev/null
# The budget off: P2 models a database server whose IP the Chatwoot admin safelisted
# (RACK_ATTACK_ALLOWED_IPS), and the simulator runs without a rate limit.
sq "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 0)" >/dev/null
sq "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
sq "DELETE FROM clientes WHERE id > 0" >/dev/null 2>&1 || sq "DELETE FROM contratos; DELETE FROM clientes" >/dev/null
wait_drained 30
sim_requests() { curl -sf "$SIM_CONTROL/__sim/requests" | jq length; }
clear_requests() { curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null; }
# sim_named TEXT: contacts in the simulator whose name contains TEXT (its filter API,
# which counts every match; one request, made after the figures are read).
sim_named() {
  curl -sf -X POST -H 'api_access_token: sim-admin-token' -H 'Content-Type: application/json' \
    -d "{\"payload\":[{\"attribute_key\":\"name\",\"filter_operator\":\"contains\",\"values\":[\"$1\"]}]}" \
    "$SIM_URL/api/v1/accounts/1/contacts/filter" | jq '.meta.count'
}
# assert_drained WHAT NAME_TEXT CONTACTS: a drain only counts if it did the work: no
# job dead, every job concluido, and the simulator holds CONTACTS contacts whose name
# contains NAME_TEXT. Otherwise the bench stops with a failure (a drain of failing
# jobs would time the same as a good one).
assert_drained() {
  local jobs contacts
  jobs=$(sq "SELECT count(*) FILTER (WHERE estado = 'morto') || ' ' || count(*) FILTER (WHERE estado <> 'concluido') FROM chatwoot.fila")
  contacts=$(sim_named "$2")
  if [ "$jobs" != "0 0" ] || [ "$contacts" != "$3" ]; then
    echo "BENCH FAILED after $1: dead/not concluido jobs: $jobs (want 0 0); contacts named *$2*: $contacts (want $3)" >&2
    exit 1
  fi
  echo "  checked: no job dead, every job concluido, $contacts contacts named *$2* in Chatwoot"
}
# timed_drain SQL: runs SQL, waits for the queue to drain; sets SECS (wall time) and
# REQS (requests the simulator received from the start). The drain is checked every
# 250 ms (see wait_drained), so SECS may run up to 250 ms past the last request.
timed_drain() {
  clear_requests
  local t0 t1
  t0=$(now_ms)
  sq "$1" >/dev/null
  wait_drained 600 0.25
  t1=$(now_ms)
  REQS=$(sim_requests)
  SECS=$(awk -v a=$t0 -v b=$t1 'BEGIN {print (b - a) / 1000}')
  # The sustained rate: requests between the first and the last one the simulator
  # saw (leaves out the app's INSERT, the expansion of its bulk job before the first
  # request, and the drain check's polling), as wrk's figure leaves out its start-up.
  SUSTAINED=$(curl -sf "$SIM_CONTROL/__sim/requests" \
    | jq '[.[] | .at_ms - .duration_ms] | if length > 1 then ((length - 1) * 1000 / (max - min) | round) else 0 end')
}

echo "== wrk against the same simulator (GET contact, $CONC connections, 10 s)"
sq "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Alvo wrk', '[\"wrk@example.com\"]')" >/dev/null
wait_drained 30
cid=$(sq "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot LIMIT 1")
wrk_rps=$(wrk -t2 -c$CONC -d10s -H 'api_access_token: sim-admin-token' "$SIM_URL/api/v1/accounts/1/contacts/$cid" \
  | awk '/Requests\/sec/ {print $2}')
echo "wrk GET contact: $wrk_rps req/s"

# P2 at 0 ms, in alternating rounds: wrk on the same two requests a new contact costs
# the worker (bench/wrk_new_contact.lua: filter miss, then create, fresh identities),
# then the worker on N new contacts. Each round's ratio pairs two measurements taken
# seconds apart; the median over rounds is the figure (one pair swings with the
# machine's noise by +-10 %).
echo "== P2: $P2_ROUNDS rounds of wrk (same requests, $CONC connections, 5 s) then $N new contacts, 0 ms added latency"
ratios=""; wall_ratios=""
for r in $(seq 1 "$P2_ROUNDS"); do
  out=$(WRK_PHONE_BASE=$((r * 10000000)) wrk -t2 -c$CONC -d5s -s bench/wrk_new_contact.lua "$SIM_URL")
  if grep -q "Non-2xx" <<<"$out"; then echo "wrk got errors, baseline invalid:"; echo "$out"; exit 1; fi
  wrk_new_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  timed_drain "INSERT INTO clientes (tipo_pessoa, nome, emails, ddd_celular, numero_celular)
      SELECT 'pf', 'Bench $r-' || g, jsonb_build_array('bench${r}_' || g || '@example.com'), '11', (900000000 + $r * 1000000 + g)::text
        FROM generate_series(1, $N) g"
  reqs=$REQS; secs=$SECS
  wall_rps=$(awk -v r=$reqs -v s=$secs 'BEGIN {printf "%.0f", r / s}')
  ratio=$(awk -v a=$SUSTAINED -v b=$wrk_new_rps 'BEGIN {printf "%.3f", a / b}')
  wall_ratio=$(awk -v a=$wall_rps -v b=$wrk_new_rps 'BEGIN {printf "%.3f", a / b}')
  ratios+="$ratio "; wall_ratios+="$wall_ratio "
  echo "round $r: wrk $wrk_new_rps req/s; worker: $N new contacts, $reqs requests" \
       "($(awk -v r=$reqs -v n=$N 'BEGIN {printf "%.2f", r / n}') per contact), sustained $SUSTAINED req/s" \
       "= $(awk -v x=$ratio 'BEGIN {printf "%.0f", 100 * x}') % of wrk; from INSERT to drained ${secs}s =" \
       "$(awk -v n=$N -v s=$secs 'BEGIN {printf "%.0f", n / s}') contacts/s, $wall_rps req/s" \
       "= $(awk -v x=$wall_ratio 'BEGIN {printf "%.0f", 100 * x}') % of wrk" \
       "($(awk -v a=$SUSTAINED -v b=$wrk_rps 'BEGIN {printf "%.0f", 100 * a / b}') % of wrk on GET contact)"
  assert_drained "P2 round $r" "Bench $r-" "$N"
done
echo "P2 at 0 ms: median share of wrk on the same requests over $P2_ROUNDS rounds:" \
     "sustained $(tr ' ' '\n' <<<"$ratios" | grep . | median | awk '{printf "%.0f", 100 * $1}') % (rounds: $ratios)," \
     "from INSERT to drained $(tr ' ' '\n' <<<"$wall_ratios" | grep . | median | awk '{printf "%.0f", 100 * $1}') % (rounds: $wall_ratios)"

echo "== P2: $N updates (one statement; the 3 s update debounce is taken out of the wall time)"
timed_drain "UPDATE clientes SET nome = nome || ' (atualizado)' WHERE nome LIKE 'Bench 1-%'"
reqs=$REQS; secs=$(awk -v s=$SECS 'BEGIN {print s - 3}')
echo "updates: $N -> $reqs requests ($(awk -v r=$reqs -v n=$N 'BEGIN {printf "%.2f", r / n}') per update)," \
     "$(awk -v r=$reqs -v s=$secs 'BEGIN {printf "%.0f", r / s}') req/s after the debounce"
assert_drained "the P2 updates" " (atualizado)" "$N"

echo "== P2: 2,000 new contacts at 50 ms added latency"
sim_faults '{"latency_ms": 50}'
timed_drain "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Lento ' || g FROM generate_series(1, 2000) g"
sim_clear_faults
reqs=$REQS; secs=$SECS
assert_drained "the 50 ms round" "Lento " 2000
echo "50 ms: $reqs requests in ${secs}s = $(awk -v r=$reqs -v s=$secs 'BEGIN {printf "%.0f", r / s}') req/s;" \
     "target 0.9 x $CONC / 0.050 = $(awk -v c=$CONC 'BEGIN {printf "%.0f", 0.9 * c / 0.05}') req/s"

echo "== P3: commit -> first request, 200 single-row INSERTs, 20 ms apart"
clear_requests
coproc PQ { psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar 2>&1; }
: > "$BENCH_DIR/commits"
for i in $(seq 1 200); do
  # clock_timestamp() is taken before COMMIT: the measured latency can only be longer than the real one.
  echo "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Latencia $i') RETURNING id, (extract(epoch FROM clock_timestamp()) * 1000)::numeric(20,3);" >&"${PQ[1]}"
  read -r line <&"${PQ[0]}"
  echo "$line" >> "$BENCH_DIR/commits"
  sleep 0.02
done
echo '\q' >&"${PQ[1]}"
wait_drained 60
curl -sf "$SIM_CONTROL/__sim/requests" \
  | jq -r '.[] | select(.path | endswith("/contacts/filter")) | [(.body | capture("zattar_cliente_(?<id>[0-9]+)").id), (.at_ms - .duration_ms)] | @tsv' \
  | sort -k1,1 -k2,2n | awk '!seen[$1]++' > "$BENCH_DIR/first_requests"
join -t $'\t' <(tr '|' '\t' < "$BENCH_DIR/commits" | sort -k1,1) <(sort -k1,1 "$BENCH_DIR/first_requests") \
  | awk -F'\t' '{print $3 - $2}' | sort -n > "$BENCH_DIR/latencies"
count=$(wc -l < "$BENCH_DIR/latencies")
p50=$(awk -v n=$count 'NR == int(n * 0.50 + 0.5) {print}' "$BENCH_DIR/latencies")
p99=$(awk -v n=$count 'NR == int(n * 0.99 + 0.5) {print}' "$BENCH_DIR/latencies")
echo "latency over $count commits: p50 ${p50} ms, p99 ${p99} ms, max $(tail -1 "$BENCH_DIR/latencies") ms"
assert_drained "P3" "Latencia " 200
[ "$count" = 200 ] || { echo "BENCH FAILED: P3 measured $count of 200 commits" >&2; exit 1; }

echo "== P8: $STORM UPDATEs, each its own transaction, spread over 1,000 clients"
sq "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Tempestade ' || g FROM generate_series(1, 1000) g" >/dev/null
wait_drained 120
ids=$(sq "SELECT min(id) FROM clientes WHERE nome LIKE 'Tempestade %'")
clear_requests
awk -v n=$STORM -v base=$ids 'BEGIN { srand(42); for (i = 1; i <= n; i++) printf "UPDATE clientes SET nome = %cTempestade %d v%d%c WHERE id = %d;\n", 39, i % 1000, i, 39, base + int(rand() * 1000) }' > "$BENCH_DIR/storm.sql"
t0=$(now_ms)
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -f "$BENCH_DIR/storm.sql" >/dev/null
t1=$(now_ms)
wait_drained 300
reqs=$(sim_requests)
assert_drained "P8" "Tempestade " 1000
echo "storm: $STORM UPDATEs in $(awk -v a=$t0 -v b=$t1 'BEGIN {print (b - a) / 1000}')s -> $reqs requests to Chatwoot (target <= 1,100)"
