#!/usr/bin/env bash
# Fairness of the queue under a bulk UPDATE (issue 17, T3-10): one statement edits
# 1,500 clients while Chatwoot's request budget allows 10 requests a second, so their
# jobs take minutes to drain. A client inserted meanwhile must not wait behind all of
# them (at Chatwoot's 50 requests a second, a 5-million-row UPDATE put it 57 hours
# back): each claim also takes the newest due jobs, and a claim holds only about two
# seconds of the budget, so little waits on the wire ahead of a new job. The oldest
# jobs keep draining meanwhile (nothing starves).
source "$(dirname "$0")/../lib/integration.sh"
plan 6

it_zattar fairness "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'"
# 100 requests per 10 s window: 10 a second, Chatwoot's fixed-window throttle scaled down.
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 100, janela_limite_s => 10)" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails)
          SELECT 'pf', 'Cliente em Massa ' || g, jsonb_build_array('massa' || g || '@example.com') FROM generate_series(1, 1500) g;
          SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null

backlog() {  # STATE, or 'todo': not done yet (pending, or claimed and waiting on the wire)
  q zattar "SELECT count(*) FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id
            WHERE f.tipo_entidade = 'cliente' AND c.nome LIKE 'Cliente em Massa %'
              AND CASE WHEN '$1' = 'todo' THEN f.estado IN ('pendente', 'processando') ELSE f.estado = '$1' END"
}
synced() { sim_contacts | jq -e --arg i "zattar_cliente_$1" 'any(.[]; .identifier == $i)' >/dev/null; }
at_least() { [ "$("${@:2}")" -ge "$1" ]; }

q zattar "UPDATE clientes SET nome = nome || ' (revisado)' WHERE nome LIKE 'Cliente em Massa %'" >/dev/null
eventually 30 "one UPDATE of 1,500 clients queues 1,500 jobs, and they start draining (20 done)" \
  at_least 20 backlog concluido
before=$(backlog todo)
check "the UPDATE's backlog is large when the new client comes ($before jobs not done)" test "${before:-0}" -ge 1200

start=$SECONDS
c=$(q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente Novo Durante a Massa') RETURNING id")
eventually 20 "a client inserted behind that backlog syncs within 20 s" synced "$c"
took=$((SECONDS - start))
left=$(backlog todo)
check "when it synced (after ${took} s) ${left} of the UPDATE's jobs were still not done (>= 1000): it did not wait its turn" \
  test "${left:-0}" -ge 1000
done_then=$(backlog concluido)
eventually 30 "the oldest jobs keep draining meanwhile: 50 more of the UPDATE's jobs done within 30 s" \
  at_least $((done_then + 50)) backlog concluido
check "no job of the UPDATE failed or died" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND estado = 'morto'")" = 0
exit $IT_FAILED
