# Shared set-up for the benchmarks (sourced): a private cluster and the simulator,
# stopped on exit. Benchmarks print their figures; docs/BENCHMARKS.md records them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
source test/lib/cluster.sh
source test/lib/simulator.sh

bench_setup() {  # bench_setup NAME [extra postgresql.conf lines...]
  make -j2 >/dev/null && make install >/dev/null
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build/cmake -j2 --target chatwoot-sim >/dev/null
  BENCH_DIR=$(mktemp -d /tmp/chatwoot_sync_bench.XXXXXX); chmod 755 "$BENCH_DIR"
  PORT=$(free_port)
  cluster_init "$BENCH_DIR/pg" "$PORT" "chatwoot_sync.database_name = 'zattar'" "$@" >/dev/null
  cluster_start "$BENCH_DIR/pg"
  trap 'sim_stop_all; cluster_stop_all; rm -rf "$BENCH_DIR"' EXIT
  sim_start
  psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c "CREATE DATABASE zattar"
  psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql >/dev/null
  psql -X -q -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c "CREATE EXTENSION chatwoot_sync" >/dev/null
}
# three_tables: Zattar-shaped copies of clientes side by side: sem_rastreio (no
# trigger), rastreada (chatwoot.rastrear) and pgq_logutriga (PgQ's logutriga, the
# field's reference for a trigger-fed queue).
three_tables() {
  sq "CREATE EXTENSION pgq" >/dev/null
  sq "SELECT pgq.create_queue('bench')" >/dev/null
  for t in sem_rastreio rastreada pgq_logutriga; do
    sq "CREATE TABLE $t (LIKE clientes INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)" >/dev/null
    sq "ALTER TABLE $t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY" >/dev/null
  done
  sq "SELECT chatwoot.rastrear('rastreada', 'bench')" >/dev/null
  sq "CREATE TRIGGER pgq_bench AFTER INSERT OR UPDATE OR DELETE ON pgq_logutriga FOR EACH ROW EXECUTE PROCEDURE pgq.logutriga('bench')" >/dev/null
}
sq() { psql -X -q -At -h 127.0.0.1 -p "$PORT" -U postgres -d zattar -c "$1"; }
# Waits for the queue to drain with one server-side loop, a pause between checks
# (50 ms unless given): a psql started for each check would itself take a good share
# of the two cores the worker is being measured on. Each check walks index entries
# the drain has just made dead, so a timed drain passes a longer pause: at 50 ms the
# checks took 5 % of a core (30 of 600 ticks) from the worker, at 250 ms 1-2 %.
wait_drained() {  # wait_drained TIMEOUT_S [PAUSE_S]
  sq "DO \$\$
      DECLARE deadline timestamptz := clock_timestamp() + make_interval(secs => $1);
      BEGIN
        LOOP
          EXIT WHEN NOT EXISTS (SELECT 1 FROM chatwoot.fila WHERE estado = 'pendente' AND tipo <> 'lote')
               AND NOT EXISTS (SELECT 1 FROM chatwoot.fila WHERE estado = 'pendente' AND tipo = 'lote')
               AND NOT EXISTS (SELECT 1 FROM chatwoot.fila WHERE estado = 'processando')
               AND NOT EXISTS (SELECT 1 FROM chatwoot.mudancas);
          IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'queue not drained after % s', $1; END IF;
          PERFORM pg_sleep(${2:-0.05});
        END LOOP;
      END \$\$" >/dev/null
}
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
