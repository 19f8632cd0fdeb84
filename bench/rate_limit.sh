#!/usr/bin/env bash
# The request budget against Chatwoot's rate limit (rack-attack's fixed windows, as the
# simulator's rate_limit mode models them), with the window scaled down to 5 s so a
# run takes minutes, not hours:
#  R1  budget = Chatwoot's limit (200 per 5 s): the share of the budget used, and 429s.
#  R2  Chatwoot's limit below the budget (150 per 5 s under a budget of 200): the worker
#      must learn it: 429s as a share of all requests, overall and after the first
#      minute (steady state), the rate reached, and no job dead or charged an attempt.
# Each drains N new contacts (2 requests each) inserted by one statement.
# Usage: bench/rate_limit.sh [N]
source "$(dirname "$0")/lib.sh"
N=${1:-1500}
WINDOW=5
bench_setup "chatwoot_sync.poll_interval = '1s'" >/dev/null
sq "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
sq "DELETE FROM contratos; DELETE FROM clientes" >/dev/null
clear_requests() { curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null; }

# drain LIMIT BUDGET TAG: Chatwoot allows LIMIT per window, the worker's budget is BUDGET.
drain() {
  local limit=$1 budget=$2 tag=$3
  sim_mode "{\"rate_limit\": {\"limit\": $limit, \"period_s\": $WINDOW}}" >/dev/null
  sq "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => $budget, janela_limite_s => $WINDOW)" >/dev/null
  sleep $((WINDOW + 1))  # a fresh window on both sides
  clear_requests
  local t0 t1; t0=$(now_ms)
  sq "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', '$tag ' || g, jsonb_build_array('$tag' || g || '@example.com') FROM generate_series(1, $N) g" >/dev/null
  wait_drained 1200 0.25
  t1=$(now_ms)
  local log="$BENCH_DIR/$tag.json"
  curl -sf "$SIM_CONTROL/__sim/requests" >"$log"
  local dead tries
  dead=$(sq "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")
  tries=$(sq "SELECT max(tentativas) FROM chatwoot.fila WHERE estado = 'concluido' AND tipo_entidade = 'cliente'")
  jq -r --argjson w $((WINDOW * 1000)) --argjson budget "$budget" --argjson limit "$limit" --arg tag "$tag" '
    [ .[] | {t: (.at_ms - .duration_ms), s: .status} ] as $r
    | ($r | map(.t) | min) as $start | ($r | map(.t) | max) as $last
    | ($r | length) as $n | ($r | map(select(.s == 429)) | length) as $throttled
    | ($r | map(select(.t >= $start + 60000))) as $steady
    | ($steady | map(select(.s == 429)) | length) as $steady_throttled
    | ($r | map(select(.s != 429)) | length) as $ok
    | ($r | map(.t / $w | floor) | group_by(.) | map(length) | max) as $max_window
    | "\($tag): \($n) requests (\($throttled) answered 429 = \(100 * $throttled / $n | . * 100 | round / 100) %), "
      + "\($ok) accepted in \(($last - $start) / 1000 | . * 10 | round / 10) s = \($ok * $w / ($last - $start + $w) | round) per \($w / 1000) s window "
      + "(\(100 * $ok * $w / ($last - $start + $w) / $budget | round) % of the budget \($budget), "
      + "\(100 * $ok * $w / ($last - $start + $w) / $limit | round) % of Chatwoot'"'"'s limit \($limit)); "
      + "busiest clock window \($max_window); after the first minute: \($steady | length) requests, \($steady_throttled) answered 429 "
      + "(\(if ($steady | length) > 0 then 100 * $steady_throttled / ($steady | length) | . * 100 | round / 100 else 0 end) %)"' "$log"
  echo "$tag: wall $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}') s from the INSERT to drained; dead jobs $dead; most attempts by a job $tries"
}
echo "== rate limit: $N new contacts per run, windows of $WINDOW s, max_concurrency $(sq "SHOW chatwoot_sync.max_concurrency")"
drain 200 200 R1
drain 150 200 R2
