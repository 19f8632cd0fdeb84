#!/usr/bin/env bash
# The worker runs its statements without JIT: it sets jit = off for its own session,
# whatever the cluster says (JIT compiling its short statements took a fifth of its
# CPU in a long drain; docs/BENCHMARKS.md). With jit_above_cost = 0 for the whole
# cluster, a client's statement is JIT-compiled (so JIT is there to be used), and none
# of the statements the worker runs during a drain is (pg_stat_statements counts the
# functions JIT made for each). This script's own sessions run with jit = off.
source "$(dirname "$0")/../lib/integration.sh"
plan 4

it_zattar jit "chatwoot_sync.poll_interval = '1s'" \
  "shared_preload_libraries = 'chatwoot_sync,pg_stat_statements'" "pg_stat_statements.track = all" \
  "jit = on" "jit_above_cost = 0"
export PGOPTIONS='-c jit=off'
q zattar "CREATE EXTENSION pg_stat_statements" >/dev/null
q zattar "SELECT chatwoot.rastrear('clientes', 'cliente')" >/dev/null
check "JIT is available: with jit_above_cost = 0 a client's statement is compiled" \
  grep -q 'JIT:' <<<"$(PGOPTIONS='-c jit=on' q zattar "EXPLAIN (ANALYZE) SELECT sum(g) FROM generate_series(1, 1000) g")"

q zattar "SELECT pg_stat_statements_reset()" >/dev/null
q zattar "INSERT INTO clientes (tipo_pessoa, nome) SELECT 'pf', 'Sem JIT ' || g FROM generate_series(1, 200) g" >/dev/null
eventually 60 "200 new parties drain" queue_drained
recorded=$(q zattar "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE '%chatwoot.partes_chatwoot%'")
check "the worker's statements were tracked ($recorded calls recording into partes_chatwoot)" test "$recorded" -gt 0
jitted=$(q zattar "SELECT coalesce(sum(jit_functions), 0) || ' in ' || count(*) FILTER (WHERE jit_functions > 0)
                     FROM pg_stat_statements")
check "no statement since was JIT-compiled (functions in statements: $jitted)" test "$jitted" = "0 in 0"
exit $IT_FAILED
