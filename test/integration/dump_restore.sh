#!/usr/bin/env bash
# Dumps that lose nothing (issue 18): a live, served database (three tracked tables,
# synced parties, pending, in-flight and dead jobs, changes not yet moved into the
# outbox, a paused integration and a second connection paused by a refusal) dumped with
# pg_dump -Fc as a superuser and restored with pg_restore --single-transaction into a NEW
# cluster, where the app's tables and the extension both come from the dump.
# Every connection (keys included), mapping, tracking, queued job and change comes back
# as it was, and every sequence where it stood; the in-flight job is requeued by the
# restored worker; once resumed it does the pending and the change-log work; a full
# re-sync then creates no contact; the triggers capture new edits. A plain-format dump
# restored with psql brings the same rows. A role with pg_read_all_data dumps it all too;
# a role that may not read the extension's tables gets a loud error, or the app's data
# alone with --exclude-table-data (README, "Dump and restore").
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"
plan 39

SETTINGS=("chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.max_attempts = 2" "chatwoot_sync.max_backoff = '1s'"
          "chatwoot_sync.update_debounce = '100ms'")
# The source's requests may wait 60 s: the in-flight job stays in flight through the dump.
it_zattar origem "${SETTINGS[@]}" "chatwoot_sync.request_timeout = '60s'"
A_PORT=$IT_PORT; A_DIR=$IT_DIR
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro');
          INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Cliente ' || g FROM generate_series(1, 4) g;
          INSERT INTO partes_contrarias (tipo_pessoa, nome) SELECT 'pj', 'Empresa ' || g FROM generate_series(1, 2) g;
          INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Perito ' || g, 'perito', 'neutro' FROM generate_series(1, 2) g;
          SELECT chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
eventually 30 "the parties are synced in the live database" queue_drained
# A dead letter: a job whose mapping does not fit the table, tried max_attempts times.
q zattar "ALTER TABLE partes_contrarias RENAME COLUMN nome TO nome_x" >/dev/null 2>&1
q zattar "SELECT chatwoot.sincronizar_parte('parte_contraria', 1)" >/dev/null
eventually_eq 40 "a dead letter in the live database" morto \
  q zattar "SELECT estado FROM chatwoot.fila WHERE tipo_entidade = 'parte_contraria' AND entidade_id = 1 ORDER BY id DESC LIMIT 1"
q zattar "ALTER TABLE partes_contrarias RENAME COLUMN nome_x TO nome" >/dev/null

# A job in flight at dump time: Chatwoot answers after 40 s.
sim_faults '{"latency_ms": 40000}' || not_ok "the simulator takes the latency"
q zattar "UPDATE clientes SET nome = 'Cliente 1 renomeado' WHERE nome = 'Cliente 1'" >/dev/null
eventually_eq 20 "a job is in flight (processando) in the live database" 1 \
  q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'processando'"
IN_FLIGHT=$(q zattar "SELECT id FROM chatwoot.fila WHERE estado = 'processando'")
# The integration paused; a deactivation, a deletion and an inactive client queued;
# then changes left in the change log (the worker does not move it while paused).
q zattar "UPDATE chatwoot.integracoes SET ativo = false, webhook_secret = 'segredo-do-webhook'" >/dev/null
q zattar "INSERT INTO chatwoot.integracoes (nome, api_url, api_key, account_id, default_inbox_id, webhook_secret, ativo, pausada_em, motivo_pausa)
          VALUES ('reserva', '$SIM_URL', 'chave-da-reserva', 2, 7, 'segredo-da-reserva', false, now(), 'token recusado (401)')" >/dev/null
CLIENT=$(q zattar "SELECT id FROM clientes WHERE nome = 'Cliente 2'")
THIRD=$(q zattar "SELECT id FROM terceiros WHERE nome = 'Perito 1'")
INACTIVE=$(q zattar "SELECT id FROM clientes WHERE nome = 'Cliente 3'")
contact_of() { q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot WHERE tipo_entidade = '$1' AND entidade_id = $2"; }
C_CLIENT=$(contact_of cliente "$CLIENT"); C_THIRD=$(contact_of terceiro "$THIRD"); C_INACTIVE=$(contact_of cliente "$INACTIVE")
C_LOGGED=$(q zattar "SELECT p.chatwoot_contact_id FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id WHERE p.tipo_entidade = 'cliente' AND c.nome = 'Cliente 4'")
q zattar "SELECT chatwoot.desincronizar('cliente', $CLIENT);
          DELETE FROM terceiros WHERE id = $THIRD;
          UPDATE clientes SET ativo = false WHERE id = $INACTIVE" >/dev/null
q zattar "SELECT chatwoot.drenar_mudancas()" >/dev/null
q zattar "UPDATE clientes SET nome = 'Cliente 4 renomeado' WHERE nome = 'Cliente 4';
          INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Empresa nova')" >/dev/null
check "at dump time: 3 pending, 1 in flight, 1 dead, 2 changes in the log, the job still in flight" \
  test "$(q zattar "SELECT (SELECT count(*) FILTER (WHERE estado = 'pendente') || ' ' || count(*) FILTER (WHERE estado = 'processando')
                                || ' ' || count(*) FILTER (WHERE estado = 'morto') FROM chatwoot.fila)
                               || ' ' || (SELECT count(*) FROM chatwoot.mudancas)
                               || ' ' || (SELECT estado FROM chatwoot.fila WHERE id = $IN_FLIGHT)")" = "3 1 1 2 processando"

# What must come back, row for row, read as text (a regclass as its name).
digest() {  # digest DB TABLE
  case "$2" in
    fila_sem_concessao)  # unfinished jobs; the in-flight one is requeued by the restored worker: the rest of it
      q "$1" "SELECT md5(coalesce(string_agg(concat_ws('|', id, tipo, tipo_entidade, entidade_id, ids, tentativas, executar_apos, http_status,
                                  requisicoes, criado_em, CASE WHEN id = $IN_FLIGHT THEN '' ELSE concat(estado, ultimo_erro, bloqueado_ate, atualizado_em) END),
                                  E'\n' ORDER BY id), '')) FROM chatwoot.fila WHERE estado <> 'concluido'" ;;
    mudancas) q "$1" "SELECT md5(coalesce(string_agg(concat_ws('|', id, tabela::regclass, tipo_entidade, tipo, ids, criado_em), E'\n' ORDER BY id), '')) FROM chatwoot.mudancas" ;;
    sequencias) q "$1" "SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ' ' ORDER BY sequencename) FROM pg_sequences WHERE schemaname = 'chatwoot'" ;;
    *) q "$1" "SELECT md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), '')) FROM chatwoot.$2 t" ;;
  esac
}
TABLES=(integracoes partes_chatwoot rastreamentos mudancas sequencias fila_sem_concessao)
declare -A BEFORE
for t in "${TABLES[@]}"; do BEFORE[$t]=$(digest zattar "$t"); done

"$PG_BINDIR/pg_dump" -Fc -h 127.0.0.1 -p "$A_PORT" -U postgres -f "$IT_WORK/zattar.dump" zattar 2>"$IT_WORK/pg_dump.log"
check "pg_dump -Fc as a superuser" test $? = 0
"$PG_BINDIR/pg_dump" -Fp -h 127.0.0.1 -p "$A_PORT" -U postgres -f "$IT_WORK/zattar.sql" zattar 2>>"$IT_WORK/pg_dump.log"
check "pg_dump, plain format" test $? = 0
# Non-superusers: a backup role (pg_read_all_data) dumps everything, the key included;
# the app's owner, who may not read the extension's tables, gets an error, not a dump
# without them, and with --exclude-table-data the app's data alone.
q postgres "CREATE ROLE copias LOGIN IN ROLE pg_read_all_data; CREATE ROLE dono_app LOGIN" >/dev/null
q zattar "ALTER SCHEMA public OWNER TO dono_app; ALTER TYPE tipo_pessoa OWNER TO dono_app;
          SELECT chatwoot.conceder_acesso_app('dono_app', true);
          DO \$\$ DECLARE t text; BEGIN
            FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
              EXECUTE format('ALTER TABLE public.%I OWNER TO dono_app', t);
            END LOOP; END \$\$" >/dev/null
keys_in() { grep -c -e 'sim-admin-token' -e 'chave-da-reserva' "$1"; }
"$PG_BINDIR/pg_dump" -Fp -h 127.0.0.1 -p "$A_PORT" -U copias -f "$IT_WORK/copias.sql" zattar 2>"$IT_WORK/copias.log"; rc=$?
check "a role with pg_read_all_data dumps it, both keys included (rc $rc)" test "$rc|$(keys_in "$IT_WORK/copias.sql")" = "0|2"
"$PG_BINDIR/pg_dump" -Fp -h 127.0.0.1 -p "$A_PORT" -U dono_app -f "$IT_WORK/dono.sql" zattar 2>"$IT_WORK/dono.log"; rc=$?
check "the app's owner cannot dump the extension's tables: pg_dump fails, naming them ($(head -c 120 "$IT_WORK/dono.log"))" \
  bash -c "[ $rc != 0 ] && grep -q 'permission denied' '$IT_WORK/dono.log' && grep -q 'chatwoot\.' '$IT_WORK/dono.log'"
"$PG_BINDIR/pg_dump" -Fp -h 127.0.0.1 -p "$A_PORT" -U dono_app --exclude-table-data='chatwoot.*' -f "$IT_WORK/dono.sql" zattar 2>"$IT_WORK/dono.log"; rc=$?
check "with --exclude-table-data='chatwoot.*' it dumps the app's data, no key (rc $rc)" test "$rc|$(keys_in "$IT_WORK/dono.sql")" = "0|0"

# The old server is gone: nothing it had in flight finishes there.
cluster_stop "$A_DIR" immediate
sim_clear_faults || not_ok "the simulator clears its faults"

# A new cluster. Its worker serves `zattar`; the restore is one transaction, so the
# worker sees the database whole (README: never the extension's rows before the app's).
it_cluster destino "chatwoot_sync.database_name = 'zattar,copia'" "${SETTINGS[@]}" || { not_ok "the new cluster starts"; exit 1; }
q postgres "CREATE DATABASE zattar" >/dev/null; q postgres "CREATE DATABASE copia" >/dev/null
"$PG_BINDIR/pg_restore" --single-transaction -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar "$IT_WORK/zattar.dump" >"$IT_WORK/pg_restore.log" 2>&1
rc=$?
check "pg_restore --single-transaction into the new cluster, no error (rc $rc: $(grep -m1 ERROR "$IT_WORK/pg_restore.log"))" \
  bash -c "[ $rc = 0 ] && ! grep -q ERROR '$IT_WORK/pg_restore.log'"
# The plain dump into a second served database (CREATE EXTENSION refuses one that is not).
psql -X -q -1 -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d copia -f "$IT_WORK/zattar.sql" >"$IT_WORK/psql_restore.log" 2>&1
check "the plain dump restores with psql -1, no error" test $? = 0
for t in "${TABLES[@]}"; do
  got=$(digest copia "$t")
  check "plain dump: $t as it was" test "$got" = "${BEFORE[$t]}" || echo "#   got $got, expected ${BEFORE[$t]}"
done
# The custom dump.
for t in "${TABLES[@]}"; do
  got=$(digest zattar "$t")
  check "custom dump: $t as it was" test "$got" = "${BEFORE[$t]}" || echo "#   got $got, expected ${BEFORE[$t]}"
done
eventually_eq 20 "the restored worker requeues the job that was in flight (paused: nothing is sent)" pendente \
  q zattar "SELECT estado FROM chatwoot.fila WHERE id = $IN_FLIGHT"
check "no tracking problem after the restore (the triggers come after the data)" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.rastreamentos WHERE erro IS NOT NULL")" = 0

# Resumed: the queue and the change log are done as the old worker would have.
CONTACTS=$(sim_contacts | jq length)
q zattar "UPDATE chatwoot.integracoes SET ativo = true WHERE nome = 'padrao'" >/dev/null
eventually 30 "the restored copy drains its queue and its change log" queue_drained
check "the job that was in flight is done" test "$(q zattar "SELECT estado FROM chatwoot.fila WHERE id = $IN_FLIGHT")" = concluido
sim_contact() { sim_contacts | jq -c --argjson id "$1" '.[] | select(.id == $id) | {identifier, name, ativo: .custom_attributes.ativo}'; }
check "the renamed client's contact has its new name" \
  test "$(sim_contacts | jq -r '[.[] | select(.name == "Cliente 1 renomeado")] | length')" = 1
check "the pending deactivation reached Chatwoot: client $CLIENT's contact is inactive" \
  test "$(sim_contact "$C_CLIENT" | jq -r .ativo)" = false
check "the pending deletion reached Chatwoot: third party $THIRD's contact is released and inactive" \
  test "$(sim_contact "$C_THIRD" | jq -r '(.identifier | test("-removido-") | tostring) + "|" + (.ativo | tostring)')" = "true|false"
check "the inactive client's contact is inactive" test "$(sim_contact "$C_INACTIVE" | jq -r .ativo)" = false
check "the logged change reached Chatwoot: Cliente 4's contact is renamed" \
  test "$(sim_contact "$C_LOGGED" | jq -r .name)" = "Cliente 4 renomeado"
check "the logged insert reached Chatwoot: the new opposing party has one new contact" \
  test "$(q zattar "SELECT p.sincronizado FROM chatwoot.partes_chatwoot p JOIN partes_contrarias c ON c.id = p.entidade_id AND p.tipo_entidade = 'parte_contraria' WHERE c.nome = 'Empresa nova'")|$(sim_contacts | jq length)" = "t|$((CONTACTS + 1))"
check "the dead letter is still a dead letter" \
  test "$(q zattar "SELECT estado FROM chatwoot.fila WHERE tipo_entidade = 'parte_contraria' AND entidade_id = 1 ORDER BY id LIMIT 1")" = morto
q zattar "SELECT chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
eventually 30 "the full re-sync drains" queue_drained
check "it created no contact: every party was found by its mapping" test "$(sim_contacts | jq length)" = "$((CONTACTS + 1))"

# The triggers capture new edits.
MAX_PARTES=$(q zattar "SELECT max(id) FROM chatwoot.partes_chatwoot")
q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente depois do restore');
          UPDATE terceiros SET nome = 'Perito 2 editado' WHERE nome = 'Perito 2'" >/dev/null
eventually 20 "new edits in the restored copy are synced" queue_drained
check "the new client has a mapping past the restored ids and one new contact; the edit reached its contact" \
  test "$(q zattar "SELECT p.id > $MAX_PARTES FROM chatwoot.partes_chatwoot p JOIN clientes c ON c.id = p.entidade_id AND p.tipo_entidade = 'cliente' WHERE c.nome = 'Cliente depois do restore'")|$(sim_contacts | jq length)|$(sim_contacts | jq -r '[.[] | select(.name == "Perito 2 editado")] | length')" = "t|$((CONTACTS + 2))|1"
check "no duplicate key in the restored server's log" bash -c "! grep -q 'duplicate key' '$IT_DIR/server.log'"
exit $IT_FAILED
