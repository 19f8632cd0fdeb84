#!/usr/bin/env bash
# `make test`: builds everything, starts a private PostgreSQL 15 cluster and runs
# every suite (GoogleTest via ctest, pg_regress, pgTAP via pg_prove, integration
# scenarios against the Chatwoot simulator). Ends with "N passed, N failed" and a
# non-zero exit on any failure; stops every process it started, also on Ctrl-C.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export ROOT
source test/lib/cluster.sh

WORK=$(mktemp -d /tmp/chatwoot_sync_test.XXXXXX)
chmod 755 "$WORK"
export WORK
PASSED=0
FAILED=0
FAILURES=()

cleanup() {
  cluster_stop_all
  # Integration scripts clean up after themselves; this catches anything left by an interrupted one.
  pkill -f "$ROOT/build/cmake/simulator/chatwoot-sim" 2>/dev/null || true
  for pidfile in "$WORK"/*/data/postmaster.pid; do
    [ -f "$pidfile" ] && runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$(dirname "$pidfile")" -m immediate stop >/dev/null 2>&1
  done
  if [ "${KEEP_TEST_DIR:-0}" = 1 ] || [ $FAILED -gt 0 ]; then
    echo "test files kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

note() { printf '\n=== %s\n' "$*"; }
count() {  # count SUITE PASSED FAILED
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
  [ "$3" -gt 0 ] && FAILURES+=("$1: $3 failed")
  printf '%s: %d passed, %d failed\n' "$1" "$2" "$3"
}

note "build"
if ! { make -j2 >"$WORK/build-ext.log" 2>&1 && make install >>"$WORK/build-ext.log" 2>&1; }; then
  tail -n 40 "$WORK/build-ext.log"; echo "0 passed, 1 failed"; exit 1
fi
if ! { cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/build-cmake.log" 2>&1 &&
       cmake --build build/cmake -j2 >>"$WORK/build-cmake.log" 2>&1; }; then
  tail -n 40 "$WORK/build-cmake.log"; echo "0 passed, 1 failed"; exit 1
fi
echo "built extension, core library, unit tests and simulator"

note "unit tests (GoogleTest: core and simulator)"
ctest --test-dir build/cmake -j2 --timeout 120 --output-on-failure >"$WORK/ctest.log" 2>&1
summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$WORK/ctest.log" | tail -1)
if [ -n "$summary" ]; then
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")
  count "unit" $((total - bad)) "$bad"
  [ "$bad" -gt 0 ] && grep -E '\*\*\*Failed|Timeout|Exception' "$WORK/ctest.log" | head -20
else
  tail -n 30 "$WORK/ctest.log"; count "unit" 0 1
fi

note "private cluster"
PGPORT=$(free_port)
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
MAIN_DIR="$WORK/main"
cluster_init "$MAIN_DIR" "$PGPORT" \
  "chatwoot_sync.database_name = 'contrib_regression,chatwoot_tap'" \
  "chatwoot_sync.poll_interval = '30s'" || { echo "0 passed, 1 failed"; exit 1; }
cluster_start "$MAIN_DIR" || { echo "0 passed, 1 failed"; exit 1; }
echo "PostgreSQL 15 on port $PGPORT (data in $MAIN_DIR/data)"

note "pg_regress"
make installcheck PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres >"$WORK/regress.log" 2>&1
if grep -qE 'All [0-9]+ tests passed' "$WORK/regress.log"; then
  n=$(grep -oE 'All [0-9]+ tests passed' "$WORK/regress.log" | grep -oE '[0-9]+')
  count "pg_regress" "$n" 0
elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log"; then
  line=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log")
  bad=${line%% of*}; total=$(sed -E 's/[0-9]+ of ([0-9]+).*/\1/' <<<"$line")
  count "pg_regress" $((total - bad)) "$bad"
  cat build/regress/regression.diffs 2>/dev/null | head -60
else
  tail -n 20 "$WORK/regress.log"; count "pg_regress" 0 1
fi

note "pgTAP"
psql -X -q -d postgres -c "CREATE DATABASE chatwoot_tap" >/dev/null
psql -X -q -d chatwoot_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION chatwoot_sync" >/dev/null
pg_prove -h 127.0.0.1 -p "$PGPORT" -U postgres -d chatwoot_tap test/pgtap/*.sql >"$WORK/pgtap.log" 2>&1
tests=$(grep -oE 'Tests=[0-9]+' "$WORK/pgtap.log" | grep -oE '[0-9]+' || echo 0)
bad=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$WORK/pgtap.log" | awk '{split($2,a,"/"); s+=a[1]} END {print s+0}')
if grep -q 'Result: PASS' "$WORK/pgtap.log"; then
  count "pgTAP" "$tests" 0
else
  [ "$bad" -eq 0 ] && bad=1
  cat "$WORK/pgtap.log" | grep -vE '^ok|^\s*$' | head -40
  count "pgTAP" $((tests > bad ? tests - bad : 0)) "$bad"
fi

note "integration (simulator, crashes, standby)"
# The long failure runs (10,000 jobs through kill -9s, Chatwoot down 60 s) take about
# 3 minutes and are part of `make test`; LONG=0 skips them for a quick local run.
export LONG="${LONG:-1}"
cluster_stop "$MAIN_DIR"
for script in test/integration/*.sh; do
  name=$(basename "$script" .sh)
  bash "$script" >"$WORK/it-$name.log" 2>&1
  rc=$?
  ok=$(grep -cE '^ok ' "$WORK/it-$name.log")
  bad=$(grep -cE '^not ok ' "$WORK/it-$name.log")
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; echo "$name exited with $rc"; tail -n 15 "$WORK/it-$name.log"; fi
  grep -E '^not ok ' -A6 "$WORK/it-$name.log" | head -40
  count "integration/$name" "$ok" "$bad"
done

echo
if [ ${#FAILURES[@]} -gt 0 ]; then printf 'failed: %s\n' "${FAILURES[@]}"; fi
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
