#!/usr/bin/env bash
# The worker's own SQL names every operator, function and type with its schema
# (issue 17, T3-1: once the worker's search_path was changed, the app's
# public.=(text,text) ran as superuser inside it). This is the defence in depth, tested
# alone: the cluster gives the worker the search_path `public, pg_catalog` through the
# test-only chatwoot_sync.debug_worker_search_path (instead of its pinned
# `pg_catalog, pg_temp`), the app role fills public with look-alikes of the operators,
# functions and aggregates the worker uses, each of which records who called it and
# tries to make the app role superuser, and the whole worker path runs: inserts,
# debounced updates, deletes, a bulk insert taken apart from lotes, retries, dead
# letters and reprocessar, desincronizar, testar_conexao, housekeeping. Nothing of the
# app's may run, and everything must still drain.
source "$(dirname "$0")/../lib/integration.sh"
plan 20

it_zattar qualified "chatwoot_sync.debug_worker_search_path = 'public, pg_catalog'" \
  "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'" \
  "chatwoot_sync.max_attempts = 2" "chatwoot_sync.max_backoff = '1s'" "chatwoot_sync.retention = 0"
check "the worker's search_path is set to put public first, for this test" \
  test "$(q zattar "SHOW chatwoot_sync.debug_worker_search_path")" = "public, pg_catalog"

# The app's migration role: owns its tables, may create objects in public.
q zattar "CREATE ROLE app_zattar LOGIN; GRANT CREATE ON SCHEMA public TO app_zattar;
          ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE partes_contrarias OWNER TO app_zattar;
          ALTER TABLE terceiros OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          SELECT chatwoot.conceder_acesso_app('app_zattar');
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro')" >/dev/null
qa() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar -c "$1" 2>&1; }
qa_file() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar -f - 2>&1; }
superuser() { q zattar "SELECT rolsuper FROM pg_roles WHERE rolname = 'app_zattar'"; }
calls() { q zattar "SELECT count(*) FROM public.provas"; }
who_called() { q zattar "SELECT string_agg(DISTINCT quem || ' ' || onde, '; ') FROM public.provas" | cut -c1-600; }

# Every look-alike writes here who ran it (the app owns the table; anyone may insert)
# and, should it run as a superuser, makes the app role one.
qa_file >/dev/null <<'SQL'
CREATE TABLE public.provas (quem text, sessao text, onde text, pid int);
GRANT INSERT ON public.provas TO PUBLIC;
CREATE FUNCTION public.espia(onde text) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  INSERT INTO public.provas VALUES (current_user, session_user, onde, pg_catalog.pg_backend_pid());
  BEGIN
    EXECUTE 'ALTER ROLE app_zattar SUPERUSER';
  EXCEPTION WHEN insufficient_privilege THEN NULL;
  END;
END $f$;
SQL

# Operators: op|left|right|result|a sample left operand|a sample right operand. Each
# body calls pg_catalog's operator explicitly (a session whose search_path puts public
# first would otherwise call the look-alike again).
operators=()
for t in "text|'a'" "bigint|1" "integer|1" "timestamptz|'2024-01-01'"; do
  for op in '=' '<>' '<' '<=' '>' '>='; do operators+=("$op|${t%%|*}|${t%%|*}|boolean|${t#*|}|${t#*|}"); done
done
operators+=(
  "=|\"char\"|\"char\"|boolean|'i'|'i'"
  "~~|text|text|boolean|'a'|'a'"
  "|||text|text|text|'a'|'b'"
  "+|integer|integer|integer|1|1" "-|integer|integer|integer|1|1"
  "+|bigint|bigint|bigint|1|1" "-|bigint|bigint|bigint|1|1" "+|integer|bigint|bigint|1|1"
  "*|double precision|integer|double precision|1.5|2" "/|double precision|integer|double precision|1.5|2"
  "+|timestamptz|interval|timestamptz|'2024-01-01'|'1 s'" "-|timestamptz|interval|timestamptz|'2024-01-01'|'1 s'"
  "-|timestamptz|timestamptz|interval|'2024-01-01'|'2023-01-01'"
  "->>|jsonb|text|text|'{\"a\": 1}'|'a'" "->|jsonb|text|jsonb|'{\"a\": 1}'|'a'"
  "#>|jsonb|text[]|jsonb|'{\"a\": 1}'|'{a}'"
)
sql="" control=""
n=0
for spec in "${operators[@]}"; do
  n=$((n + 1))
  IFS='|' read -r op left right result left_sample right_sample <<<"${spec/#|||/@@|}"
  [ "$op" = "@@" ] && op="||"
  label="$left $op $right"
  sql+="CREATE FUNCTION public.espia_op_$n($left, $right) RETURNS $result LANGUAGE plpgsql AS \$f\$
    BEGIN PERFORM public.espia('$label'); RETURN \$1 OPERATOR(pg_catalog.$op) \$2; END \$f\$;
  CREATE OPERATOR public.$op (LEFTARG = $left, RIGHTARG = $right, FUNCTION = public.espia_op_$n);
  "
  control+=", ($left_sample::$left) $op ($right_sample::$right)"
done
# Functions and aggregates the worker's statements use (or could resolve to).
sql+=$(cat <<'SQL'
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('now()'); RETURN pg_catalog.now(); END $f$;
CREATE FUNCTION public.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('clock_timestamp()'); RETURN pg_catalog.clock_timestamp(); END $f$;
CREATE FUNCTION public.make_interval(years integer DEFAULT 0, months integer DEFAULT 0, weeks integer DEFAULT 0,
    days integer DEFAULT 0, hours integer DEFAULT 0, mins integer DEFAULT 0, secs double precision DEFAULT 0.0)
  RETURNS interval LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('make_interval'); RETURN pg_catalog.make_interval(years, months, weeks, days, hours, mins, secs); END $f$;
CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('unnest(bigint[])'); RETURN QUERY SELECT x FROM pg_catalog.unnest($1) x; END $f$;
CREATE FUNCTION public.unnest(text[]) RETURNS SETOF text LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('unnest(text[])'); RETURN QUERY SELECT x FROM pg_catalog.unnest($1) x; END $f$;
CREATE FUNCTION public.cardinality(anyarray) RETURNS integer LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('cardinality'); RETURN pg_catalog.cardinality($1); END $f$;
CREATE FUNCTION public.date_part(text, interval) RETURNS double precision LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('date_part'); RETURN pg_catalog.date_part($1, $2); END $f$;
CREATE FUNCTION public.ceil(double precision) RETURNS double precision LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('ceil'); RETURN pg_catalog.ceil($1); END $f$;
CREATE FUNCTION public.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('jsonb_typeof'); RETURN pg_catalog.jsonb_typeof($1); END $f$;
CREATE FUNCTION public.jsonb_build_object(text, bigint, text, jsonb) RETURNS jsonb LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('jsonb_build_object'); RETURN pg_catalog.jsonb_build_object($1, $2, $3, $4); END $f$;
CREATE FUNCTION public.espia_conta(bigint) RETURNS bigint LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('count(*)'); RETURN $1 OPERATOR(pg_catalog.+) 1; END $f$;
CREATE AGGREGATE public.count(*) (SFUNC = public.espia_conta, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION public.espia_junta(text, text, text) RETURNS text LANGUAGE plpgsql AS $f$
  BEGIN
    PERFORM public.espia('string_agg');
    RETURN CASE WHEN $1 IS NULL THEN $2 ELSE $1 OPERATOR(pg_catalog.||) $3 OPERATOR(pg_catalog.||) $2 END;
  END $f$;
CREATE AGGREGATE public.string_agg(text, text) (SFUNC = public.espia_junta, STYPE = text);
CREATE FUNCTION public.espia_menor(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('min'); RETURN LEAST($1, $2); END $f$;
CREATE AGGREGATE public.min(timestamptz) (SFUNC = public.espia_menor, STYPE = timestamptz);
CREATE FUNCTION public.espia_maior(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('max'); RETURN GREATEST($1, $2); END $f$;
CREATE AGGREGATE public.max(timestamptz) (SFUNC = public.espia_maior, STYPE = timestamptz);
CREATE FUNCTION public.espia_ou(boolean, boolean) RETURNS boolean LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('bool_or'); RETURN $1 OR $2; END $f$;
CREATE AGGREGATE public.bool_or(boolean) (SFUNC = public.espia_ou, STYPE = boolean, INITCOND = 'false');
CREATE FUNCTION public.espia_e(boolean, boolean) RETURNS boolean LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('bool_and'); RETURN $1 AND $2; END $f$;
CREATE AGGREGATE public.bool_and(boolean) (SFUNC = public.espia_e, STYPE = boolean, INITCOND = 'true');
CREATE FUNCTION public.espia_lista("char"[], "char") RETURNS "char"[] LANGUAGE plpgsql AS $f$
  BEGIN PERFORM public.espia('array_agg'); RETURN pg_catalog.array_append($1, $2); END $f$;
CREATE AGGREGATE public.array_agg("char") (SFUNC = public.espia_lista, STYPE = "char"[], INITCOND = '{}');
SQL
)
out=$(qa_file <<<"$sql")
check "the app role creates its look-alikes in public (no error)" test -z "$out" || echo "# $out" | head -5
functions=(now clock_timestamp make_interval 'unnest(bigint[])' 'unnest(text[])' cardinality date_part ceil
           jsonb_typeof jsonb_build_object 'count(*)' string_agg min max bool_or bool_and array_agg)
expected=$((${#operators[@]} + ${#functions[@]}))
# A control: a session of the app's whose search_path puts public first calls each of
# them (so they are live, and would be called by unqualified SQL).
control+=", now(), clock_timestamp(), make_interval(secs => 1), (SELECT count(*) FROM unnest('{1}'::bigint[])),
          (SELECT x FROM unnest('{a}'::text[]) x), cardinality('{1}'::bigint[]), ceil(date_part('epoch', '1 s'::interval)),
          jsonb_typeof('{}'::jsonb), jsonb_build_object('a', 1::bigint, 'b', '{}'::jsonb),
          (SELECT string_agg(x, ',') FROM (VALUES ('a'), ('b')) v(x)), (SELECT min(x) FROM (VALUES (now())) v(x)),
          (SELECT max(x) FROM (VALUES (now())) v(x)), (SELECT bool_or(x) FROM (VALUES (true)) v(x)),
          (SELECT bool_and(x) FROM (VALUES (true)) v(x)), (SELECT array_agg(x) FROM (VALUES ('i'::\"char\")) v(x))"
out=$(qa "SET search_path = public, pg_catalog; SELECT 1${control}")
[ -n "$out" ] && grep -q ERROR <<<"$out" && echo "# control: $(head -c 400 <<<"$out")"
check "a session with public first calls every one of the $expected look-alikes (a control)" \
  test "$(q zattar "SELECT count(DISTINCT onde) FROM public.provas WHERE quem = 'app_zattar'")" = "$expected"
qa "TRUNCATE public.provas" >/dev/null
# Why the worker's SQL spells these out: each looks = up by name through search_path.
qa "SET search_path = public, pg_catalog;
    SELECT 'a'::text IS DISTINCT FROM 'b', NULLIF('a'::text, 'b'), 'a'::text IN ('a', 'b'), CASE 'a'::text WHEN 'a' THEN 1 END" >/dev/null
check "IS DISTINCT FROM, NULLIF, IN (...) and CASE x WHEN each call the app's = (text, text) then" \
  test "$(q zattar "SELECT count(*) FROM public.provas WHERE onde = 'text = text'")" = 4
qa "TRUNCATE public.provas" >/dev/null

# --- the worker's whole path, with the look-alikes in place ----------------------------------
q zattar "SELECT chatwoot.sincronizar_app_para_chatwoot()" >/dev/null
eventually 30 "the fixture's parties are synced" queue_drained
qa "INSERT INTO clientes (tipo_pessoa, nome, cpf, emails) VALUES ('pf', 'Cliente Qualificado', '39053344705', '[\"q@example.com\"]')" >/dev/null
for i in 1 2 3; do qa "UPDATE clientes SET nome = 'Cliente Qualificado $i' WHERE cpf = '39053344705'" >/dev/null; done
eventually_eq 20 "an insert and three debounced updates reach Chatwoot" "Cliente Qualificado 3" \
  bash -c 'curl -sf "$SIM_CONTROL/__sim/accounts/1/contacts" | jq -r ".[] | select(.identifier == \"zattar_cliente_$0\") | .name"' \
  "$(q zattar "SELECT id FROM clientes WHERE cpf = '39053344705'")"
qa "INSERT INTO terceiros (tipo_pessoa, nome, tipo_parte, polo) SELECT 'pf', 'Perito em lote ' || g, 'perito', 'neutro'
    FROM generate_series(1, 1500) g" >/dev/null
eventually 90 "a bulk insert of 1,500 rows (taken apart from lotes) drains" queue_drained
check "each of the 1,500 has its contact" \
  test "$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot p JOIN terceiros t ON t.id = p.entidade_id
                    WHERE p.tipo_entidade = 'terceiro' AND p.sincronizado AND t.nome LIKE 'Perito em lote %'")" = 1500
removed=$(q zattar "SELECT chatwoot_contact_id FROM chatwoot.partes_chatwoot p JOIN terceiros t ON t.id = p.entidade_id
                    WHERE p.tipo_entidade = 'terceiro' AND t.nome = 'Perito em lote 1'")
qa "DELETE FROM terceiros WHERE nome = 'Perito em lote 1'" >/dev/null
eventually_eq 20 "a deleted party's contact is released (deactivated)" false \
  bash -c 'curl -sf "$SIM_CONTROL/__sim/accounts/1/contacts" | jq -r ".[] | select(.id == $0) | .custom_attributes.ativo"' "$removed"
qa "SELECT chatwoot.desincronizar('cliente', 2)" >/dev/null
eventually_eq 20 "desincronizar deactivates a client's contact" f \
  q zattar "SELECT sincronizado FROM chatwoot.partes_chatwoot WHERE tipo_entidade = 'cliente' AND entidade_id = 2 AND NOT EXISTS (SELECT 1 FROM chatwoot.fila WHERE estado IN ('pendente', 'processando'))"

# Retries: Chatwoot fails the next requests, then recovers.
sim_set_faults '{"after_apply": {"action": "error_500", "next": 1, "path_regex": "/contacts"}}'
qa "INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Contraria com falhas')" >/dev/null
eventually_eq 30 "a job whose first attempt failed is retried and synced" t \
  q zattar "SELECT p.sincronizado FROM chatwoot.partes_chatwoot p JOIN partes_contrarias c ON c.id = p.entidade_id
            WHERE p.tipo_entidade = 'parte_contraria' AND c.nome = 'Contraria com falhas'"
# Dead letters (max_attempts 2), then reprocessar once Chatwoot is back.
sim_set_faults '{"error_500_rate": 1}'
qa "INSERT INTO partes_contrarias (tipo_pessoa, nome) VALUES ('pj', 'Contraria morta')" >/dev/null
eventually_eq 30 "a job that keeps failing becomes a dead letter" morto \
  q zattar "SELECT f.estado FROM chatwoot.fila f JOIN partes_contrarias c ON c.id = f.entidade_id
            WHERE f.tipo_entidade = 'parte_contraria' AND c.nome = 'Contraria morta'"
sim_clear_faults
dead=$(q zattar "SELECT f.id FROM chatwoot.fila f JOIN partes_contrarias c ON c.id = f.entidade_id
                 WHERE f.tipo_entidade = 'parte_contraria' AND c.nome = 'Contraria morta'")
qa "SELECT chatwoot.reprocessar($dead)" >/dev/null
eventually_eq 30 "reprocessar sends it" t \
  q zattar "SELECT p.sincronizado FROM chatwoot.partes_chatwoot p JOIN partes_contrarias c ON c.id = p.entidade_id
            WHERE p.tipo_entidade = 'parte_contraria' AND c.nome = 'Contraria morta'"
out=$(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar -d zattar -c "SET search_path = public, pg_catalog" \
        -c "SELECT chatwoot.testar_conexao()" 2>&1)
check "testar_conexao, called with public first, reports success" test "$(jq -r .ok <<<"$out" 2>/dev/null)" = true
eventually 20 "everything drained" queue_drained
check "nothing is dead" test "$(q zattar "SELECT count(*) FROM chatwoot.fila WHERE estado = 'morto'")" = 0 \
  || q zattar "SELECT tipo, left(ultimo_erro, 300), count(*) FROM chatwoot.fila WHERE estado = 'morto' GROUP BY 1, 2" | sed "s/^/# /"

# --- nothing of the app's ran -------------------------------------------------------------------
check "no look-alike of the app's was called, by the worker or anyone" test "$(calls)" = 0 \
  || echo "#   called: $(who_called)"
check "the app role is not superuser" test "$(superuser)" = f
exit $IT_FAILED
