#!/usr/bin/env bash
# Contact sync against the simulator in its faithful modes (issue: true to a real
# Chatwoot): behind a proxy that drops headers with '_', racing writes checked by SELECT
# before INSERT, rack-attack's fixed-window rate limit, inbox channels that need a
# phone or an e-mail, crm_v2 filters, shared contacts, refused connections, fields the
# app empties, and replies lost after the write was applied.
source "$(dirname "$0")/../lib/integration.sh"
plan 74

SIM_ARGS="--proxy --concurrency real --rate-limit 3000/60" IT_BUDGET="" \
  it_zattar real "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'" \
    "chatwoot_sync.max_backoff = '2s'"
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro')" >/dev/null
api() {  # api METHOD PATH [JSON]: Chatwoot's API as a person would use it
  curl -sf -X "$1" -H 'Api-Access-Token: sim-admin-token' -H 'Content-Type: application/json' ${3:+-d "$3"} "$SIM_URL/api/v1/accounts/1$2"
}
contact_of() { q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot WHERE tipo_entidade = '$1' AND entidade_id = $2"; }
sim_contact() { sim_contacts | jq -c --argjson id "$1" '.[] | select(.id == $id)'; }
id_of() { q zattar "SELECT id FROM $1 WHERE nome = '$2'"; }
eventually 30 "behind the proxy, with the token in Api-Access-Token, the fixture syncs" queue_drained
check "the proxy really drops api_access_token: Chatwoot answers 401 to it" \
  test "$(curl -s -o /dev/null -w '%{http_code}' -H 'api_access_token: sim-admin-token' "$SIM_URL/api/v1/profile")" = 401
check "testar_conexao works behind the proxy" test "$(q zattar "SELECT chatwoot.testar_conexao()->>'ok'")" = true

# --- racing creates of one person: never two operations whose keys overlap ---------------------
sim_set_faults '{"latency_ms": 30}'
sim_mode '{"race_window_ms": 40}' >/dev/null
# Room for all 80 at once: each client and its opposing party start together.
q zattar "ALTER SYSTEM SET chatwoot_sync.max_concurrency = 100" >/dev/null
check "the worker reloaded max_concurrency = 100 (worker_status().recargas_config went up)" reload_settings zattar
clear_requests
# The same person as client and as opposing party, in one transaction, claimed together:
# 20 share only a phone (no unique index in Chatwoot), 20 only an e-mail.
pairs=""
for g in $(seq 1 40); do
  if [ "$g" -le 20 ]; then cols="ddd_celular, numero_celular"; vals="'21', '$((981000000 + g))'"
  else cols="emails"; vals="'[\"corrida$g@example.com\"]'"; fi
  pairs+="INSERT INTO clientes (tipo_pessoa, nome, $cols) VALUES ('pf', 'Corrida $g', $vals);
          INSERT INTO partes_contrarias (tipo_pessoa, nome, $cols) VALUES ('pf', 'Corrida $g', $vals);"
done
q zattar "BEGIN; $pairs COMMIT;" >/dev/null
eventually 60 "80 parties of 40 people drain" queue_drained
contacts=$(sim_contacts)
check "Chatwoot holds exactly 40 contacts for them (no duplicate phone)" \
  test "$(jq '[.[] | select(.name | startswith("Corrida "))] | length' <<<"$contacts")" = 40
check "no two contacts share a phone" \
  test "$(jq '[.[].phone_number | select(. != null)] | length - (unique | length)' <<<"$contacts")" = 0
check "each person was created once, and no create was refused or lost to a race (500)" \
  test "$(requests_json | jq '[.[] | select(.method == "POST" and (.path | endswith("/contacts")))] | (map(select(.status == 200)) | length) == 40 and (map(select(.status >= 400)) | length) == 0')" = true
check "each client and its opposing party map to the same contact" \
  test "$(q zattar "SELECT count(DISTINCT p.chatwoot_contact_id) FROM chatwoot.partes_chatwoot p
                    JOIN (SELECT 'cliente' k, id FROM clientes WHERE nome LIKE 'Corrida %'
                          UNION ALL SELECT 'parte_contraria', id FROM partes_contrarias WHERE nome LIKE 'Corrida %') x
                      ON x.k = p.tipo_entidade AND x.id = p.entidade_id")" = 40
# Creates whose answer is lost after Chatwoot applied them. libcurl sends a request once
# more by itself when a reused connection dies before any byte of the answer: that
# second create is refused as taken, and the worker then finds the contact and adopts it.
clear_requests
sim_set_faults '{"latency_ms": 0, "after_apply": {"action": "drop", "next": 5, "path_regex": "/contacts$"}}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', 'Perdida ' || g, jsonb_build_array('perdida' || g || '@example.com') FROM generate_series(1, 10) g" >/dev/null
eventually 30 "ten parties drain though five creates lost their answer" queue_drained
check "five creates were applied with their answer lost" \
  test "$(requests_json | jq '[.[] | select(.fault == "after_apply_drop")] | length')" = 5
check "still exactly ten contacts, each created once" \
  test "$(sim_contacts | jq '[.[] | select(.name | startswith("Perdida "))] | length')|$(creates_summary "$(requests_json)" 'zattar_cliente_')" = "10|once=5 more=0 refused=5"
check "each of the ten maps to its contact, none dead" \
  test "$(q zattar "SELECT count(DISTINCT p.chatwoot_contact_id) FILTER (WHERE p.sincronizado) || '|' || (SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto')
                    FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Perdida %'")" = "10|0"
# Creates applied, then answered 500 (Chatwoot or a proxy failing after the commit): the
# job is retried, and the retry's lookup finds the contact: no second create is sent.
clear_requests
sim_set_faults '{"latency_ms": 0, "after_apply": {"action": "error_500", "next": 5, "path_regex": "/contacts$"}}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) SELECT 'pf', 'Quinhentos ' || g, jsonb_build_array('quinhentos' || g || '@example.com') FROM generate_series(1, 10) g" >/dev/null
eventually 60 "ten parties drain though five creates were answered 500 after they were applied" queue_drained
log=$(requests_json)
check "five creates were applied and answered 500" \
  test "$(jq '[.[] | select(.fault == "after_apply_500")] | length' <<<"$log")" = 5
check "still exactly ten contacts, ten creates sent in all (the retries looked up first)" \
  test "$(sim_contacts | jq '[.[] | select(.name | startswith("Quinhentos "))] | length')|$(jq '[.[] | select(.method == "POST" and (.path | test("/contacts$")))] | length' <<<"$log")|$(creates_summary "$log" 'zattar_cliente_')" = "10|10|once=5 more=0 refused=0"
check "the five retried jobs took two attempts, the others one; each maps to its contact" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE f.tentativas = 2) || '|' || count(*) FILTER (WHERE f.tentativas = 1) || '|' || count(DISTINCT p.chatwoot_contact_id)
                    FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente'
                    JOIN chatwoot.partes_chatwoot p ON p.tipo_entidade = 'cliente' AND p.entidade_id = c.id
                   WHERE c.nome LIKE 'Quinhentos %' AND f.estado = 'concluido'")" = "5|5|10"
sim_clear_faults
sim_mode '{"race_window_ms": 2}' >/dev/null
q zattar "ALTER SYSTEM RESET chatwoot_sync.max_concurrency" >/dev/null
q zattar "SELECT pg_reload_conf()" >/dev/null

# --- shared contacts: one owner, sharers never write its identity ----------------------------------
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Dona Compartilhada', '[\"partilha@example.com\"]')" >/dev/null
eventually 15 "the client is synced" queue_drained
q zattar "INSERT INTO terceiros (tipo_pessoa, nome, emails, tipo_parte, polo) VALUES ('pf', 'DONA COMPARTILHADA', '[\"partilha@example.com\"]', 'testemunha', 'ativo')" >/dev/null
eventually 15 "the witness (the same person: the same name, in capitals) is synced" queue_drained
cid=$(id_of clientes 'Dona Compartilhada'); tid=$(id_of terceiros 'DONA COMPARTILHADA'); shared=$(contact_of cliente "$cid")
check "the witness maps to the client's contact, as a sharer" \
  test "$(q zattar "SELECT string_agg(proprietario::text, ',' ORDER BY tipo_entidade) FROM chatwoot.partes_chatwoot WHERE chatwoot_contact_id = $shared")" = "true,false"
clear_requests
for round in 1 2 3; do
  q zattar "UPDATE terceiros SET nome = 'TESTEMUNHA $round' WHERE id = $tid; UPDATE clientes SET nome = 'Dona $round' WHERE id = $cid" >/dev/null
  eventually 10 "round $round of edits to both parties drains" queue_drained
done
check "no request wrote the witness's identity onto the shared contact" \
  test "$(requests_json | jq --arg t "zattar_terceiro_$tid" '[.[] | select(.body | contains($t))] | length')" = 0
check "the witness's syncs only looked (GET), the client's wrote (PUT)" \
  test "$(requests_json | jq -r --arg p "/contacts/$shared" '[.[] | select(.path | endswith($p)) | .method] | unique | join(",")')" = "GET,PUT"
check "the contact keeps the client's identifier and name" \
  test "$(sim_contact "$shared" | jq -r '.identifier + "|" + .name')" = "zattar_cliente_$cid|Dona 3"
q zattar "SELECT chatwoot.desincronizar('terceiro', $tid)" >/dev/null
eventually 10 "the witness's desincronizar drains" queue_drained
check "unsyncing the sharer leaves the shared contact active" test "$(sim_contact "$shared" | jq -r .custom_attributes.ativo)" = true
q zattar "SELECT chatwoot.sincronizar_parte('terceiro', $tid)" >/dev/null
eventually 10 "the witness syncs again" queue_drained
q zattar "DELETE FROM clientes WHERE id = $cid" >/dev/null
eventually 15 "deleting the owner drains" queue_drained
check "the contact was not deactivated: the witness, still active, took over its identity" \
  test "$(sim_contact "$shared" | jq -r '.identifier + "|" + (.custom_attributes.ativo | tostring) + "|" + .name')" = "zattar_terceiro_$tid|true|TESTEMUNHA 3"
check "the witness owns it now" \
  test "$(q zattar "SELECT proprietario FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'terceiro' AND entidade_id = $tid")" = t
q zattar "DELETE FROM terceiros WHERE id = $tid" >/dev/null
eventually 15 "deleting the last party drains" queue_drained
check "with no active party left the contact is deactivated under a released identifier" \
  test "$(sim_contact "$shared" | jq -r '(.custom_attributes.ativo | tostring) + "|" + (.identifier | test("-removido-") | tostring)')" = "false|true"

# --- fields the app empties are cleared on an owned contact -----------------------------------------
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails, ddd_celular, numero_celular, cpf)
          VALUES ('pf', 'Vai Esvaziar', '[\"esvazia@example.com\"]', '11', '97777-1234', '390.533.447-05')" >/dev/null
eventually 15 "a full client is synced" queue_drained
vid=$(id_of clientes 'Vai Esvaziar'); vc=$(contact_of cliente "$vid")
check "Chatwoot has its e-mail, phone and document" \
  test "$(sim_contact "$vc" | jq -r '[.email, .phone_number, .custom_attributes.documento] | map(. != null) | all')" = true
q zattar "UPDATE clientes SET emails = '[]', numero_celular = NULL, ddd_celular = NULL, cpf = NULL WHERE id = $vid" >/dev/null
eventually 15 "emptying them drains" queue_drained
check "Chatwoot's e-mail, phone and document are cleared" \
  test "$(sim_contact "$vc" | jq -c '[.email, .phone_number, .custom_attributes.documento]')" = "[null,null,null]"

# --- identifiers and e-mails match without case, as Chatwoot's filter does ------------------------
next=$(( $(q zattar "SELECT coalesce(max(id), 0) FROM partes_contrarias") + 1 ))
upper=$(api POST /contacts "{\"name\":\"Maiusculas\",\"identifier\":\"ZATTAR_PARTE_CONTRARIA_$next\"}" | jq .payload.contact.id)
q zattar "INSERT INTO partes_contrarias (tipo_pessoa, nome, emails) VALUES ('pj', 'Maiusculas', '[\"maiuscula@example.com\"]')" >/dev/null
eventually 15 "a party whose contact was saved in capitals drains" queue_drained
check "it adopted that contact (no second one) and wrote its identifier in our form" \
  test "$(contact_of parte_contraria "$next")|$(sim_contact "$upper" | jq -r .identifier)" = "$upper|zattar_parte_contraria_$next"

# --- crm_v2: a contact with only our identifier is invisible to the filter, found by search ---------
sim_mode '{"crm_v2": true}' >/dev/null
next=$(( $(q zattar "SELECT coalesce(max(id), 0) FROM clientes") + 1 ))
hidden=$(api POST /contacts "{\"name\":\"So Identificador\",\"identifier\":\"zattar_cliente_$next\"}" | jq .payload.contact.id)
clear_requests
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Agora Com Email', '[\"agora@example.com\"]')" >/dev/null
eventually 15 "the party drains" queue_drained
check "the refused create was followed by a search that found the contact, which it adopted" \
  test "$(requests_json | jq -r '[.[] | select(.path | test("/contacts(/search|/filter)?$")) | .method + (.path | sub(".*/contacts"; "")) + ":" + (.status | tostring)] | join(",")')|$(contact_of cliente "$next")" \
       = "POST/filter:200,POST:422,POST/filter:200,GET/search:200|$hidden" \
  || echo "#   $(requests_json | jq -c '[.[] | [.method, .path, .status]]')"
sim_mode '{"crm_v2": false}' >/dev/null

# --- a refused connection pauses the integration; reconfiguring resumes it -------------------------
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'token-errado', 1, 1)" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Pausa ' || g FROM generate_series(1, 20) g" >/dev/null
eventually_eq 15 "a wrong token pauses the integration, and worker_status says so" t \
  q zattar "SELECT pausado_ate = 'infinity' AND motivo_pausa LIKE '%token de API inválido%' FROM chatwoot.worker_status() WHERE processo = 'worker'"
check "fila_resumo shows the pause" test "$(q zattar "SELECT bool_and(pausa LIKE '%token%') FROM chatwoot.fila_resumo WHERE estado = 'pendente'")" = t
check "erros_sincronizacao shows it" test "$(q zattar "SELECT count(*) FROM chatwoot.erros_sincronizacao WHERE origem = 'integracao'")" = 1
sleep 3  # on purpose: three polls in which a worker that ignored the pause would spend attempts
# Each of the 20 waits either as a 0-attempt pending job or, not yet drained into the
# outbox (a paused worker does no per-commit work), in the change log.
check "no job spent an attempt on it (each of the 20 pending with 0 attempts, or still in the change log)" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM chatwoot.fila f WHERE f.tipo_entidade = 'cliente' AND f.entidade_id = c.id AND f.estado = 'pendente' AND f.tentativas = 0) OR EXISTS (SELECT 1 FROM chatwoot.mudancas m WHERE c.id = ANY (m.ids))) || '/' || count(*) || '/' || (SELECT count(*) FROM chatwoot.fila f WHERE f.tipo_entidade = 'cliente' AND f.entidade_id IN (SELECT id FROM clientes WHERE nome LIKE 'Pausa %') AND f.tentativas > 0) FROM clientes c WHERE c.nome LIKE 'Pausa %'")" = "20/20/0"
check "and the paused worker sends nothing more" \
  test "$(requests_json | jq '[.[] | select(.at_ms > (now * 1000 - 2500))] | length')" = 0
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1)" >/dev/null
eventually 20 "configurar with the right token resumes it and the 20 drain" queue_drained
check "the pause is over" test "$(q zattar "SELECT pausado_ate IS NULL FROM chatwoot.worker_status() WHERE processo = 'worker'")" = t
# Devise's 401 (no token reached Chatwoot) is explained as a proxy dropping the header.
sim_set_faults '{"reply": {"status": 401, "content_type": "application/json", "body": "{\"errors\":[\"You need to sign in or sign up before continuing.\"]}"}}'
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Sem token')" >/dev/null
eventually_eq 15 "a 401 without the token is explained as a proxy that dropped the header" t \
  q zattar "SELECT motivo_pausa LIKE '%proxy%' FROM chatwoot.worker_status() WHERE processo = 'worker'"
sim_clear_faults
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1)" >/dev/null
eventually 20 "reconfigured, it drains" queue_drained

# --- inbox channels: WhatsApp needs a phone, other API channels none ------------------------------
wa=$(curl -sf -X POST -d '{"name":"WhatsApp Zattar","channel_type":"Channel::Whatsapp"}' "$SIM_CONTROL/__sim/accounts/1/inboxes" | jq .id)
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, $wa)" >/dev/null
report=$(q zattar "SELECT chatwoot.testar_conexao()")
check "testar_conexao reports the WhatsApp channel and warns about parties without a phone" \
  test "$(jq -r '.inbox.channel_type + "|" + (.aviso | test("telefone") | tostring)' <<<"$report")" = "Channel::Whatsapp|true"
q zattar "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Sem Telefone', '[\"semtel@example.com\"]');
          INSERT INTO clientes (tipo_pessoa, nome, ddd_celular, numero_celular) VALUES ('pf', 'Com Telefone', '31', '98888-7777')" >/dev/null
none_dead_drained() { queue_drained && [ "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0 ]; }
eventually 20 "both drain, none dead" none_dead_drained
sem=$(contact_of cliente "$(id_of clientes 'Sem Telefone')"); com=$(contact_of cliente "$(id_of clientes 'Com Telefone')")
check "the party without a phone was created without the WhatsApp inbox" \
  test "$(sim_contact "$sem" | jq --argjson wa "$wa" '[.contact_inboxes[] | select(.inbox.id == $wa)] | length')" = 0
check "the party with a phone got it, the phone as source id" \
  test "$(sim_contact "$com" | jq -r --argjson wa "$wa" '[.contact_inboxes[] | select(.inbox.id == $wa) | .source_id] | join(",")')" = 5531988887777
q zattar "UPDATE clientes SET ddd_celular = '11', numero_celular = '96666-5555' WHERE nome = 'Sem Telefone'" >/dev/null
eventually 15 "giving it a phone drains" queue_drained
check "then it got its WhatsApp contact inbox, recorded in partes_chatwoot" \
  test "$(sim_contact "$sem" | jq -r --argjson wa "$wa" '[.contact_inboxes[] | select(.inbox.id == $wa) | .source_id] | join(",")')|$(q zattar "SELECT source_id || '|' || chatwoot_inbox_id FROM chatwoot.partes_chatwoot WHERE chatwoot_contact_id = $sem")" \
       = "5511966665555|5511966665555|$wa"
tg=$(curl -sf -X POST -d '{"name":"Telegram","channel_type":"Channel::Telegram"}' "$SIM_CONTROL/__sim/accounts/1/inboxes" | jq .id)
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, $tg)" >/dev/null
check "a channel the API cannot create contacts in is reported" \
  test "$(q zattar "SELECT chatwoot.testar_conexao()->>'aviso' LIKE '%Channel::Telegram%sem inbox%'")" = t
q zattar "INSERT INTO clientes (tipo_pessoa, nome, ddd_celular, numero_celular) VALUES ('pf', 'Via Telegram', '41', '95555-4444')" >/dev/null
eventually 15 "a party drains with that inbox configured" queue_drained
check "...created without the inbox, nothing dead" \
  test "$(sim_contact "$(contact_of cliente "$(id_of clientes 'Via Telegram')")" | jq '.contact_inboxes | length')|$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = "0|0"
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1)" >/dev/null

# --- the rate limit: paced to the budget, adapted when Chatwoot's limit is lower -------------------
# Scaled down: 40 requests per 2 s window. First the budget matches it, then Chatwoot's
# limit drops to 25 while the budget stays 40.
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => 40, janela_limite_s => 2)" >/dev/null
sim_mode '{"rate_limit": {"limit": 40, "period_s": 2}}' >/dev/null
q zattar "ALTER SYSTEM SET chatwoot_sync.max_concurrency = 4" >/dev/null
check "the worker reloaded max_concurrency = 4" reload_settings zattar
# On purpose: one window of the budget passes, so the measure below starts with all 40
# (the requests just above spent part of the current one; without this wait the rate
# measured 35.0 and 35.8 of 40 in two runs).
sleep 2
clear_requests
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Ritmo ' || g FROM generate_series(1, 120) g" >/dev/null
eventually 60 "240 requests under a 40-per-2 s budget drain" queue_drained
log=$(requests_json)
check "none was answered 429" test "$(jq '[.[] | select(.status == 429)] | length' <<<"$log")" = 0
# Sustained: requests over the span they took plus one window (the pacing sends in
# bursts of a window's budget; span alone would count the last burst as free).
rate=$(jq '[.[] | .at_ms - .duration_ms] | (length * 2000 / (max - min + 2000))' <<<"$log")
check "they used at least 90 % of the budget ($rate per 2 s of 40)" \
  test "$(awk -v r="$rate" 'BEGIN {print (r >= 36)}')" = 1
check "no window of Chatwoot's saw more than 40" \
  test "$(jq '[.[] | ((.at_ms - .duration_ms) / 2000 | floor)] | group_by(.) | map(length) | max' <<<"$log")" -le 40
sim_mode '{"rate_limit": {"limit": 25, "period_s": 2}}' >/dev/null
clear_requests
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Limite menor ' || g FROM generate_series(1, 250) g" >/dev/null
# fila_resumo reads the outbox: wait until the worker has moved the 250 changes into it.
in_outbox() { [ "$(q zattar "SELECT (SELECT count(*) FROM chatwoot.mudancas) = 0 AND count(*) = 250 FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Limite menor %'")" = t ]; }
for _ in $(seq 1 100); do in_outbox && break; sleep 0.1; done
# About 230 parties left, 2 requests each, at 40 per 2 s: some 23 s (26 at 2.25 requests a job).
estimate=$(q zattar "SELECT round(extract(epoch FROM sum(tempo_estimado))) FROM chatwoot.fila_resumo WHERE estado IN ('pendente', 'processando')")
check "fila_resumo estimates the time to drain the pending parties at the budget's pace (${estimate} s)" \
  test "${estimate:-0}" -ge 15 -a "${estimate:-0}" -le 40
eventually 120 "500 requests drain though Chatwoot allows only 25 per window" queue_drained
log=$(requests_json)
throttled=$(jq '[.[] | select(.status == 429)] | length' <<<"$log"); total=$(jq length <<<"$log")
check "429s stayed under 5 % of the requests ($throttled of $total)" test $((throttled * 20)) -lt "$total"
# Steady state: once the first windows have taught the pacer the lower limit. Bound: 3 %
# (about 12 of the ~395 late requests). Runs saw 3-7, on a loaded machine too, so the 2 %
# this was (7.9) failed about one run in eight. A pacer that never learns the lower limit
# (it still waits out each throttled window) drew 23 of 398 here (5.8 %): it still fails.
late=$(jq '[.[] | {t: (.at_ms - .duration_ms), s: .status}] | (map(.t) | min) as $t0 | map(select(.t >= $t0 + 8000))' <<<"$log")
check "after the first 8 s, at most 3 % of the requests were answered 429 ($(jq '[.[] | select(.s == 429)] | length' <<<"$late") of $(jq length <<<"$late"))" \
  test "$(jq '[.[] | select(.s == 429)] | length * 100' <<<"$late")" -le "$(jq 'length * 3' <<<"$late")"
check "no job died of them, and none spent an attempt" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE f.estado = 'concluido' AND f.tentativas = 1) FROM chatwoot.fila f JOIN clientes c ON c.id = f.entidade_id AND f.tipo_entidade = 'cliente' WHERE c.nome LIKE 'Limite menor %'")" = 250
exit $IT_FAILED
