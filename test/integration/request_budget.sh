#!/usr/bin/env bash
# testar_conexao counts in the request budget (issue 17, probe 2.5 / T3-14): its requests
# and the worker's share one count per clock window, in the database's worker registry
# slot. Chatwoot (the simulator, rack-attack's fixed windows) allows 30 requests per
# 10 s per IP; the worker's budget is just under it, 28. The app calls testar_conexao in
# a loop for 25 s (about 25 calls a second, as the probe did):
#  - the simulator never throttled anything: no window saw more than its limit;
#  - a client inserted during the loop syncs within seconds (the probe saw 58 s);
#  - calls past testar_conexao's share (a tenth of the window, here one call) answer the
#    "orçamento" refusal without a request: Chatwoot saw exactly the calls that got through;
#  - while the worker drains a backlog that spends whole windows, testar_conexao is
#    refused, and no window sees more than the worker's budget.
source "$(dirname "$0")/../lib/integration.sh"
plan 8

LIMIT=30 PERIOD=10 BUDGET=28 LOOP_S=25
SIM_ARGS="--proxy --concurrency real" IT_BUDGET="" \
  it_zattar budget "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'"
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
eventually 30 "the fixture syncs" queue_drained
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => $BUDGET,
                                     janela_limite_s => $PERIOD)" >/dev/null
sim_mode "{\"rate_limit\": {\"limit\": $LIMIT, \"period_s\": $PERIOD}}" >/dev/null
state_of() { q zattar "SELECT estado FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = $1"; }
# Requests per simulator window (by arrival), the largest.
busiest_window() { jq --argjson p "$PERIOD" '[.[] | ((.at_ms - .duration_ms) / 1000 / $p | floor)] | group_by(.) | map(length) | max // 0'; }
# Start at the beginning of a clock window, so the loop spans whole windows.
now_ms=$(($(date +%s%N) / 1000000))
sleep "$(awk -v ms="$now_ms" -v p="$PERIOD" 'BEGIN { printf "%.3f", (p * 1000 - ms % (p * 1000)) / 1000 + 0.2 }')"
clear_requests

answers="$IT_WORK/answers"
: >"$answers"
(
  end=$((SECONDS + LOOP_S))
  while [ $SECONDS -lt $end ]; do
    q zattar "SELECT coalesce(chatwoot.testar_conexao()->>'erro', 'ok') FROM generate_series(1, 5)" >>"$answers" 2>&1
    sleep 0.2
  done
) &
loop=$!
# The loop has spent its share of this window (a refusal came back) before the insert.
for _ in $(seq 1 100); do grep -q '^orçamento' "$answers" && break; sleep 0.1; done
id=$(q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Durante o Loop') RETURNING id")
started=$SECONDS
eventually_eq 6 "a client inserted during the testar_conexao loop syncs within 6 s" concluido state_of "$id"
echo "# synced after $((SECONDS - started)) s"
wait "$loop"
log=$(requests_json)
check "Chatwoot never throttled: 0 answers 429, at most $LIMIT requests in any window (busiest: $(busiest_window <<<"$log"))" \
  test "$(jq '[.[] | select(.status == 429)] | length' <<<"$log")|$(( $(busiest_window <<<"$log") <= LIMIT ))" = "0|1"
calls=$(grep -c . "$answers"); passed=$(grep -c '^ok$' "$answers")
refused=$(grep -c '^orçamento de requisições ao Chatwoot esgotado; tente de novo em [0-9]* s' "$answers")
echo "# $calls calls: $passed went to Chatwoot, $refused refused; other answers: $(grep -v '^ok$' "$answers" | grep -v '^orçamento' | sort | uniq -c | head -3)"
check "every call past testar_conexao's share answered the 'orçamento' refusal ($refused of $calls; $passed went through, one per window)" \
  test "$((passed + refused))|$((refused > 100))|$((passed >= 2 && passed <= LOOP_S / PERIOD + 2))" = "$calls|1|1"
check "the refusals made no request: Chatwoot saw one GET /profile per call that went through ($passed)" \
  test "$(jq '[.[] | select(.path == "/api/v1/profile")] | length' <<<"$log")" = "$passed"

# The worker's own requests fill the shared count too: a backlog of 60 clients (about
# 120 requests, some 5 windows of 28) leaves testar_conexao nothing.
clear_requests
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Fila ' || g FROM generate_series(1, 60) g" >/dev/null
busy() { q zattar "SELECT chatwoot.testar_conexao()->>'erro'" | grep -q "^orçamento de requisições ao Chatwoot esgotado; tente de novo em [0-9]* s (janela de $PERIOD s: 2[6-8] de $BUDGET usadas"; }
eventually 30 "while the worker's backlog spends the window, testar_conexao is refused" busy
eventually 90 "the backlog drains" queue_drained
log=$(requests_json)
# One count for both: no window saw more than the worker's budget (one of slack for a
# request that crosses a window's edge on its way), so nothing was throttled.
check "...and the shared count kept each window within the budget: busiest $(busiest_window <<<"$log") of $BUDGET (+1), no 429" \
  test "$(jq '[.[] | select(.status == 429)] | length' <<<"$log")|$(( $(busiest_window <<<"$log") <= BUDGET + 1 ))" = "0|1"
exit $IT_FAILED
