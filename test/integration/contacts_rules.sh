#!/usr/bin/env bash
# The contact rules the third reading of Chatwoot asked for (shared/reference/chatwoot-api.md
# §14.1, §14.2, §14.5), against the simulator:
#  - a shared office e-mail of two different people: the second gets its own contact
#    without it; the same person in two roles (same name) shares one contact;
#  - one owner per contact: two parties with disjoint keys adopting one contact at once;
#  - a Chatwoot merge (N3): the release of the merged party acts on the survivor, which
#    carries its identifier;
#  - a cleared document is removed from the contact, not stored as null (N5);
#  - crm_v2's search (N1, SN1): the exact identifier on a later page of look-alikes;
#  - an agent's token (D8): its refused DELETE fails that job, an inbox it is not a member
#    of is a warning; the integration goes on.
source "$(dirname "$0")/../lib/integration.sh"
plan 29

it_zattar rules "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.request_timeout = '2s'" \
  "chatwoot_sync.max_concurrency = 16"
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('terceiros', 'terceiro')" >/dev/null

# api METHOD PATH [JSON]: the Application API as an administrator (Chatwoot's own users).
api() {
  curl -sS -X "$1" -H 'Api-Access-Token: sim-admin-token' -H 'Content-Type: application/json' \
    ${3:+--data-binary "$3"} "$SIM_URL/api/v1/accounts/1$2"
}
contact() { sim_contacts | jq -c --argjson id "$1" '.[] | select(.id == $id) | {identifier, email, phone_number, ativo: .custom_attributes.ativo}'; }
by_identifier() { sim_contacts | jq -c --arg i "$1" '[.[] | select(.identifier == $i) | {id, email}]'; }
mapping() { q zattar "SELECT coalesce(chatwoot_contact_id::text, 'none') || '|' || proprietario || '|' || coalesce(erro_sincronizacao, '') FROM chatwoot.partes_chatwoot WHERE tipo_entidade = '$1' AND entidade_id = $2"; }
dead() { q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'"; }

# --- a shared office e-mail: two people, two contacts -----------------------------------
q zattar "BEGIN;
  INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
    VALUES (101, 'pf', 'Ana Souza', '[\"escritorio@example.com\"]');
  INSERT INTO terceiros (id, tipo_pessoa, nome, emails, tipo_parte, polo) OVERRIDING SYSTEM VALUE
    VALUES (201, 'pf', 'Bruno Lima', '[\"escritorio@example.com\"]', 'testemunha', 'ativo'),
           (202, 'pf', '  ana   SOUZA', '[\"escritorio@example.com\"]', 'testemunha', 'ativo');
  COMMIT;" >/dev/null
eventually 20 "the office e-mail's three parties drain" queue_drained
ana=$(by_identifier zattar_cliente_101); bruno=$(by_identifier zattar_terceiro_201)
check "Ana's contact keeps the office e-mail; Bruno, another person, has his own contact without it" \
  test "$(jq -r '.[0].email' <<<"$ana")|$(jq -r 'length, .[0].email' <<<"$bruno" | paste -sd,)" = "escritorio@example.com|1,null" \
  || echo "#   ana: $ana bruno: $bruno"
bruno_id=$(jq -r '.[0].id' <<<"$bruno")
check "Bruno owns his contact and the mapping says the e-mail is another person's" \
  bash -c '[[ "$1" == "$2|true|"*"outra pessoa"* ]]' _ "$(mapping terceiro 201)" "$bruno_id"
check "the same person in another role (same name, other case and spaces) shares Ana's contact" \
  test "$(mapping terceiro 202 | cut -d'|' -f1,2)" = "$(jq -r '.[0].id' <<<"$ana")|false"

# --- one owner per contact ------------------------------------------------------------
# A contact Chatwoot made (no identifier) holds Dora's e-mail and Dora's phone. The
# client has the e-mail, the third party the phone: keys that do not overlap, so the
# two lookups run at once (slowed down to overlap) and both find the contact unowned.
dora=$(api POST /contacts '{"name":"Dora Alves","email":"dora@example.com","phone_number":"+5511922223333"}' | jq -r '.payload.contact.id')
check "Chatwoot holds Dora's contact, without an identifier ($dora)" test "$(contact "$dora" | jq -r .identifier)" = null
sim_set_faults '{"latency_ms": 300}'
q zattar "BEGIN;
  INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
    VALUES (102, 'pf', 'Dora Alves', '[\"dora@example.com\"]');
  INSERT INTO terceiros (id, tipo_pessoa, nome, ddd_celular, numero_celular, tipo_parte, polo) OVERRIDING SYSTEM VALUE
    VALUES (203, 'pf', 'Dora Alves', '11', '92222-3333', 'testemunha', 'ativo');
  COMMIT;" >/dev/null
eventually 30 "Dora's two parties drain" queue_drained
sim_clear_faults
owners=$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE chatwoot_contact_id = $dora AND proprietario")
conflicts=$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE (tipo_entidade, entidade_id) IN (('cliente', 102), ('terceiro', 203))
                        AND chatwoot_contact_id IS NULL AND erro_sincronizacao LIKE 'conflito: o contato $dora %'")
check "one party owns Dora's contact, the other is recorded as a conflict ($owners owner, $conflicts conflict)" \
  test "$owners/$conflicts" = "1/1"
owner=$(q zattar "SELECT 'zattar_' || tipo_entidade || '_' || entidade_id FROM chatwoot.partes_chatwoot WHERE chatwoot_contact_id = $dora AND proprietario")
check "the contact carries the owner's identifier ($owner)" test "$(contact "$dora" | jq -r .identifier)" = "${owner:-none}"
check "a second owner of one contact is refused by the schema" \
  bash -c '[[ "$1" == *partes_chatwoot_um_proprietario* ]]' _ \
    "$(qe zattar "INSERT INTO chatwoot.partes_chatwoot (tipo_entidade, entidade_id, integracao_id, chatwoot_contact_id, proprietario)
                  SELECT 'cliente', 999999, integracao_id, chatwoot_contact_id, true FROM chatwoot.partes_chatwoot
                   WHERE chatwoot_contact_id = $dora AND proprietario")"

# --- a merge in Chatwoot (N3) ----------------------------------------------------------
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
            VALUES (103, 'pf', 'Eva Merge', '[\"eva@example.com\"]')" >/dev/null
eventually 15 "Eva is synced" queue_drained
eva=$(q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = 103")
# An agent merges Eva's contact into the one her WhatsApp made (no identifier, no e-mail).
base=$(api POST /contacts '{"name":"Eva (WhatsApp)","phone_number":"+5511933334444"}' | jq -r '.payload.contact.id')
api POST /actions/contact_merge "{\"base_contact_id\":$base,\"mergee_contact_id\":${eva:-0}}" >/dev/null
check "after the merge the survivor carries Eva's identifier and e-mail, her contact is gone" \
  test "$(contact "$base" | jq -r '"\(.identifier)|\(.email)|\(.ativo)"')|$(contact "${eva:-0}")" = "zattar_cliente_103|eva@example.com|true|"
q zattar "DELETE FROM clientes WHERE id = 103" >/dev/null
eventually 15 "Eva's removal drains" queue_drained
check "the removal acted on the survivor: its identifier released, ativo false" \
  test "$(contact "$base" | jq -r '"\(.identifier)|\(.ativo)"')" = "zattar_cliente_103-removido-$base|false" \
  || echo "#   survivor: $(contact "$base")"

# --- a cleared document is removed, not stored as null (N5) ------------------------------
# Chatwoot merges custom_attributes on update: only destroy_custom_attributes drops a key.
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome, cpf) OVERRIDING SYSTEM VALUE VALUES (107, 'pf', 'Ivo Documento', '529.982.247-25')" >/dev/null
eventually 15 "a client with a CPF is synced" queue_drained
doc() { sim_contacts | jq -c '.[] | select(.identifier == "zattar_cliente_107") | .custom_attributes | has("documento"), .documento' | paste -sd,; }
check "its contact holds the document" test "$(doc)" = 'true,"52998224725"'
q zattar "UPDATE clientes SET cpf = NULL WHERE id = 107" >/dev/null
eventually_eq 15 "the cleared CPF leaves no documento key on the contact (not a null)" "false,null" doc

# --- crm_v2: the exact identifier on the search's second page (N1, SN1) -----------------
# The contact with client 9001's identifier and nothing else is a visitor, which the
# filter of crm_v2 does not list; the search's LIKE also finds 16 look-alikes ('_' is a
# wildcard), and the contact updated last comes last, on page 2.
sim_mode '{"crm_v2": true}'
hidden=$(api POST /contacts '{"name":"Hidden","identifier":"zattar_cliente_9001"}' | jq -r '.payload.contact.id')
for i in $(seq 0 7); do api POST /contacts "{\"name\":\"Irmão $i\",\"identifier\":\"zattar_cliente_9001$i\"}" >/dev/null; done
for i in $(seq 0 7); do api POST /contacts "{\"name\":\"Sósia $i\",\"identifier\":\"zattarXcliente_9001-$i\"}" >/dev/null; done
api PUT "/contacts/$hidden" '{"name":"Hidden, updated"}' >/dev/null
check "the search's first page holds 15 look-alikes, not the exact identifier" \
  test "$(api GET '/contacts/search?q=zattar_cliente_9001' | jq -r '[.meta.has_more, (.payload | length), ([.payload[].identifier] | index("zattar_cliente_9001"))] | join(",")')" = "true,15,"
clear_requests
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome) OVERRIDING SYSTEM VALUE VALUES (9001, 'pf', 'Hidden')" >/dev/null
eventually 20 "client 9001 drains" queue_drained
check "client 9001 maps to the exact contact, found on the search's page 2, and owns it" \
  test "$(mapping cliente 9001 | cut -d'|' -f1,2)|$(requests_json | jq '[.[] | select(.path | test("/contacts/search")) | select(.query | test("page=2"))] | length > 0')" = "$hidden|true|true" \
  || requests_json | jq -r '.[] | select(.path | test("/contacts")) | "#   \(.method) \(.path) \(.query // "") \(.status)"' | tail -8
check "nothing is dead" test "$(dead)" = 0
sim_mode '{"crm_v2": false}'

# --- an agent's token (D8): a refused DELETE fails its job, not the integration --------
q zattar "ALTER SYSTEM SET chatwoot_sync.delete_contacts = on" >/dev/null
reloads=$(q zattar "SELECT recargas_config FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'")
q zattar "SELECT pg_reload_conf()" >/dev/null
eventually_eq 10 "the worker reloaded delete_contacts" "true" \
  q zattar "SELECT (recargas_config > $reloads)::text FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar'"
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-agent-token', 1, 1, limite_requisicoes => $IT_BUDGET, janela_limite_s => 60)" >/dev/null
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
            VALUES (104, 'pf', 'Fabio Agente', '[\"fabio@example.com\"]')" >/dev/null
eventually 15 "a party is synced with the agent's token" queue_drained
q zattar "DELETE FROM clientes WHERE id = 104" >/dev/null
eventually_eq 15 "the DELETE the agent may not do is a dead job that says why" "1" \
  q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto' AND tipo_entidade = 'cliente' AND entidade_id = 104
              AND ultimo_erro LIKE '%só este trabalho falha%'"
check "the integration is not paused" \
  test "$(q zattar "SELECT coalesce(pausada_em::text, 'no') FROM chatwoot.integracoes WHERE ativo")" = no
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
            VALUES (105, 'pf', 'Gil Depois', '[\"gil@example.com\"]')" >/dev/null
eventually 15 "a party inserted after it still syncs" queue_drained
check "... to Chatwoot" test "$(by_identifier zattar_cliente_105 | jq length)" = 1
# An inbox the agent is not a member of: Chatwoot answers its GET with Pundit's 401.
# The worker's probe of the default inbox is refused, and the integration goes on.
inbox2=$(api POST /inboxes '{"name":"Sem o agente","channel":{"type":"api"}}' | jq -r .id)
q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-agent-token', 1, ${inbox2:-0}, limite_requisicoes => $IT_BUDGET, janela_limite_s => 60)" >/dev/null
q zattar "INSERT INTO clientes (id, tipo_pessoa, nome, emails) OVERRIDING SYSTEM VALUE
            VALUES (106, 'pf', 'Helena Inbox', '[\"helena@example.com\"]')" >/dev/null
eventually 15 "a party syncs while the agent's token may not read the default inbox" queue_drained
check "... the integration is not paused, and worker_status says the agent is not a member of the inbox" \
  test "$(q zattar "SELECT coalesce(pausada_em::text, 'no') FROM chatwoot.integracoes WHERE ativo")|$(q zattar "SELECT count(*) FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = 'zattar' AND avisos LIKE '%não é membro deste inbox%'")|$(by_identifier zattar_cliente_106 | jq length)" = "no|1|1"
q zattar "ALTER SYSTEM RESET chatwoot_sync.delete_contacts" >/dev/null
q zattar "SELECT pg_reload_conf()" >/dev/null

exit $IT_FAILED
