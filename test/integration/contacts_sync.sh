#!/usr/bin/env bash
# Contact sync app -> Chatwoot against the simulator: 1,000 mixed parties with no
# duplicates, bad data recorded per field, coalesced update storms, and the queue
# surviving 500s, 429 bursts, hangs, the simulator going down and kill -9 of the worker.
source "$(dirname "$0")/../lib/integration.sh"

it_zattar sync "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.request_timeout = '1s'" \
  "chatwoot_sync.max_concurrency = 16"
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro')" >/dev/null

sim_contacts() { curl -sf "$SIM_CONTROL/__sim/accounts/1/contacts"; }
requests_json() { curl -sf "$SIM_CONTROL/__sim/requests"; }
clear_requests() { curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null; }
queue_drained() { [ "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado IN ('pendente', 'processando')")" = 0 ]; }
no_duplicates() {
  local contacts; contacts=$(sim_contacts)
  [ "$(jq '[.[].identifier | select(. != null)] | length - (unique | length)' <<<"$contacts")" = 0 ] &&
  [ "$(jq '[.[].email | select(. != null)] | length - (unique | length)' <<<"$contacts")" = 0 ] &&
  [ "$(jq '[.[].phone_number | select(. != null)] | length - (unique | length)' <<<"$contacts")" = 0 ]
}

# --- the fixture's five parties (queued in bulk), then 1,000 more of mixed types --------
check "rastrear alone queues no existing row" test "$(q zattar "SELECT count(*) FROM chatwoot.fila")" = 0
q zattar "SELECT chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
clear_requests
q zattar "
  INSERT INTO clientes (tipo_pessoa, nome, emails, ddd_celular, numero_celular)
  SELECT 'pf', 'Cliente ' || g, jsonb_build_array('cliente' || g || '@example.com'), '11', (910000000 + g)::text
    FROM generate_series(1, 400) g;
  INSERT INTO partes_contrarias (tipo_pessoa, nome, cnpj, emails)
  SELECT 'pj', 'EMPRESA ' || g || ' LTDA', NULL, jsonb_build_array('empresa' || g || '@example.com')
    FROM generate_series(1, 300) g;
  -- 50 third parties are the same people as clients 1..50 (same e-mail): one contact each.
  INSERT INTO terceiros (tipo_pessoa, nome, emails, tipo_parte, polo)
  SELECT 'pf', 'Terceiro ' || g,
         jsonb_build_array(CASE WHEN g <= 50 THEN 'cliente' || g || '@example.com' ELSE 'terceiro' || g || '@example.com' END),
         'testemunha', 'ativo'
    FROM generate_series(1, 300) g;" >/dev/null
eventually 60 "1,000 new parties drain" queue_drained
check "1,005 parties are mapped and synced" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE chatwoot_contact_id IS NOT NULL AND sincronizado")" = 1005
check "955 distinct contacts: the 50 shared people map to one contact each" \
  test "$(q zattar "SELECT count(DISTINCT chatwoot_contact_id) FROM chatwoot.partes_chatwoot")" = 955
check "the simulator holds exactly those 955 contacts" test "$(sim_contacts | jq length)" = 955
check "no duplicate identifier, e-mail or phone in Chatwoot" no_duplicates
new_requests=$(requests_json | jq '[.[] | select(.path | test("/contacts"))] | length')
check "at most 2 requests per new contact ($new_requests for 1,000 parties)" test "$new_requests" -le 2000
check "nothing is dead" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0

# --- an idle worker sleeps: no polling loop once the queue is empty ---------------------
wpid=$(q zattar "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker'")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(cpu_ticks "$wpid"); sleep 3; t1=$(cpu_ticks "$wpid")
check "the idle worker used under 3 % of a core over 3 s ($((t1 - t0)) ticks of 300)" test $((t1 - t0)) -lt 9

# --- an update of a mapped party is exactly one request ---------------------------------
clear_requests
q zattar "UPDATE clientes SET nome = 'Cliente Sete Atualizado' WHERE nome = 'Cliente 7'" >/dev/null
eventually 10 "the update drains (after the update debounce)" queue_drained
check "an update is one PUT" test "$(requests_json | jq '[.[] | select(.method == "PUT")] | length')" = 1
id7=$(q zattar "SELECT id FROM clientes WHERE nome = 'Cliente Sete Atualizado'")
check "Chatwoot has the new name" \
  test "$(sim_contacts | jq -r --arg id "zattar_cliente_$id7" '.[] | select(.identifier == $id) | .name')" = "Cliente Sete Atualizado"

# --- an update storm is coalesced -------------------------------------------------------
clear_requests
for round in $(seq 1 20); do
  q zattar "UPDATE clientes SET nome = 'Storm ' || id || ' r$round' WHERE id BETWEEN 100 AND 149" >/dev/null
done
eventually 20 "the storm drains" queue_drained
storm=$(requests_json | jq length)
check "1,000 updates over 50 clients are coalesced into at most 100 requests (saw $storm)" test "$storm" -le 100
check "the last write wins" \
  test "$(sim_contacts | jq -r '.[] | select(.identifier == "zattar_cliente_120") | .name')" = "Storm 120 r20"

# --- bad data: every INSERT succeeds, each bad field has a recorded reason ---------------
q zattar "INSERT INTO clientes (tipo_pessoa, nome, cpf, emails, ddd_celular, numero_celular) VALUES
  ('pf', 'Telefone Impossível', NULL, '[\"tel@example.com\"]', '11', '123'),
  ('pf', 'Email Ruim', NULL, '[\"sem arroba\"]', NULL, NULL),
  ('pf', repeat('N', 300), NULL, NULL, NULL, NULL),
  ('pf', E'Contr\u0001ole 😀 \"aspas\" O''Brien; DROP TABLE clientes;--', '111.111.111-11', NULL, NULL, NULL)" >/dev/null
check "every bad-data INSERT succeeded" test "$(q zattar "SELECT count(*) FROM clientes WHERE nome LIKE 'Telefone Imp%' OR nome = 'Email Ruim' OR length(nome) = 300 OR nome LIKE 'Contr%'")" = 4
eventually 15 "bad-data parties drain" queue_drained
check "impossible phone recorded" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Telefone Impossível' AND p.sincronizado AND p.erro_sincronizacao LIKE '%telefone%'")" = 1
check "bad e-mail recorded" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Email Ruim' AND p.erro_sincronizacao LIKE '%email inválido%'")" = 1
check "long name cut to 255 and recorded" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE length(c.nome) = 300 AND p.erro_sincronizacao LIKE '%255%'")" = 1
check "invalid CPF recorded, contact still synced" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Contr%' AND p.sincronizado AND p.erro_sincronizacao LIKE '%CPF inválido%'")" = 1
check "the emoji-and-quotes name reached Chatwoot intact" \
  test "$(sim_contacts | jq -r '[.[] | select(.name | startswith("Controle 😀"))] | length')" = 1

# --- 500s and 429 bursts: everything ends concluido, nothing dead ----------------------
sim_faults '{"error_500_rate": 0.3, "throttle_rate": 0.1}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', 'Falhas ' || g, jsonb_build_array('falhas' || g || '@example.com') FROM generate_series(1, 200) g" >/dev/null
sleep 3
sim_clear_faults
eventually 60 "200 parties drain through 500s and 429s" queue_drained
check "none of them is dead" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0
check "all 200 are mapped" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Falhas %' AND p.sincronizado")" = 200
check "still no duplicates" no_duplicates

# --- hangs past the timeout, then the simulator down, then back -------------------------
sim_faults '{"hang_ms": 3000}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Travado ' || g FROM generate_series(1, 20) g" >/dev/null
sleep 2
sim_faults '{"hang_ms": 0, "down": true}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Fora do ar ' || g FROM generate_series(1, 20) g" >/dev/null
sleep 5
check "while Chatwoot is down nothing is dead" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0
sim_faults '{"down": false}'
sim_clear_faults
eventually 90 "after the outage the queue drains" queue_drained
check "hung and down-time parties all synced" test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE (c.nome LIKE 'Travado %' OR c.nome LIKE 'Fora do ar %') AND p.sincronizado")" = 40
check "still no duplicates" no_duplicates

# terceiros_synced PREFIX: how many third parties named "PREFIX n" are mapped and synced.
terceiros_synced() { q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN terceiros t ON t.id = p.entidade_id AND p.tipo_entidade = 'terceiro' WHERE t.nome LIKE '$1 %' AND p.sincronizado"; }
# terceiros_jobs PREFIX EXPR [CONDITION]: EXPR over the queue jobs of those third parties.
terceiros_jobs() { q zattar "SELECT $2 FROM chatwoot.fila f JOIN terceiros t ON t.id = f.entidade_id AND f.tipo_entidade = 'terceiro' WHERE t.nome LIKE '$1 %' ${3:+AND $3}"; }

# --- kill -9 of the worker, repeatedly, mid-drain --------------------------------------
sim_faults '{"latency_ms": 20}'
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Kill ' || g, 'perito', 'neutro' FROM generate_series(1, 1500) g" >/dev/null
for round in 1 2 3; do
  sleep 2
  pid=$(q zattar "SELECT pid FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'")
  [ -n "$pid" ] && kill -9 "$pid"
  cluster_wait_ready "$IT_PORT" 60
  for _ in $(seq 1 100); do q zattar "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
done
sim_clear_faults
eventually 120 "after three kill -9 the queue drains" queue_drained
check "0 lost: all 1,500 mapped" test "$(terceiros_synced Kill)" = 1500
check "0 duplicate contacts after the crashes" no_duplicates

# --- pg_ctl stop -m immediate mid-drain, then restart ------------------------------------
sim_faults '{"latency_ms": 20}'
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Imediato ' || g, 'perito', 'neutro' FROM generate_series(1, 1000) g" >/dev/null
sleep 2
cluster_stop "$IT_DIR" immediate
cluster_start "$IT_DIR"
sim_clear_faults
eventually 60 "after an immediate shutdown and restart the queue drains" queue_drained
check "0 lost after the immediate shutdown: all 1,000 mapped" test "$(terceiros_synced Imediato)" = 1000
check "0 duplicate contacts after the immediate shutdown" no_duplicates

# --- SIGTERM mid-drain (fast shutdown): results recorded, unsent jobs given back ---------
sim_faults '{"latency_ms": 20}'
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Termino ' || g, 'perito', 'neutro' FROM generate_series(1, 1000) g" >/dev/null
for _ in $(seq 1 100); do done_before=$(terceiros_jobs Termino "count(*)" "f.estado = 'concluido'"); [ "$done_before" -gt 0 ] && break; sleep 0.1; done
cluster_stop "$IT_DIR" fast
check "the worker was mid-drain when SIGTERM came (some done, not all: $done_before)" \
  bash -c "[ $done_before -gt 0 ] && [ $done_before -lt 1000 ]"
cluster_start "$IT_DIR"
sim_clear_faults
eventually 60 "after a fast shutdown mid-drain the queue drains" queue_drained
check "0 lost after the fast shutdown: all 1,000 mapped" test "$(terceiros_synced Termino)" = 1000
check "0 duplicate contacts after the fast shutdown" no_duplicates
# On SIGTERM the worker recorded what it had sent and gave back what it had not: start-up
# found no job of this batch left 'processando' to requeue, and none lost an attempt to it.
check "no job was left in flight by the SIGTERM (none requeued at start-up)" \
  test "$(terceiros_jobs Termino "count(*)" "f.ultimo_erro LIKE 'worker interrompido%'")" = 0
check "no job of the batch needed more than two attempts" \
  test "$(terceiros_jobs Termino "coalesce(max(f.tentativas), 0)")" -le 2
check "the worker logged no ERROR on its way out" bash -c "! grep -E 'chatwoot_sync worker (ERROR|PANIC):' '$IT_DIR/server.log'"

# --- a bulk statement bigger than a claim, with the poll a minute away --------------------
# Its ids come in 'lote' jobs of 5,000 (5,000, 5,000, 2,000); a claim of 8,000 takes
# the first and 3,000 of the second, which keeps the other 2,000: they and the last
# lote must follow at once, not at the next poll a minute later.
q zattar "ALTER SYSTEM SET chatwoot_sync.batch_size = 8000" >/dev/null
q zattar "ALTER SYSTEM SET chatwoot_sync.poll_interval = '60s'" >/dev/null
q zattar "SELECT pg_reload_conf()" >/dev/null
sleep 1
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Lote ' || g, 'perito', 'neutro' FROM generate_series(1, 12000) g" >/dev/null
eventually 40 "12,000 parties of one statement drain well before the next poll" queue_drained
check "all 12,000 mapped and synced" test "$(terceiros_synced Lote)" = 12000
q zattar "ALTER SYSTEM RESET chatwoot_sync.batch_size" >/dev/null
q zattar "ALTER SYSTEM RESET chatwoot_sync.poll_interval" >/dev/null
q zattar "SELECT pg_reload_conf()" >/dev/null

# --- a party in a lote whose own job is claimed with it is sent once -----------------------
# A claim takes the due jobs first, then parties from the lotes. Ten parties of a bulk
# INSERT also get a job of their own (sincronizar_parte) while no connection is active;
# once one is, the claim takes those ten jobs and then the lote, where the same ten are
# covered by the jobs just claimed: each of the 1,500 parties costs one filter and one
# create, and has one job.
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Coberto ' || g, 'perito', 'neutro' FROM generate_series(1, 1500) g" >/dev/null
q zattar "SELECT chatwoot.sincronizar_parte('terceiro', id) FROM terceiros WHERE nome IN (SELECT 'Coberto ' || g FROM generate_series(1, 10) g)" >/dev/null
check "the ten jobs and the lote wait for a connection" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE tipo = 'upsert_contato') || '+' || count(*) FILTER (WHERE tipo = 'lote') FROM chatwoot.fila WHERE estado = 'pendente'")" = "10+1"
clear_requests
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
eventually 30 "the lote and the ten jobs drain" queue_drained
check "all 1,500 mapped and synced" test "$(terceiros_synced Coberto)" = 1500
covered_requests=$(requests_json | jq '[.[] | select(.path | test("/contacts"))] | length')
check "each party of the lote cost two requests, none more ($covered_requests for 1,500)" test "$covered_requests" = 3000
check "each party of the lote has one job" test "$(terceiros_jobs Coberto "count(*) || '/' || count(DISTINCT f.entidade_id)")" = "1500/1500"

# --- deletion: soft by default ----------------------------------------------------------
id9=$(q zattar "SELECT id FROM clientes WHERE nome = 'Cliente 9'")
q zattar "DELETE FROM contratos; DELETE FROM clientes WHERE id = $id9" >/dev/null
eventually 10 "the deletion drains" queue_drained
check "deleted party is marked not synced" \
  test "$(q zattar "SELECT sincronizado FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = $id9")" = f
check "its contact stays in Chatwoot with ativo false" \
  test "$(sim_contacts | jq -r --arg id "zattar_cliente_$id9" '.[] | select(.identifier == $id) | .custom_attributes.ativo')" = false

exit $IT_FAILED
