#!/usr/bin/env bash
# cpp_entry puts PostgreSQL's exception and error-context stacks back after a C++
# exception: chatwoot._testar_fronteira('pilhas_pg') throws with both pointing into
# the frame it unwound. Without the restore the ERROR would call a dead error-context
# callback and longjmp into a dead frame (a crash, and a restart of the server).
source "$(dirname "$0")/../lib/integration.sh"
plan 4

it_cluster stacks "chatwoot_sync.database_name = 'fronteira'" || { not_ok "cluster starts"; exit 1; }
q postgres "CREATE DATABASE fronteira" >/dev/null
q fronteira "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION"; exit 1; }
# A backend's crash leaves the postmaster (and pg_postmaster_start_time()) in place: it
# shows only in the server log, as a signal and a reinitialization.
LOG="$IT_DIR/server.log"
crashes() { grep -cE 'terminated by signal|all server processes terminated; reinitializing' "$LOG"; }
crashes_before=$(crashes)

out=$(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d fronteira \
        -c "SELECT chatwoot._testar_fronteira('pilhas_pg')" -c "SELECT 'destrutores=' || chatwoot._fronteira_destrutores()" 2>&1)
check "the exception is a clean ERROR with its message ($(head -1 <<<"$out"))" \
  grep -qF "ERROR:  chatwoot_sync: falha com as pilhas do PostgreSQL deixadas para trás" <<<"$out"
# Only a report that came can lack the context: the ERROR line first, then its absence.
check "the abandoned error context is not in the report (error_context_stack restored)" \
  bash -c 'grep -qF "ERROR:  chatwoot_sync: falha com as pilhas" <<<"$1" && ! grep -q "contexto abandonado" <<<"$1"' _ "$out"
check "the session carries on, and the C++ frame's destructor ran" grep -qx "destrutores=1" <<<"$out"
sleep 1  # a crash's log lines come from the postmaster, after the session's end
crashes_after=$(crashes)
check "no backend crashed and the server did not reinitialize (signal and reinitializing lines in the server log: $crashes_before before, $crashes_after after)" \
  test "$crashes_after" = "$crashes_before"
exit $IT_FAILED
