#!/usr/bin/env bash
# The worker is fenced from the app's code and settings (issue 17; probe
# ../shared/review/security-probe-026355c.md, 7.1-7.2, 3.1-3.5, 1.9): a FORCE'd
# row-level-security policy of the app never runs in the worker (no escalation, no
# stall, no setting of the worker changed); the fence alone (chatwoot._testar_cerca)
# rolls back every setting the app's code changes, refuses a role switch and stops
# app code at its time limit; settings the database's owner attaches to the
# database never switch the worker off; an inheritance child's rows are never read
# as the tracked table's. The app owns the database, its tables and schema public.
source "$(dirname "$0")/../lib/integration.sh"
plan 34

it_zattar fence "chatwoot_sync.poll_interval = '1s'" "chatwoot_sync.update_debounce = '100ms'" \
  "max_prepared_transactions = 5"
q zattar "CREATE ROLE app_zattar LOGIN; GRANT CREATE ON SCHEMA public TO app_zattar;
          ALTER DATABASE zattar OWNER TO app_zattar;
          ALTER TABLE clientes OWNER TO app_zattar; ALTER TABLE partes_contrarias OWNER TO app_zattar;
          ALTER TABLE terceiros OWNER TO app_zattar; ALTER TABLE contratos OWNER TO app_zattar;
          INSERT INTO clientes (tipo_pessoa, nome, emails)
          SELECT 'pf', 'Cliente Numero ' || g, jsonb_build_array('cliente' || g || '@example.com') FROM generate_series(4, 8) g;
          SELECT chatwoot.conceder_acesso_app('app_zattar');
          SELECT chatwoot.rastrear('clientes', 'cliente'), chatwoot.rastrear('partes_contrarias', 'parte_contraria'),
                 chatwoot.rastrear('terceiros', 'terceiro'), chatwoot.sincronizar_app_para_chatwoot()" >/dev/null

APP_PSQL=(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U app_zattar)
qa() { "${APP_PSQL[@]}" -d zattar -c "$1" 2>&1; }
qap() { "${APP_PSQL[@]}" -d postgres -c "$1" 2>&1; }   # the app, from another database (ALTER DATABASE)
# Silent wait: a step, not a check (the check that follows says what it proves).
wait_for() { local deadline=$((SECONDS + $1)); shift; while [ $SECONDS -le $deadline ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
# The worker as PostgreSQL sees it, read from database postgres: settings attached to
# zattar below must not change how this script reads.
wpid() { q postgres "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'"; }
worker_gone() { [ -z "$(q postgres "SELECT 1 FROM pg_stat_activity WHERE pid = $1")" ]; }
new_worker_since() { local p; p=$(wpid); [ -n "$p" ] && [ "$p" != "$1" ]; }
restart_worker() {  # ends the worker and waits for its successor (the postmaster restarts it after 5 s)
  local old; old=$(wpid)
  [ -n "$old" ] && q postgres "SELECT pg_terminate_backend($old)" >/dev/null
  wait_for 60 new_worker_since "${old:-0}"
}
new_client() { q zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', '$1') RETURNING id"; }
client_synced() { sim_contacts | jq -e --arg i "zattar_cliente_$1" 'any(.[]; .identifier == $i)' >/dev/null; }
sim_name() { sim_contacts | jq -r --arg i "zattar_${1}_$2" '.[] | select(.identifier == $i) | .name'; }
job_done() { [ "$(q zattar "SELECT estado FROM chatwoot.fila WHERE id = $1")" = concluido ]; }

# The app's code: a policy function whose behaviour a table switches without DDL (a
# policy asleep in the worker holds terceiros, so DROP POLICY would wait for it), an
# operator that makes the app superuser when a superuser's statement picks it up,
# and functions for the fence's own tests.
"${APP_PSQL[@]}" -d zattar -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || { not_ok "the app's functions load"; exit 1; }
CREATE TABLE public.modo (acao text NOT NULL);
INSERT INTO public.modo VALUES ('nada');
CREATE TABLE public.espiao (pid integer, usuario name, sessao name, processo text, em timestamptz DEFAULT now());
GRANT SELECT ON public.modo TO PUBLIC;
GRANT INSERT, SELECT ON public.espiao TO PUBLIC;
CREATE FUNCTION public.espia() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO public.espiao (pid, usuario, sessao, processo)
  VALUES (pg_catalog.pg_backend_pid(), current_user, session_user,
          (SELECT a.backend_type FROM pg_catalog.pg_stat_activity a WHERE a.pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid()));
  PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', false);
  PERFORM pg_catalog.set_config('application_name', 'sequestrado', false);
  PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
  PERFORM pg_catalog.set_config('work_mem', '64kB', false);
  RETURN true;
END $$;
-- Asleep or failing only in sessions other than the app's own (the worker's).
CREATE FUNCTION public.politica() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  a text := (SELECT m.acao FROM public.modo m);
BEGIN
  IF a OPERATOR(pg_catalog.=) 'espiar' THEN RETURN public.espia(); END IF;
  IF session_user::text OPERATOR(pg_catalog.<>) 'app_zattar' THEN
    IF a OPERATOR(pg_catalog.=) 'dormir' THEN PERFORM pg_catalog.pg_sleep(90); END IF;
    IF a OPERATOR(pg_catalog.=) 'falhar' THEN RAISE EXCEPTION 'a politica da app falhou de proposito'; END IF;
  END IF;
  RETURN true;
END $$;
CREATE FUNCTION public.igual_texto(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user)
     AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) 'app_zattar') THEN
    EXECUTE 'ALTER ROLE app_zattar SUPERUSER';
  END IF;
  RETURN pg_catalog.texteq($1, $2);
END $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.igual_texto);
CREATE FUNCTION public.muda_tudo() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'public, pg_catalog', false);
  PERFORM pg_catalog.set_config('application_name', 'sequestrado', false);
  PERFORM pg_catalog.set_config('work_mem', '64kB', false);
  PERFORM pg_catalog.set_config('lock_timeout', '1ms', false);
  PERFORM pg_catalog.set_config('statement_timeout', '1ms', false);
  PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false);
  PERFORM pg_catalog.set_config('row_security', 'off', false);
  RETURN true;
END $$;
CREATE FUNCTION public.vira_postgres() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN EXECUTE 'SET ROLE postgres'; RETURN true; END $$;
CREATE FUNCTION public.dorme() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.pg_sleep(30); RETURN true; END $$;
CREATE FUNCTION public.gira() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN LOOP END LOOP; END $$;
SQL
eventually 60 "the fixture's parties are synced" queue_drained

# --- S4: an inheritance child of clientes (probe 1.9) ----------------------------------------------
qa "CREATE TABLE clientes_arquivo () INHERITS (clientes);
    INSERT INTO clientes_arquivo (id, tipo_pessoa, nome, emails, ativo)
    VALUES (5, 'pf', 'PESSOA ARQUIVADA', '[\"arquivada@example.com\"]', true), (777, 'pf', 'So No Arquivo', NULL, true)" >/dev/null
real5=$(q zattar "SELECT nome FROM ONLY clientes WHERE id = 5")
job=$(qa "SELECT chatwoot.sincronizar_parte('cliente', 5)")
wait_for 30 job_done "$job"
check "a re-sync of client 5 sends client 5's own name, not the archive child's row with id 5 (sent: $(sim_name cliente 5))" \
  test "$(sim_name cliente 5)" = "$real5"
qa "SELECT chatwoot.sincronizar_app_para_chatwoot('cliente')" >/dev/null
wait_for 60 queue_drained
check "sincronizar_app_para_chatwoot('cliente') makes no contact (and no mapping) for id 777, which exists only in the child" \
  test "$(sim_contacts | jq '[.[] | select(.identifier == "zattar_cliente_777")] | length')|$(q zattar "SELECT count(*) FROM chatwoot.partes_chatwoot WHERE entidade_id = 777")" = "0|0"
qa "DROP TABLE clientes_arquivo" >/dev/null

# --- S2: the fence alone, through chatwoot._testar_cerca ------------------------------------------
# cerca TABLE COMMAND LIMIT_MS: in one superuser session with settings of its own,
# prints three lines: the settings before the call, the call's jsonb, the settings after.
SETTINGS_JSON="jsonb_build_object('search_path', current_setting('search_path'), 'application_name', current_setting('application_name'),
  'work_mem', current_setting('work_mem'), 'lock_timeout', current_setting('lock_timeout'),
  'statement_timeout', current_setting('statement_timeout'),
  'default_transaction_read_only', current_setting('default_transaction_read_only'),
  'row_security', current_setting('row_security'))"
cerca() {
  timeout 60 psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -v cmd="$2" 2>"$IT_WORK/cerca.err" <<SQL
SET application_name = 'cerca_teste';
SET work_mem = '3MB';
SET lock_timeout = '7s';
SET statement_timeout = '50s';
SELECT $SETTINGS_JSON || jsonb_build_object('usuario', current_user::text);
SELECT chatwoot._testar_cerca('$1', :'cmd', $3);
SELECT $SETTINGS_JSON || jsonb_build_object('usuario', current_user::text);
SQL
}
same_settings() {  # BEFORE_JSON CALL_JSON: every setting the fence reports equals the one before
  jq -e -n --argjson b "$1" --argjson r "$2" \
    '[$b | to_entries[] | select(.key != "usuario") | .value == $r.configuracoes[.key]] | all' >/dev/null 2>&1
}
out=$(cerca clientes 'SELECT public.muda_tudo()' 0); before=$(sed -n 1p <<<"$out"); res=$(sed -n 2p <<<"$out"); after=$(sed -n 3p <<<"$out")
check "the fence rolls back every setting the app's code set for the session: _testar_cerca reports the settings as before the call" \
  same_settings "$before" "$res" || echo "#   before: $before"$'\n'"#   call:   ${res:-$(head -1 "$IT_WORK/cerca.err")}"
same_text() { [ -n "$1" ] && [ "$1" = "$2" ]; }
check "the session's next statement sees the settings it had before (search_path, application_name, work_mem, timeouts, read-only, row_security)" \
  same_text "$before" "$after"
check "the app's function ran inside the fence as the table's owner, app_zattar, without error" \
  test "$(jq -r '(.erro == null) and (.usuario == "app_zattar")' <<<"$res" 2>/dev/null)" = true
out=$(cerca clientes 'SELECT public.vira_postgres()' 0); before=$(sed -n 1p <<<"$out"); res=$(sed -n 2p <<<"$out"); after=$(sed -n 3p <<<"$out")
check "SET ROLE postgres inside the fence fails with an erro and changes nothing (settings, current_user, app not superuser)" \
  bash -c '[ "$(jq -r ".erro != null" <<<"$1" 2>/dev/null)" = true ] && [ -n "$2" ] && [ "$2" = "$3" ] && [ "$4" = f ]' _ \
  "$res" "$before" "$after" "$(q zattar "SELECT rolsuper FROM pg_roles WHERE rolname = 'app_zattar'")"
out=$(cerca clientes "SELECT pg_catalog.set_config('role', 'postgres', false)" 0); before=$(sed -n 1p <<<"$out"); res=$(sed -n 2p <<<"$out"); after=$(sed -n 3p <<<"$out")
check "set_config('role', 'postgres', false) inside the fence fails with an erro and changes nothing" \
  bash -c '[ "$(jq -r ".erro != null" <<<"$1" 2>/dev/null)" = true ] && [ -n "$2" ] && [ "$2" = "$3" ]' _ "$res" "$before" "$after"
timed_cerca() {  # COMMAND: "SECONDS|erro" of a call with limite_ms = 500
  local start=$SECONDS out
  out=$(cerca clientes "$1" 500)
  if [ -s "$IT_WORK/cerca.err" ]; then echo "$((SECONDS - start))|$(head -1 "$IT_WORK/cerca.err")"
  else echo "$((SECONDS - start))|$(sed -n 2p <<<"$out" | jq -r '.erro // "null"' 2>/dev/null)"; fi
}
r=$(timed_cerca 'SELECT public.dorme()')
check "with limite_ms = 500, app code doing pg_sleep(30) is stopped within 10 s with an erro naming the time limit ($r)" \
  bash -c '[ "${1%%|*}" -le 10 ] && grep -qi "tempo" <<<"${1#*|}"' _ "$r"
r=$(timed_cerca 'SELECT public.gira()')
check "with limite_ms = 500, app code looping forever (LOOP END LOOP) is stopped within 10 s with an erro naming the time limit ($r)" \
  bash -c '[ "${1%%|*}" -le 10 ] && grep -qi "tempo" <<<"${1#*|}"' _ "$r"
out=$(qa "SELECT chatwoot._testar_cerca('clientes', 'SELECT 1')")
check "the app's role cannot execute _testar_cerca ($(head -1 <<<"$out"))" grep -qi 'permission denied for function' <<<"$out"

# --- S1: a FORCE'd row-level-security policy that changes the worker's settings (probe 7.1) ------
maxid=$(q zattar "SELECT coalesce(max(id), 0) FROM chatwoot.fila")
qa "UPDATE public.modo SET acao = 'espiar';
    CREATE POLICY todos ON terceiros USING (public.politica());
    ALTER TABLE terceiros ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY" >/dev/null
qa "UPDATE terceiros SET nome = nome || '.' WHERE id = 1" >/dev/null
cid=$(new_client 'Cliente Depois da Politica')
terceiro_tried() {
  [ "$(q zattar "SELECT EXISTS (SELECT 1 FROM public.espiao WHERE processo = 'chatwoot_sync worker')
                     OR EXISTS (SELECT 1 FROM chatwoot.fila WHERE tipo_entidade = 'terceiro' AND entidade_id = 1
                                   AND id > $maxid AND (tentativas > 0 OR estado = 'concluido'))")" = t ]
}
eventually 30 "the worker takes up the terceiro job (the policy ran in it, or it refused the table)" terceiro_tried
eventually 20 "a new client syncs while terceiros has an app policy that changes settings" client_synced "$cid"
eventually_eq 30 "the terceiro job does not complete, and its ultimo_erro says the table uses row level security" t \
  q zattar "SELECT estado <> 'concluido' AND ultimo_erro ILIKE '%row_level security%' FROM chatwoot.fila
             WHERE tipo_entidade = 'terceiro' AND entidade_id = 1 AND id > $maxid ORDER BY id DESC LIMIT 1"
WPID=$(wpid)
check "the policy never ran in the worker: espiao has no row of a worker (pid ${WPID:-none} or any chatwoot_sync worker)" \
  test "$(q zattar "SELECT count(*) FROM public.espiao WHERE processo = 'chatwoot_sync worker' OR pid = ${WPID:-0}")" = 0
check "app_zattar is not superuser (its operator public.= never ran as the worker's superuser)" \
  test "$(q zattar "SELECT rolsuper FROM pg_roles WHERE rolname = 'app_zattar'")" = f
check "the worker's application_name is still 'chatwoot_sync worker'" \
  test "$(q postgres "SELECT string_agg(application_name, ',') FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND datname = 'zattar'")" = "chatwoot_sync worker"
# Whatever happened, the next sections start from a clean worker and a plain app role.
q zattar "ALTER ROLE app_zattar NOSUPERUSER" >/dev/null
qa "UPDATE public.modo SET acao = 'nada'" >/dev/null
restart_worker

# --- S1: the same policy asleep for 90 s in the worker (probe 7.2) ------------------------------
qa "UPDATE public.modo SET acao = 'dormir'" >/dev/null
# The attempts before the call: the worker may try the job as soon as the call commits.
tries=$(q zattar "SELECT COALESCE(max(tentativas), 0) FROM chatwoot.fila WHERE tipo_entidade = 'terceiro' AND entidade_id = 1 AND estado = 'pendente'")
job=$(q zattar "SELECT chatwoot.sincronizar_parte('terceiro', 1)")
asleep_or_tried() {
  [ "$(q zattar "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'chatwoot_sync worker' AND wait_event = 'PgSleep')
                     OR EXISTS (SELECT 1 FROM chatwoot.fila WHERE id = $job AND (tentativas > $tries OR estado = 'concluido'))")" = t ]
}
eventually 30 "the worker takes up the terceiro job again (asleep in the policy, or refusing the table)" asleep_or_tried
cid=$(new_client 'Cliente Durante o Sono')
eventually 10 "a client inserted meanwhile syncs within 10 s" client_synced "$cid"
WPID=$(wpid)
q postgres "SELECT pg_terminate_backend(${WPID:-0})" >/dev/null
eventually 10 "pg_terminate_backend of the worker ends it within 10 s" worker_gone "${WPID:-0}"
qa "UPDATE public.modo SET acao = 'nada'" >/dev/null
wait_for 120 worker_gone "${WPID:-0}"
eventually 30 "a new worker starts after it" new_worker_since "${WPID:-0}"

# --- S3: settings the database's owner attaches to the database (probe 3.1-3.5) ----------------
# This script's own sessions override them (a client's options beat the database's).
SQ_OPTS="$PGOPTIONS -c default_transaction_read_only=off -c role=none -c session_authorization=postgres -c exit_on_error=off -c lock_timeout=0 -c search_path=public"
sq() { PGOPTIONS="$SQ_OPTS" q "$@"; }
db_setting() {  # NAME VALUE: one check
  local out id
  out=$(qap "ALTER DATABASE zattar SET $1 = $2")
  restart_worker
  id=$(sq zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente com $1') RETURNING id")
  eventually 20 "ALTER DATABASE zattar SET $1 = $2 by its owner (${out:-accepted}), worker restarted: a new client syncs" \
    client_synced "${id:-0}"
}
for s in "default_transaction_read_only|on" "role|app_zattar" "session_authorization|app_zattar" \
         "statement_timeout|'1ms'" "lock_timeout|'1ms'" "search_path|public, pg_catalog" \
         "default_transaction_isolation|'serializable'"; do
  db_setting "${s%%|*}" "${s#*|}"
  # The next setting's own restart starts a worker without this one.
  q postgres "ALTER DATABASE zattar RESET ALL" >/dev/null
done
# exit_on_error, with an error provoked inside the worker: the policy raises there (or
# the worker's read of the FORCE'd table fails).
qa "UPDATE public.modo SET acao = 'falhar'" >/dev/null
db_setting exit_on_error on
P=$(wpid)
sq zattar "SELECT chatwoot.sincronizar_parte('terceiro', 1)" >/dev/null
cid=$(sq zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente apos o erro') RETURNING id")
pid_stays() {  # PID SECONDS
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do [ "$(wpid)" = "$1" ] || return 1; sleep 0.5; done
}
check "with exit_on_error = on and an error in the worker's read of terceiros, the worker (pid ${P:-none}) stays the same process for 15 s" \
  pid_stays "${P:-0}" 15
eventually 10 "and a client inserted meanwhile syncs" client_synced "${cid:-0}"
q postgres "ALTER DATABASE zattar RESET ALL" >/dev/null
qa "UPDATE public.modo SET acao = 'nada'" >/dev/null
restart_worker
# chatwoot_sync.request_timeout: refused, or ignored by the worker.
out=$(qap "ALTER DATABASE zattar SET chatwoot_sync.request_timeout = 100")
if grep -q 'ERROR' <<<"$out"; then
  ok "ALTER DATABASE zattar SET chatwoot_sync.request_timeout = 100 is refused ($out)"
else
  sim_faults '{"latency_ms": 300}' || echo "# the simulator refused the latency fault"
  restart_worker
  id=$(sq zattar "INSERT INTO clientes (tipo_pessoa, nome) VALUES ('pf', 'Cliente lento') RETURNING id")
  eventually_eq 30 "ALTER DATABASE zattar SET chatwoot_sync.request_timeout = 100 was accepted, and the worker ignores it: with Chatwoot answering in 300 ms a new client's job completes" \
    concluido q zattar "SELECT string_agg(estado, ',') FROM chatwoot.fila WHERE tipo_entidade = 'cliente' AND entidade_id = ${id:-0}"
  q postgres "ALTER DATABASE zattar RESET ALL" >/dev/null
  sim_clear_faults
  restart_worker
fi

# --- last: a fast shutdown while the sleeping policy is due (probe 7.2, p20) ------------------------
qa "UPDATE public.modo SET acao = 'dormir'" >/dev/null
# The attempts before the call: the worker may try the job as soon as the call commits.
tries=$(q zattar "SELECT COALESCE(max(tentativas), 0) FROM chatwoot.fila WHERE tipo_entidade = 'terceiro' AND entidade_id = 1 AND estado = 'pendente'")
job=$(q zattar "SELECT chatwoot.sincronizar_parte('terceiro', 1)")
eventually 30 "the worker takes up the terceiro job once more (asleep in the policy, or refusing the table)" asleep_or_tried
start=$SECONDS
as_postgres "$PG_BINDIR/pg_ctl" -D "$IT_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1
rc=$?
check "pg_ctl stop -m fast stops the cluster within 20 s (rc $rc after $((SECONDS - start)) s)" test "$rc" = 0
exit $IT_FAILED
