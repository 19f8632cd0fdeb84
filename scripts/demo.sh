#!/usr/bin/env bash
# `make demo`: builds, starts a private PostgreSQL and the Chatwoot simulator, and
# walks through what chatwoot_sync does so far, narrating each step.
# KEEP=1 leaves the cluster and the simulator running and prints how to connect.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source test/lib/cluster.sh
source test/lib/simulator.sh

DEMO_DIR=/tmp/chatwoot_sync_demo
KEEP="${KEEP:-0}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Waits (up to 30 s) until the worker has nothing left to do: nothing pending or being sent,
# nothing in the change log. A sleep would show a half-done step on a slow machine.
wait_queue() {
  for _ in $(seq 1 300); do
    [ "$(psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c \
         "SELECT NOT EXISTS (SELECT 1 FROM chatwoot.fila WHERE estado IN ('pendente', 'processando'))
             AND NOT EXISTS (SELECT 1 FROM chatwoot.mudancas)")" = t ] && return 0
    sleep 0.1
  done
  echo "(the queue is still not empty after 30 s)"
}
run_sql() { printf '\033[2mzattar=# %s\033[0m\n' "$1"; psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c "$1"; }

finish() {
  if [ "$KEEP" = 1 ]; then return; fi
  sim_stop_all
  cluster_stop "$DEMO_DIR" fast
}
trap finish EXIT

if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
  echo "stopping a previous demo left running with KEEP=1"
  bash scripts/demo-stop.sh >/dev/null 2>&1 || true
fi
rm -rf "$DEMO_DIR"

step "Build and install the extension, the core library and the Chatwoot simulator"
make -j2 >/dev/null && make install >/dev/null
cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/cmake -j2 --target chatwoot-sim >/dev/null
echo "ok"

step "Start a private PostgreSQL 15 with shared_preload_libraries = 'chatwoot_sync'"
PORT=$(free_port)
cluster_init "$DEMO_DIR" "$PORT" "chatwoot_sync.database_name = 'zattar'"
cluster_start "$DEMO_DIR"
echo "PostgreSQL on 127.0.0.1:$PORT, data in $DEMO_DIR/data"

step "Start the Chatwoot simulator (a faithful stand-in: Chatwoot cannot run here)"
# As hard as a production Chatwoot: behind an nginx that drops headers with '_', racing
# concurrent writes, and rack-attack's default 3,000 requests per minute per IP.
sim_start --proxy --concurrency real --rate-limit 3000/60
echo "$SIM_PID" > "$DEMO_DIR/simulator.pid"
echo "Chatwoot API on $SIM_URL, control API on $SIM_CONTROL (token: sim-admin-token, account 1, inbox 1)"
echo "behind a proxy that drops api_access_token headers, rate limited to 3,000 requests per minute"

step "The law firm's database, with tables shaped like the Zattar app's"
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE zattar"
psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql
run_sql "SELECT id, tipo_pessoa, nome, ddd_celular, numero_celular FROM clientes ORDER BY id"

step "CREATE EXTENSION: the launcher notices the commit and starts this database's worker"
run_sql "CREATE EXTENSION chatwoot_sync"
run_sql "SELECT chatwoot.aguardar_worker(10000) AS worker_pronto"
run_sql "SELECT processo, banco, pid, estado, ultimo_ciclo_em FROM chatwoot.worker_status()"
run_sql "SELECT pid, backend_type, datname, state FROM pg_stat_activity WHERE backend_type LIKE 'chatwoot%'"

step "Connect the Chatwoot account and test the connection"
run_sql "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1) AS integracao_id"
run_sql "SELECT jsonb_pretty(chatwoot.testar_conexao())"

step "A wrong token, an unknown account, and Chatwoot down give clear answers, never a hang"
run_sql "SELECT chatwoot.configurar('$SIM_URL', 'token-errado', 1, 1, 'errado')"
run_sql "SELECT chatwoot.testar_conexao((SELECT id FROM chatwoot.integracoes WHERE nome = 'errado')) ->> 'erro' AS erro"
run_sql "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 999, NULL, 'conta_inexistente')"
run_sql "SELECT chatwoot.testar_conexao((SELECT id FROM chatwoot.integracoes WHERE nome = 'conta_inexistente')) ->> 'erro' AS erro"
sim_faults '{"down": true}'
run_sql "SELECT chatwoot.testar_conexao() ->> 'erro' AS erro"
sim_faults '{"down": false}'
run_sql "SELECT chatwoot.testar_conexao() ->> 'ok' AS ok_de_novo"
run_sql "DELETE FROM chatwoot.integracoes WHERE nome <> 'padrao'"

step "The app's role sees the connection but never the key"
run_sql "CREATE ROLE app_zattar LOGIN"
run_sql "SELECT chatwoot.conceder_acesso_app('app_zattar')"
printf '\033[2mzattar=> SELECT api_key FROM chatwoot.integracoes  -- as app_zattar\033[0m\n'
psql -X -q -h 127.0.0.1 -p "$PORT" -U app_zattar -d zattar -c "SELECT api_key FROM chatwoot.integracoes" 2>&1 || true
psql -X -q -h 127.0.0.1 -p "$PORT" -U app_zattar -d zattar -c "SELECT id, nome, api_url, account_id FROM chatwoot.integracoes"

step "Track the law firm's party tables: clients, opposing parties, third parties"
run_sql "SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'), chatwoot.rastrear('terceiros', 'terceiro')"
run_sql "SELECT chatwoot.sincronizar_app_para_chatwoot() AS partes_enfileiradas"
wait_queue
run_sql "SELECT tipo_entidade, entidade_id, chatwoot_contact_id, sincronizado, erro_sincronizacao FROM chatwoot.partes_chatwoot ORDER BY 1, 2"
echo "Contacts now in the simulator:"
curl -s "$SIM_CONTROL/__sim/accounts/1/contacts" | jq -r '.[] | "  #\(.id)  \(.identifier)  \(.name)  \(.phone_number // "-")  \(.email // "-")"'

step "The app inserts 300 new clients (one of them with an impossible phone): the worker drains the queue"
run_sql "INSERT INTO clientes (tipo_pessoa, nome, emails, ddd_celular, numero_celular) SELECT 'pf', 'Cliente Demo ' || g, jsonb_build_array('demo' || g || '@example.com'), '11', (930000000 + g)::text FROM generate_series(1, 299) g"
run_sql "INSERT INTO clientes (tipo_pessoa, nome, ddd_celular, numero_celular) VALUES ('pf', 'Telefone Impossível', '11', '123')"
for i in 1 2 3 4 5 6; do
  psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c "SELECT 'fila: ' || string_agg(estado || '=' || quantidade, ', ' ORDER BY estado) FROM chatwoot.fila_resumo"
  sleep 0.5
done
run_sql "SELECT estado, tipo, quantidade, por_segundo_5min FROM chatwoot.fila_resumo ORDER BY 1, 2"
run_sql "SELECT processo, banco, estado, jobs_processados, em_andamento, round(vazao_por_segundo::numeric, 1) AS vazao FROM chatwoot.worker_status()"
run_sql "SELECT origem, tipo_entidade, entidade_id, erro FROM chatwoot.erros_sincronizacao"
echo "Contacts in the simulator: $(curl -s "$SIM_CONTROL/__sim/accounts/1/contacts" | jq length)"

step "Chatwoot refuses the token (an admin revoked it): the integration pauses, no job spends an attempt"
run_sql "UPDATE chatwoot.integracoes SET api_key = 'token-revogado' WHERE nome = 'padrao'"
run_sql "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Durante a Pausa', '[\"pausa@example.com\"]')"
for _ in $(seq 1 300); do  # until the worker has met the refusal
  [ -n "$(psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c \
          "SELECT motivo_pausa FROM chatwoot.worker_status() WHERE processo = 'worker'")" ] && break
  sleep 0.1
done
run_sql "SELECT estado, motivo_pausa FROM chatwoot.worker_status() WHERE processo = 'worker'"
run_sql "SELECT estado, tipo, quantidade, pausa FROM chatwoot.fila_resumo WHERE estado = 'pendente'"
step "configurar with the right token resumes it"
run_sql "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1) AS integracao_id"
wait_queue
run_sql "SELECT p.entidade_id, p.chatwoot_contact_id, p.sincronizado FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Durante a Pausa'"

step "An edit of a mapped field becomes one PUT (after the 3 s update debounce); an edit of anything else, nothing"
curl -s -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null
run_sql "UPDATE clientes SET nome = 'MARIA APARECIDA DOS SANTOS SILVA' WHERE id = 1"
run_sql "UPDATE clientes SET updated_at = now() WHERE id = 2"
wait_queue
echo "Requests Chatwoot received for the two edits:"
curl -s "$SIM_CONTROL/__sim/requests" | jq -r '.[] | "  \(.method) \(.path) -> \(.status)"'

if [ "$KEEP" = 1 ]; then
  step "Left running (KEEP=1)"
  echo "psql:       psql -h 127.0.0.1 -p $PORT -U postgres zattar"
  echo "simulator:  $SIM_URL  (control: $SIM_CONTROL/__sim/requests, /__sim/faults)"
  echo "stop:       bash scripts/demo-stop.sh"
  trap - EXIT
else
  step "Done: cluster and simulator stopped (run 'make demo KEEP=1' to keep them up)"
fi
