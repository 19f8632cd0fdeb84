#!/usr/bin/env bash
# The app's role, and a monitoring role, try to act with the extension's rights
# (../shared/review/security-probe-a030d9f.md, D1-D3, D15): objects of their own that
# could win name resolution in the queueing trigger or the worker, their own casts and
# row-security functions on the tables the worker reads, the trigger functions attached
# to tables of their own, and tables rastrear must refuse. Every attempt must run with
# the attacker's rights or not at all, and queue nothing it could not queue itself.
source "$(dirname "$0")/../lib/integration.sh"
plan 45

it_zattar rights "chatwoot_sync.database_name = 'zattar,outra'" "chatwoot_sync.poll_interval = '1s'" \
  "chatwoot_sync.update_debounce = '100ms'"
q postgres "CREATE DATABASE outra" >/dev/null
q outra "CREATE EXTENSION chatwoot_sync" >/dev/null

# The app's migration role: owns its tables, may create objects in public.
q zattar "CREATE ROLE app_zattar LOGIN; CREATE ROLE mon LOGIN IN ROLE pg_monitor;
          GRANT CREATE ON SCHEMA public TO app_zattar;
          ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE partes_contrarias OWNER TO app_zattar;
          ALTER TABLE terceiros OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          ALTER TYPE tipo_pessoa OWNER TO app_zattar;
          SELECT chatwoot.conceder_acesso_app('app_zattar');
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro')" >/dev/null
q outra "SELECT chatwoot.conceder_acesso_app('app_zattar')" >/dev/null
qa() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d "$1" -c "$2" 2>&1; }
qm() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U mon -d "$1" -c "$2" 2>&1; }
superuser() { q zattar "SELECT rolsuper FROM pg_roles WHERE rolname = 'app_zattar'"; }

# Every attempt below writes who ran it here (the app owns the table; anyone may insert).
qa zattar "CREATE TABLE public.provas (quem text, onde text, pid int);
           GRANT INSERT ON public.provas TO PUBLIC" >/dev/null
spied() { q zattar "SELECT count(*) FROM public.provas WHERE quem <> 'app_zattar'"; }

# --- name resolution: the queueing trigger and the worker never see the app's objects -----
check "every SECURITY DEFINER function of the extension pins search_path to pg_catalog, pg_temp" \
  test "$(q zattar "SELECT count(*) FROM pg_proc WHERE pronamespace = 'chatwoot'::regnamespace AND prosecdef
                      AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false)")" = 0
qa zattar "CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS \$f\$
  BEGIN
    INSERT INTO public.provas VALUES (current_user, 'unnest', pg_backend_pid());
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
      EXECUTE 'ALTER ROLE app_zattar SUPERUSER';
    END IF;
    RETURN QUERY SELECT x FROM pg_catalog.unnest(\$1) x;
  END \$f\$" >/dev/null
qa zattar "CREATE FUNCTION public.espia_div(integer, numeric) RETURNS numeric LANGUAGE plpgsql AS \$f\$
  BEGIN INSERT INTO public.provas VALUES (current_user, 'operador', pg_backend_pid()); RETURN \$1::numeric / \$2; END \$f\$;
  CREATE OPERATOR public./ (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.espia_div)" >/dev/null
# float8 / integer has no exact match in pg_catalog (it casts to float8 / float8), so an
# exact one in public wins for whoever calls it with the default search_path; the
# worker's SQL divides a float8 setting by 1000 that way.
qa zattar "CREATE FUNCTION public.espia_div8(double precision, integer) RETURNS double precision LANGUAGE plpgsql AS \$f\$
  BEGIN INSERT INTO public.provas VALUES (current_user, 'operador float8', pg_backend_pid()); RETURN \$1 / \$2::float8; END \$f\$;
  CREATE OPERATOR public./ (LEFTARG = double precision, RIGHTARG = integer, FUNCTION = public.espia_div8)" >/dev/null
check "the app's own public.unnest(bigint[]), /(integer, numeric) and /(float8, integer) exist" \
  test "$(qa zattar "SELECT count(*) FROM pg_proc WHERE proname IN ('unnest', 'espia_div', 'espia_div8') AND pronamespace = 'public'::regnamespace")" = 3
q zattar "SELECT 3::float8 / 1000, 3 / 1000.0" >/dev/null
check "they are live: a superuser's query with the default search_path runs them (a control)" \
  test "$(q zattar "SELECT count(*) FROM public.provas WHERE quem = 'postgres' AND onde IN ('operador', 'operador float8')")" = 2
q zattar "DELETE FROM public.provas" >/dev/null
check "the app's INSERT of one client succeeds" qa zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Um')"
check "the app's UPDATE of a mapped column succeeds (the debounced queueing divides)" \
  qa zattar "UPDATE clientes SET nome = 'Um atualizado' WHERE nome = 'Um'"
check "the app's INSERT of 1,200 clients (lote jobs the worker expands) succeeds" \
  qa zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Lote ' || g FROM generate_series(1, 1200) g"
eventually 60 "the worker drains them" queue_drained
check "the app's unnest and / ran under no other identity, in the trigger or the worker ($(spied) rows)" test "$(spied)" = 0
check "the app role is still not a superuser" test "$(superuser)" = f
# A DBA draining the change log by hand, as a superuser with the default search_path.
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null
worker_cycled zattar  # it has seen ativo = false: the change below is left to drenar_mudancas
qa zattar "UPDATE clientes SET nome = 'Um revisto' WHERE nome = 'Um atualizado'" >/dev/null
check "chatwoot.drenar_mudancas() called by a superuser moves the app's edit into the outbox" \
  test "$(q zattar "SELECT chatwoot.drenar_mudancas()")" -ge 1
check "...without running the app's operators ($(spied) rows)" test "$(spied)" = 0
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
check "all 1,201 new clients were synced all the same" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND sincronizado")" -ge 1201

# --- an upsert that hits its conflict (probe 1.2) ---------------------------------------------
# The row trigger fires BEFORE INSERT, so the identity the insert only proposed is queued too:
# a job for a row that never existed, which must be dropped without a request.
qa zattar "INSERT INTO clientes (tipo_pessoa, nome, cpf) VALUES ('pf', 'Conflito', '11144477735')" >/dev/null
eventually 60 "the worker syncs the client the upserts will hit" queue_drained
real=$(q zattar "SELECT id FROM clientes WHERE cpf = '11144477735'")
clear_requests
q zattar "UPDATE chatwoot.integracoes SET ativo = false" >/dev/null  # to see what gets queued
qa zattar "INSERT INTO clientes (tipo_pessoa, nome, cpf) VALUES ('pf', 'Conflito revisto', '11144477735')
           ON CONFLICT (cpf) DO UPDATE SET nome = excluded.nome;
           INSERT INTO clientes (tipo_pessoa, nome, cpf) VALUES ('pf', 'Conflito outro', '11144477735')
           ON CONFLICT DO NOTHING" >/dev/null
last=$(q zattar "SELECT last_value FROM $(q zattar "SELECT pg_get_serial_sequence('public.clientes', 'id')")")
q zattar "SELECT chatwoot.drenar_mudancas()" >/dev/null
check "the upserts queued ids they only proposed ($((real + 1))..$last), which never existed" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id > $real")" = 2
q zattar "UPDATE chatwoot.integracoes SET ativo = true" >/dev/null
eventually 60 "the worker drains the upserts' jobs" queue_drained
check "the DO UPDATE's edit reached Chatwoot" grep -q "zattar_cliente_${real}\b" <<<"$(requests_json)"
ghost_requests() {
  local body; body=$(requests_json); local g n=0
  for g in $(seq $((real + 1)) "$last"); do grep -q "zattar_cliente_${g}\b" <<<"$body" && n=$((n + 1)); done
  echo "$n"
}
check "the proposed ids cost no request to Chatwoot" test "$(ghost_requests)" = 0
check "...their two jobs ended done with no request, and no mapping was made" \
  test "$(q zattar "SELECT (SELECT count(*) FILTER (WHERE estado = 'concluido' AND requisicoes = 0) || '/' || count(*)
                            FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id > $real)
                        || ' ' || (SELECT count(*) FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id > $real)")" = "2/2 0"

# --- code of the table owner's runs as the owner, never as the worker ---------------------
# A cast of the app's own type onto a mapped column: rastrear and the worker refuse the type.
qa zattar "CREATE TYPE public.fone_t AS (v text);
  CREATE FUNCTION public.fone_t_texto(public.fone_t) RETURNS text LANGUAGE plpgsql AS \$f\$
    BEGIN INSERT INTO public.provas VALUES (current_user, 'cast', pg_backend_pid()); RETURN (\$1).v; END \$f\$;
  CREATE CAST (public.fone_t AS text) WITH FUNCTION public.fone_t_texto(public.fone_t)" >/dev/null
ONLY_NAME='{"tipo_pessoa": null, "emails": null, "ddd_celular": null, "numero_celular": null, "cpf": null, "cnpj": null, "ativo": null}'
out=$(qe zattar "CREATE TABLE pessoas_fone (id bigint PRIMARY KEY, nome text, numero_celular public.fone_t);
                 SELECT chatwoot.rastrear('pessoas_fone', 'pessoa_fone', '$ONLY_NAME'::jsonb || '{\"numero_celular\": \"numero_celular\"}')")
check "rastrear refuses a mapped column of a type that is not built in" grep -q 'fone_t' <<<"$out"
out=$(qa zattar "ALTER TABLE terceiros ALTER COLUMN numero_celular TYPE public.fone_t USING ROW(numero_celular)::public.fone_t")
check "the app's ALTER of a mapped column to its own type succeeds, with a WARNING" grep -q 'WARNING' <<<"$out"
qa zattar "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo, numero_celular)
           VALUES ('pf', 'Com fone_t', 'perito', 'neutro', ROW('61991234567')::public.fone_t)" >/dev/null
eventually_eq 15 "the worker fails that kind's job with the mapping's reason, without reading the row" t \
  q zattar "SELECT bool_or(ultimo_erro LIKE '%fone_t%') FROM chatwoot.fila WHERE tipo_entidade = 'terceiro' AND tentativas > 0"
check "the owner's cast never ran as anyone else ($(spied) rows)" test "$(spied)" = 0
qa zattar "ALTER TABLE terceiros ALTER COLUMN numero_celular TYPE text USING (numero_celular).v" >/dev/null
# An enum of the table's own schema is allowed, and its owner may attach a cast to it:
# the worker's read then runs that cast, as the owner.
qa zattar "CREATE FUNCTION public.tipo_texto(tipo_pessoa) RETURNS text LANGUAGE plpgsql AS \$f\$
    BEGIN INSERT INTO public.provas VALUES (current_user, 'cast enum', pg_backend_pid()); RETURN format('%s', \$1); END \$f\$;
  CREATE CAST (tipo_pessoa AS text) WITH FUNCTION public.tipo_texto(tipo_pessoa)" >/dev/null
qa zattar "INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Cast do dono')" >/dev/null
eventually 15 "the worker syncs a party whose enum has the owner's cast" queue_drained
check "the cast ran, as the table's owner ($(q zattar "SELECT string_agg(DISTINCT quem, ',') FROM public.provas WHERE onde = 'cast enum'"))" \
  test "$(q zattar "SELECT count(*) FILTER (WHERE quem = 'app_zattar') > 0 AND count(*) FILTER (WHERE quem <> 'app_zattar') = 0
                      FROM public.provas WHERE onde = 'cast enum'")" = t
# Row security the owner forces on itself: the extension reads tracked tables as their
# owner with row_security = off (README, threat model), so the policy never runs with
# the extension's reads; sincronizar_app_para_chatwoot refuses the table with a clear
# error and queues nothing (the worker side is tested in worker_fence.sh).
qa zattar "CREATE FUNCTION public.politica() RETURNS boolean LANGUAGE plpgsql AS \$f\$
    BEGIN INSERT INTO public.provas VALUES (current_user, 'politica', pg_backend_pid()); RETURN true; END \$f\$;
  ALTER TABLE clientes ENABLE ROW LEVEL SECURITY; ALTER TABLE clientes FORCE ROW LEVEL SECURITY;
  CREATE POLICY todos ON clientes USING (public.politica())" >/dev/null
q zattar "TRUNCATE public.provas" >/dev/null
before=$(q zattar "SELECT count(*) FROM chatwoot.fila")
out=$(qa zattar "SELECT chatwoot.sincronizar_app_para_chatwoot('cliente')")
check "sincronizar_app_para_chatwoot, called by the app on a FORCE ROW LEVEL SECURITY table, refuses it by name ($out)" \
  grep -qiE 'row.level security.*clientes|clientes.*row.level security' <<<"$out"
check "...and queues nothing" test "$(q zattar "SELECT count(*) FROM chatwoot.fila")" = "$before"
check "the owner's policy never ran in any of the extension's reads" \
  test "$(q zattar "SELECT count(*) FROM public.provas WHERE onde = 'politica'")" = 0
qa zattar "DROP POLICY todos ON clientes; ALTER TABLE clientes NO FORCE ROW LEVEL SECURITY;
           ALTER TABLE clientes DISABLE ROW LEVEL SECURITY" >/dev/null

# --- the trigger functions are nobody's to attach -------------------------------------------
jobs_now() { q zattar "SELECT count(*) FROM chatwoot.fila"; }
for f in "_registrar_mudanca('cliente', 'id')" "_enfileirar_mudancas()" "_registrar_truncate('cliente')"; do
  when=$([ "$f" = "_registrar_mudanca('cliente', 'id')" ] && echo "BEFORE INSERT OR DELETE ON t FOR EACH ROW" || echo "AFTER INSERT OR DELETE ON t FOR EACH STATEMENT")
  [ "$f" = "_registrar_truncate('cliente')" ] && when="AFTER TRUNCATE ON t FOR EACH STATEMENT"
  out=$(qm zattar "CREATE TEMP TABLE t (id bigint); CREATE TRIGGER a $when EXECUTE FUNCTION chatwoot.$f")
  check "a pg_monitor role cannot attach chatwoot.$f to a table of its own" grep -q 'permission denied for function' <<<"$out"
done
out=$(qa zattar "CREATE TABLE minha (id bigint); CREATE TRIGGER a AFTER INSERT ON minha FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._enfileirar_mudancas()")
check "nor can the app role, on a table it owns" grep -q 'permission denied for function' <<<"$out"
# Attached by a superuser to a table rastrear never saw: it queues nothing.
before=$(jobs_now)
q zattar "CREATE TABLE nao_rastreada (id bigint);
          CREATE TRIGGER a BEFORE INSERT OR DELETE ON nao_rastreada FOR EACH ROW EXECUTE FUNCTION chatwoot._registrar_mudanca('cliente', 'id');
          CREATE TRIGGER b AFTER INSERT OR DELETE ON nao_rastreada FOR EACH STATEMENT EXECUTE FUNCTION chatwoot._enfileirar_mudancas();
          INSERT INTO nao_rastreada SELECT id FROM clientes LIMIT 5; DELETE FROM nao_rastreada" >/dev/null
q zattar "SELECT chatwoot.drenar_mudancas()" >/dev/null  # what the worker does next, done now
check "the queueing trigger on a table chatwoot.rastreamentos does not list queues nothing" test "$(jobs_now)" = "$before"
check "...and no client's mapping was marked removed by its DELETE" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE removida")" = 0
# The app's own functions queue work for tracked kinds (or mapped parties) only.
before=$(jobs_now)
out=$(qa zattar "SELECT chatwoot.sincronizar_parte('inventado', 1)")
check "sincronizar_parte refuses a kind nothing tracks" grep -q 'não é rastreado' <<<"$out"
out=$(qa zattar "SELECT chatwoot.desincronizar('inventado', 1)")
check "desincronizar refuses a kind nothing tracks, for a party with no contact" grep -q 'não é rastreado' <<<"$out"
check "...and neither queued anything" test "$(jobs_now)" = "$before"

# --- tables rastrear refuses ---------------------------------------------------------------
refuses() {  # refuses DESCRIPTION SQL REGEX
  local out; out=$(qe zattar "$2")
  if grep -qE "ERROR: .*($3)" <<<"$out"; then ok "$1"; else not_ok "$1"; echo "#   got: $out"; fi
}
refuses "rastrear refuses the extension's own tables" \
  "SELECT chatwoot.rastrear('chatwoot.integracoes', 'integr', '{\"nome\": \"api_key\"}')" 'esquema chatwoot'
refuses "rastrear refuses system catalogs" "SELECT chatwoot.rastrear('pg_catalog.pg_authid', 'papel', '{\"id\": \"oid\", \"nome\": \"rolname\"}')" 'pg_catalog'
refuses "rastrear refuses a text id column" \
  "CREATE TABLE codigos (codigo text, nome text); SELECT chatwoot.rastrear('codigos', 'codigo', '$ONLY_NAME'::jsonb || '{\"id\": \"codigo\"}')" 'inteir|integer|smallint'
refuses "rastrear refuses a view" "CREATE VIEW v_clientes AS SELECT * FROM clientes; SELECT chatwoot.rastrear('v_clientes', 'vc')" 'tabela comum'
refuses "rastrear refuses to change the kind of a tracked table" "SELECT chatwoot.rastrear('clientes', 'outro_tipo')" 'já é rastreada'

# --- worker_status shows other databases only to pg_monitor -----------------------------------
check "the app role sees its own database's worker only" \
  test "$(qa zattar "SELECT string_agg(banco, ',') FROM chatwoot.worker_status() WHERE processo = 'worker'")" = zattar
check "...in the other database, that one's" \
  test "$(qa outra "SELECT string_agg(banco, ',') FROM chatwoot.worker_status() WHERE processo = 'worker'")" = outra
check "a pg_monitor role sees both" \
  test "$(qm zattar "SELECT string_agg(banco, ',' ORDER BY banco) FROM chatwoot.worker_status() WHERE processo = 'worker'")" = "outra,zattar"
check "the app role is still not a superuser at the end" test "$(superuser)" = f
exit $IT_FAILED
