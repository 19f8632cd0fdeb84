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
started=$(q postgres "SELECT pg_postmaster_start_time()")

out=$(psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d fronteira \
        -c "SELECT chatwoot._testar_fronteira('pilhas_pg')" -c "SELECT 'destrutores=' || chatwoot._fronteira_destrutores()" 2>&1)
check "the exception is a clean ERROR with its message ($(head -1 <<<"$out"))" \
  grep -qF "ERROR:  chatwoot_sync: falha com as pilhas do PostgreSQL deixadas para trás" <<<"$out"
check "the abandoned error context is not in the report (error_context_stack restored)" \
  bash -c '! grep -q "contexto abandonado" <<<"$1"' _ "$out"
check "the session carries on, and the C++ frame's destructor ran" grep -qx "destrutores=1" <<<"$out"
check "the server did not restart" test "$(q postgres "SELECT pg_postmaster_start_time()")" = "$started"
exit $IT_FAILED
