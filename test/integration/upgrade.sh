#!/usr/bin/env bash
# Upgrades, for every supported path: a database at each frozen version (its install
# script as released, sql/chatwoot_sync--V.sql) filled with live data (tracked tables,
# a connection, mappings, the change log, jobs in every state, an app role's grants),
# then ALTER EXTENSION chatwoot_sync UPDATE. Its catalog must equal a fresh install's
# of the default version (test/upgrade/catalog.sql: objects, columns in order,
# constraints, grants, comments...), no row may be lost, and the worker, which does
# not drain the old schema, drains it once upgraded. Also: the frozen scripts are
# unchanged (sql/frozen.sha256) and the default version's install script is built,
# never committed.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/integration.sh"

# One path today (0.1.0 -> the default). A released version adds a path: raise the
# plan by the 9 checks of a path, and PATHS_EXPECTED by one. (Plus one check of the
# update's one-owner cleanup, from the oldest version.)
plan 14
PATHS_EXPECTED=1

DEFAULT=$(sed -nE "s/^default_version *= *'([^']+)'.*/\\1/p" chatwoot_sync.control)
mapfile -t FROZEN < <(ls sql/ | sed -nE 's/^chatwoot_sync--([0-9][0-9.]*)\.sql$/\1/p' | sort -V)
db_of() { echo "v_${1//./_}"; }

# --- frozen scripts ---------------------------------------------------------------
check "the frozen scripts are byte for byte as released (sql/frozen.sha256)" \
  bash -c 'cd sql && sha256sum --quiet --strict -c frozen.sha256'
listed=$(awk '{print $2}' sql/frozen.sha256 | sed -nE 's/^chatwoot_sync--([0-9][0-9.]*)\.sql$/\1/p' | sort -V | tr '\n' ' ')
check "every frozen install script is listed in sql/frozen.sha256, and only those (${FROZEN[*]})" \
  test "$listed" = "${FROZEN[*]} "
check "the default version $DEFAULT has no committed install script: the build joins sql/src" \
  bash -c "[ -n '$DEFAULT' ] && ! git ls-files --error-unmatch 'sql/chatwoot_sync--$DEFAULT.sql' >/dev/null 2>&1 \
           && ! printf '%s\n' ${FROZEN[*]} | grep -qx '$DEFAULT'"

dbs="nova,dupla"  # dupla: the one-owner cleanup of the update (no connection: nothing to drain)
for v in "${FROZEN[@]}"; do dbs="$dbs,$(db_of "$v")"; done
it_cluster upgrade "chatwoot_sync.database_name = '$dbs'" "chatwoot_sync.poll_interval = '1s'" \
  || { not_ok "cluster starts"; exit 1; }
sim_start || { not_ok "simulator starts"; exit 1; }
q postgres "CREATE ROLE app_zattar LOGIN" >/dev/null
load_app() {  # load_app DB: the database with the app's tables
  q postgres "CREATE DATABASE $1" >/dev/null &&
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -f test/fixtures/zattar_schema.sql >/dev/null
}
# track DB [old]: what the app's DBA runs after CREATE EXTENSION. On an old schema the
# library of this version refuses its C functions (configurar checks the URL through
# one), so the connection is the row configurar would have written.
track() {
  local connect="SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1, limite_requisicoes => $IT_BUDGET);"
  [ "${2:-}" = old ] && connect="INSERT INTO chatwoot.integracoes (nome, api_url, api_key, account_id, default_inbox_id,
      limite_requisicoes) VALUES ('padrao', '$SIM_URL', 'sim-admin-token', 1, 1, $IT_BUDGET);"
  q "$1" "$connect
          SELECT chatwoot.rastrear('clientes', 'cliente');
          SELECT chatwoot.rastrear('partes_contrarias', 'parte_contraria');
          SELECT chatwoot.rastrear('terceiros', 'terceiro');
          SELECT chatwoot.conceder_acesso_app('app_zattar');" >/dev/null
}
# queue_state DB: the change log's rows and the jobs per state, as "2 concluido:1,morto:1,...".
queue_state() {
  q "$1" "SELECT (SELECT count(*) FROM chatwoot.mudancas) || ' '
                 || (SELECT string_agg(estado || ':' || n, ',' ORDER BY estado)
                       FROM (SELECT estado, count(*) n FROM chatwoot.fila GROUP BY estado) s)"
}
catalog() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -f test/upgrade/catalog.sql; }
# digest_sql DB: SQL that digests every table of schema chatwoot, its rows as they are
# now (the columns it has now, in order, read as the types they have now: an update may
# change a column's type without changing its values, as mudancas.tabela's oid became a
# regclass) as one md5 per table: made before the update,
# run before it and inside its transaction.
digest_sql() {
  q "$1" "SELECT 'SELECT * FROM (' || string_agg(format(
             'SELECT %L || '' '' || md5(coalesce(string_agg(t::text, E''\\n'' ORDER BY t::text), '''')) FROM (SELECT %s FROM %s) t',
             c.oid::regclass::text, k.cols, c.oid::regclass), ' UNION ALL ') || ') d ORDER BY 1'
            FROM pg_class c,
                 LATERAL (SELECT string_agg(quote_ident(a.attname) || '::' || format_type(a.atttypid, a.atttypmod) || ' AS ' || quote_ident(a.attname), ', ' ORDER BY a.attnum) AS cols
                            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) k
           WHERE c.relnamespace = 'chatwoot'::regnamespace AND c.relkind = 'r'"
}

# The fresh install of the default version, set up as the app's DBA would.
load_app nova && q nova "CREATE EXTENSION chatwoot_sync" >/dev/null && track nova \
  || { not_ok "a fresh install of $DEFAULT"; exit 1; }
catalog nova > "$IT_DIR/catalog.nova" || { not_ok "the catalog of a fresh install reads"; exit 1; }
clear_requests

paths=0
for v in "${FROZEN[@]}"; do
  [ "$v" = "$DEFAULT" ] && continue
  paths=$((paths + 1))
  db=$(db_of "$v")
  # --- the old version, live --------------------------------------------------------
  load_app "$db" && q "$db" "CREATE EXTENSION chatwoot_sync VERSION '$v'" >/dev/null && track "$db" old &&
  q "$db" "
    -- The app's writes: a bulk INSERT and an UPDATE of a mapped column (the change log).
    INSERT INTO clientes (tipo_pessoa, nome, emails)
    SELECT 'pf', 'Cliente antigo ' || g, jsonb_build_array('antigo' || g || '@example.com') FROM generate_series(1, 20) g;
    UPDATE clientes SET numero_celular = '98765-4322' WHERE id = 1;
    -- Jobs in every state, as the worker of $v leaves them: due (a retry), a lote, a
    -- lease that expired (the worker died), done, dead; and a dead job's mapping.
    INSERT INTO chatwoot.fila (tipo, tipo_entidade, entidade_id, ids, estado, tentativas, executar_apos, bloqueado_ate,
                               ultimo_erro, http_status, requisicoes, concluido_em)
    VALUES ('upsert_contato', 'parte_contraria', 1, NULL, 'pendente', 2, now(), NULL, 'HTTP 502', 502, 1, NULL),
           ('lote', 'terceiro', 0, '{1}', 'pendente', 0, now(), NULL, NULL, NULL, 0, NULL),
           ('upsert_contato', 'cliente', 2, NULL, 'processando', 1, now(), now() - interval '1 minute', NULL, NULL, 0, NULL),
           ('upsert_contato', 'cliente', 3, NULL, 'concluido', 0, now(), NULL, NULL, 200, 2, now()),
           ('desativar_contato', 'cliente', 999, NULL, 'morto', 8, now(), NULL, 'HTTP 500: erro interno', 500, 8, NULL);
    INSERT INTO chatwoot.partes_chatwoot (tipo_entidade, entidade_id, integracao_id, chatwoot_contact_id, chatwoot_account_id,
                                          sincronizado, proprietario, dados_sincronizados)
    VALUES ('cliente', 999, 1, 424242, 1, true, true, '{\"name\": \"Parte removida\"}');" >/dev/null
  check "$v: installed as released and filled: tracked tables, a connection, mappings, changes, jobs in every state" \
    test "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'chatwoot_sync'") $(queue_state "$db")" \
         = "$v 2 concluido:1,morto:1,pendente:2,processando:1"

  # --- the library of $DEFAULT does not drain a $v schema ------------------------------
  old_worker_says() {
    q "$db" "SELECT estado || ' ' || concat_ws(' ', ultimo_erro, avisos) FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = current_database()"
  }
  old_schema_refused() { [[ "$(old_worker_says)" == esquema_desatualizado*"ALTER EXTENSION chatwoot_sync UPDATE"* ]]; }
  eventually 10 "$v: the worker refuses the old schema and says to run ALTER EXTENSION chatwoot_sync UPDATE" \
    old_schema_refused || echo "# worker_status: $(old_worker_says)"
  sleep 3  # three poll cycles
  check "$v: ... and sends nothing, moves no job (no request, the change log and the jobs as they were)" \
    test "$(requests_json | jq length) $(queue_state "$db")" \
         = "0 2 concluido:1,morto:1,pendente:2,processando:1"

  # --- the update -------------------------------------------------------------------
  digests=$(digest_sql "$db")
  before=$(q "$db" "$digests")
  # The digests after the update in its own transaction: the worker, which drains as
  # soon as it commits, cannot change a row before they are read.
  after=$(psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$db" \
            -c "BEGIN" -c "ALTER EXTENSION chatwoot_sync UPDATE" -c "$digests" -c "COMMIT" 2>&1)
  check "$v -> $DEFAULT: ALTER EXTENSION chatwoot_sync UPDATE" \
    test "$(q "$db" "SELECT extversion FROM pg_extension WHERE extname = 'chatwoot_sync'")" = "$DEFAULT"
  catalog "$db" > "$IT_DIR/catalog.$db"
  check "$v -> $DEFAULT: the catalog equals a fresh install's (objects, columns in order, constraints, grants, comments)" \
    diff -u "$IT_DIR/catalog.nova" "$IT_DIR/catalog.$db" || diff -u "$IT_DIR/catalog.nova" "$IT_DIR/catalog.$db" | head -40 | sed 's/^/# /'
  check "$v -> $DEFAULT: every row of every table is kept" test -n "$before" -a "$before" = "$after" \
    || { echo "# before: $before"; echo "# after: $after"; }

  # --- the upgraded database works ------------------------------------------------------
  contacts_before=$(sim_contacts | jq length)
  q "$db" "INSERT INTO clientes (tipo_pessoa, nome, emails) VALUES ('pf', 'Cliente novo', '[\"novo@example.com\"]')" >/dev/null
  eventually 30 "$v -> $DEFAULT: the worker drains the upgraded database" queue_drained "$db"
  # Synced: clients 1, 2 (its lease expired), the 20 bulk ones, the one inserted after
  # the update, opposing party 1, third party 1 (its lote); client 3's done job and the
  # dead job stay as they were.
  check "$v -> $DEFAULT: ... every waiting party reached Chatwoot (25 contacts), the done and dead jobs untouched" \
    test "$(q "$db" "SELECT count(*) FILTER (WHERE sincronizado AND chatwoot_contact_id IS NOT NULL AND entidade_id <> 999)
                       || ' ' || (SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto' AND entidade_id = 999)
                       || ' ' || (SELECT count(*) FROM chatwoot.fila WHERE estado = 'concluido' AND entidade_id = 3)
                     FROM chatwoot.partes_chatwoot") $(( $(sim_contacts | jq length) - contacts_before ))" = "25 1 1 25"
  app_sees() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d "$db" -c "$1" 2>&1; }
  check "$v -> $DEFAULT: the app role keeps its grants: reads the queue summary and the mappings, never the key" \
    bash -c '[[ "$1" =~ ^[0-9]+$ && "$2" =~ ^[0-9]+$ && "$3" == *"permission denied"* ]]' _ \
      "$(app_sees "SELECT count(*) FROM chatwoot.fila_resumo")" "$(app_sees "SELECT count(*) FROM chatwoot.partes_chatwoot")" \
      "$(app_sees "SELECT api_key FROM chatwoot.integracoes")"
done
# --- two owners of one contact, which 0.1.0 allowed: the update keeps the first ---------
# (A database no worker serves: only the update script touches it.)
load_app dupla && q dupla "CREATE EXTENSION chatwoot_sync VERSION '${FROZEN[0]}'" >/dev/null && q dupla "
  INSERT INTO chatwoot.partes_chatwoot (tipo_entidade, entidade_id, chatwoot_contact_id, proprietario, sincronizado)
  VALUES ('cliente', 1, 777, true, true), ('terceiro', 1, 777, true, true), ('cliente', 2, 778, true, true)" >/dev/null
q dupla "ALTER EXTENSION chatwoot_sync UPDATE" >/dev/null
check "${FROZEN[0]} -> $DEFAULT: two owners of one contact become one owner and a sharer with the conflict recorded" \
  test "$(q dupla "SELECT string_agg(tipo_entidade || ':' || proprietario || ':' || coalesce(left(erro_sincronizacao, 38), ''), ','
                     ORDER BY id) FROM chatwoot.partes_chatwoot")" \
       = "cliente:true:,terceiro:false:conflito: o contato 777 do Chatwoot já,cliente:true:"

check "$PATHS_EXPECTED upgrade path(s) to $DEFAULT tested (a new frozen version needs its checks in the plan)" \
  test "$paths" = "$PATHS_EXPECTED"
