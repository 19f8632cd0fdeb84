#!/usr/bin/env bash
# Fairness under a bulk UPDATE (issue 17, T3-10): one statement edits N clients while
# the request budget allows 20 requests a second, so their jobs take minutes to drain.
# Every INTERVAL seconds a new client is inserted; each one's wait (commit to its
# mapping recorded, i.e. its contact created in Chatwoot) is set beside what a first-in,
# first-out queue would have made it wait: the UPDATE's jobs still ahead of it divided
# by the drain rate measured in the same run. At Chatwoot's 50 requests a second that
# FIFO wait was 57 hours for a 5-million-row UPDATE.
# Usage: bench/fairness.sh [N] [SAMPLES] [INTERVAL_S]
source "$(dirname "$0")/lib.sh"
N=${1:-3000}
SAMPLES=${2:-6}
INTERVAL=${3:-10}
bench_setup "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'" >/dev/null
# The first sync of the N clients is not measured: under a large budget.
sq "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 100000, janela_limite_s => 60)" >/dev/null
sq "DELETE FROM contratos; DELETE FROM clientes" >/dev/null
sq "INSERT INTO clientes (tipo_pessoa, nome, emails)
    SELECT 'pf', 'Massa ' || g, jsonb_build_array('massa' || g || '@example.com') FROM generate_series(1, $N) g" >/dev/null
sq "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
wait_drained 1800 0.25
# Then 100 requests per 5 s window: 20 a second (Chatwoot's fixed window, scaled down).
sq "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 100, janela_limite_s => 5)" >/dev/null

not_done() {
  sq "SELECT count(*) FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id
      WHERE f.tipo_entidade = 'cliente' AND c.nome LIKE 'Massa %' AND f.estado IN ('pendente', 'processando')"
}
done_count() {
  sq "SELECT count(*) FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id
      WHERE f.tipo_entidade = 'cliente' AND c.nome LIKE 'Massa %' AND f.estado = 'concluido'
        AND f.concluido_em > '$1'::timestamptz"
}
mapped() {
  sq "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = $1 AND sincronizado"
}

update_at=$(sq "SELECT clock_timestamp()")
sq "UPDATE clientes SET nome = nome || ' (revisado)' WHERE nome LIKE 'Massa %'" >/dev/null
t_update=$(now_ms)
sleep 5  # the backlog starts draining

printf '%-7s %-13s %-12s %-15s %s\n' sample "jobs ahead" "waited (s)" "FIFO wait (s)" ratio
rows=()
for i in $(seq 1 "$SAMPLES"); do
  ahead=$(not_done)
  t0=$(now_ms)
  id=$(sq "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Novo $i') RETURNING id")
  until [ "$(mapped "$id")" = 1 ]; do
    sleep 0.1
    [ $(( $(now_ms) - t0 )) -lt 600000 ] || { echo "client $id not synced in 600 s"; exit 1; }
  done
  t1=$(now_ms)
  # The drain rate so far: the UPDATE's jobs done since it committed, per second.
  rate=$(awk -v d="$(done_count "$update_at")" -v ms=$((t1 - t_update)) 'BEGIN {printf "%.2f", d / (ms / 1000)}')
  waited=$(awk -v ms=$((t1 - t0)) 'BEGIN {printf "%.1f", ms / 1000}')
  fifo=$(awk -v a="$ahead" -v r="$rate" 'BEGIN {printf "%.0f", a / r}')
  ratio=$(awk -v w="$waited" -v f="$fifo" 'BEGIN {printf "%.3f", w / f}')
  printf '%-7s %-13s %-12s %-15s %s\n' "$i" "$ahead" "$waited" "$fifo" "$ratio"
  rows+=("$waited")
  sleep "$INTERVAL"
done
echo "new clients' wait: median $(printf '%s\n' "${rows[@]}" | median) s, max $(printf '%s\n' "${rows[@]}" | sort -n | tail -1) s"
echo "drain rate of the UPDATE's jobs: $rate jobs/s (budget 20 requests/s)"
