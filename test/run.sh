#!/usr/bin/env bash
# `make test`: builds everything, starts a private PostgreSQL 15 cluster and runs
# every suite (GoogleTest via ctest, pg_regress, pgTAP via pg_prove, integration
# scenarios against the Chatwoot simulator). Ends with "N passed, N failed" (skipped
# checks are reported on their own line before it, never as passes) and a non-zero
# exit on any failure; stops every process it started, also on Ctrl-C.
#
# What ran is compared with test/manifest.tsv (every suite and its count): a test
# deleted or renamed, or a plan changed, fails the run. After adding, removing or
# renaming tests on purpose:
#   test/run.sh --update-manifest     # rewrites test/manifest.tsv; review the diff, commit it
#
# Each integration script must print a TAP plan (test/lib/integration.sh: plan N); it
# fails when no plan was printed, when ok + not ok + skipped differs from the plan, when
# it exits non-zero, or when it runs longer than IT_TIMEOUT seconds (default 900). The
# build, pg_regress and pg_prove run under timeouts too (BUILD_TIMEOUT, default 600 s each
# step; SUITE_TIMEOUT, default 300 s): a hang there is a failure, not a stuck run.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export ROOT
MANIFEST="$ROOT/test/manifest.tsv"

# --- the manifest ----------------------------------------------------------------------
# Rows: suite<TAB>name<TAB>count, read from the sources (never from a run):
#   unit         each GoogleTest test as ctest lists it (count 1)
#   pg_regress   each test of REGRESS as the Makefile derives it from sql/*.sql (count 1)
#   pgtap        each test/pgtap/*.sql file and the N of its SELECT plan(N)
#   integration  each test/integration/*.sh script and the N of its `plan N`
manifest_rows() {
  ctest --test-dir build/cmake -N 2>/dev/null | sed -nE 's/^ *Test +#[0-9]+: (.*)$/unit\t\1\t1/p' | sort
  # Asked of make itself, so the manifest lists exactly the schedule installcheck runs.
  make -s --no-print-directory --eval='print-regress: ; @echo $(REGRESS)' print-regress \
    | tr ' ' '\n' | grep . | sed -E 's/^(.*)$/pg_regress\t\1\t1/'
  for f in test/pgtap/*.sql; do
    printf 'pgtap\t%s\t%s\n' "$(basename "$f")" "$(grep -oE 'SELECT plan\([0-9]+\)' "$f" | grep -oE '[0-9]+' | head -1)"
  done
  for f in test/integration/*.sh; do
    printf 'integration\t%s\t%s\n' "$(basename "$f" .sh)" "$(sed -nE 's/^plan ([0-9]+).*/\1/p' "$f" | head -1)"
  done
  for f in test/lint/*.sh; do  # lint: each test/lint script and the N of its echo "1..N"
    printf 'lint\t%s\t%s\n' "$(basename "$f" .sh)" "$(sed -nE 's/^echo "1\.\.([0-9]+)"$/\1/p' "$f" | head -1)"
  done
}
manifest_header() {
  cat <<'EOF'
# Every test suite and its count, compared by test/run.sh with what ran: a suite that
# runs fewer (or other) tests than listed here fails `make test`, so a deleted or
# renamed test, a dead pgTAP file or a changed integration plan cannot pass unnoticed.
#
# Format: suite<TAB>name<TAB>count, one row per
#   unit         GoogleTest test (ctest name, count 1)
#   pg_regress   pg_regress test (sql/NAME.sql with expected/NAME.out, count 1)
#   pgtap        test/pgtap file and its SELECT plan(N)
#   integration  test/integration script (without .sh) and its `plan N`
#
# After adding, removing or renaming tests on purpose, regenerate it (this builds the
# unit tests to list them; it never runs inside `make test`), review the diff, commit:
#   test/run.sh --update-manifest
EOF
}
if [ "${1:-}" = "--update-manifest" ]; then
  cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null && cmake --build build/cmake -j2 >/dev/null \
    || { echo "the unit tests do not build: cannot list them"; exit 1; }
  new=$(mktemp)
  { manifest_header; manifest_rows; } > "$new"
  if awk -F'\t' '!/^#/ && ($3 == "" || $3 !~ /^[0-9]+$/) {print "no count for " $1 " " $2; bad = 1} END {exit !bad}' "$new"; then
    echo "fix the plans above (literal SELECT plan(N) / plan N), then run this again"; rm -f "$new"; exit 1
  fi
  diff -u "$MANIFEST" "$new" && echo "test/manifest.tsv is up to date"
  mv "$new" "$MANIFEST"
  echo "wrote test/manifest.tsv: review the diff above and commit it"
  exit 0
fi

source test/lib/cluster.sh

WORK=$(mktemp -d /tmp/chatwoot_sync_test.XXXXXX)
chmod 755 "$WORK"
export WORK
RAN="$WORK/ran.tsv"   # what ran, in the manifest's format
: > "$RAN"
PASSED=0
FAILED=0
SKIPPED=0
FAILURES=()
SKIPS=()
IT_TIMEOUT="${IT_TIMEOUT:-900}"
BUILD_TIMEOUT="${BUILD_TIMEOUT:-600}"
SUITE_TIMEOUT="${SUITE_TIMEOUT:-300}"
# limited SECONDS COMMAND...: COMMAND under timeout; says so when it was killed (124/137).
limited() {
  local limit="$1"; shift
  timeout --kill-after=30 "$limit" "$@"; local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "TIMED OUT: still running after $limit s, killed: $*" >&2; fi
  return $rc
}

cleanup() {
  cluster_stop_all
  # Integration scripts clean up after themselves; this catches anything left by one
  # that was killed: the simulators they started (by pid) and their clusters.
  if [ -f "$WORK/simulator.pids" ]; then
    while read -r pid; do
      [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$ROOT/build/cmake/simulator/chatwoot-sim" ] \
        && kill "$pid" 2>/dev/null
    done < "$WORK/simulator.pids"
  fi
  if [ -f "$WORK/exporter.pids" ]; then  # test/integration/monitoring.sh's exporter
    while read -r pid; do
      [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = /usr/bin/prometheus-postgres-exporter ] \
        && kill "$pid" 2>/dev/null
    done < "$WORK/exporter.pids"
  fi
  for pidfile in "$WORK"/*/data/postmaster.pid "$WORK"/it.*/*/data/postmaster.pid; do
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
count() {  # count SUITE PASSED FAILED [SKIPPED]
  local skipped="${4:-0}"
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3)); SKIPPED=$((SKIPPED + skipped))
  [ "$3" -gt 0 ] && FAILURES+=("$1: $3 failed")
  if [ "$skipped" -gt 0 ]; then
    printf '%s: %d passed, %d failed, %d skipped\n' "$1" "$2" "$3" "$skipped"
  else
    printf '%s: %d passed, %d failed\n' "$1" "$2" "$3"
  fi
}

note "build"
if ! { limited "$BUILD_TIMEOUT" make -j2 >"$WORK/build-ext.log" 2>&1 &&
       limited "$BUILD_TIMEOUT" make install >>"$WORK/build-ext.log" 2>&1; }; then
  tail -n 40 "$WORK/build-ext.log"; echo "0 passed, 1 failed"; exit 1
fi
if ! { limited "$BUILD_TIMEOUT" cmake -S . -B build/cmake -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$WORK/build-cmake.log" 2>&1 &&
       limited "$BUILD_TIMEOUT" cmake --build build/cmake -j2 >>"$WORK/build-cmake.log" 2>&1; }; then
  tail -n 40 "$WORK/build-cmake.log"; echo "0 passed, 1 failed"; exit 1
fi
echo "built extension, core library, unit tests and simulator"

note "lint (test/lint: the boundary's rules)"
for lint in test/lint/*.sh; do
  name=$(basename "$lint" .sh)
  out=$(bash "$lint" 2>&1); rc=$?
  planned=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' <<<"$out" | head -1)
  oks=$(grep -cE '^ok ' <<<"$out"); nots=$(grep -cE '^not ok ' <<<"$out")
  printf 'lint\t%s\t%s\n' "$name" "${planned:-NO-PLAN}" >> "$RAN"
  bad=$nots
  [ -n "$planned" ] && [ $((oks + nots)) -lt "$planned" ] && bad=$((bad + planned - oks - nots))
  [ $rc -ne 0 ] && [ "$bad" -eq 0 ] && bad=1
  [ "$bad" -gt 0 ] && grep -E '^not ok|^#' <<<"$out" | head -30
  count "lint/$name" "$oks" "$bad"
done

note "unit tests (GoogleTest: core and simulator)"
ctest --test-dir build/cmake -j2 --timeout 120 --output-on-failure >"$WORK/ctest.log" 2>&1
sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) .*/unit\t\1\t1/p' "$WORK/ctest.log" | sort >> "$RAN"
summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$WORK/ctest.log" | tail -1)
if [ -n "$summary" ]; then
  total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
  bad=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$summary")
  # ctest counts a skipped test (GTEST_SKIP) among the passed: count it as skipped.
  skipped=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*\*\*\*Skipped' "$WORK/ctest.log")
  count "unit" $((total - bad - skipped)) "$bad" "$skipped"
  [ "$skipped" -gt 0 ] && SKIPS+=("unit: $skipped tests skipped") && grep -E '\*\*\*Skipped' "$WORK/ctest.log" | head -20
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
# REGRESS is every sql/*.sql but the extension's own scripts: an input without its golden
# in expected/, or a golden whose input is gone, would otherwise fail obscurely or be
# silently skipped. (NAME_N.out is pg_regress's alternative output for NAME.sql.)
unpaired=0
for f in sql/*.sql; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .sql)
  [[ "$n" == chatwoot_sync--* ]] && continue
  [ -f "expected/$n.out" ] || { echo "pg_regress: $f has no expected/$n.out"; unpaired=$((unpaired + 1)); }
done
for f in expected/*.out; do
  [ -e "$f" ] || continue
  n=$(basename "$f" .out)
  [ -f "sql/$n.sql" ] || { [[ "$n" =~ ^(.+)_[0-9]+$ ]] && [ -f "sql/${BASH_REMATCH[1]}.sql" ]; } \
    || { echo "pg_regress: $f has no input sql/$n.sql"; unpaired=$((unpaired + 1)); }
done
[ $unpaired -gt 0 ] && count "pg_regress (inputs and expected files)" 0 "$unpaired"
limited "$SUITE_TIMEOUT" make installcheck PGHOST=127.0.0.1 PGPORT="$PGPORT" PGUSER=postgres >"$WORK/regress.log" 2>&1
sed -nE 's/^(test +| +)([a-z0-9_]+) +\.\.\. .*/pg_regress\t\2\t1/p' "$WORK/regress.log" >> "$RAN"
if grep -qE 'All [0-9]+ tests passed' "$WORK/regress.log"; then
  n=$(grep -oE 'All [0-9]+ tests passed' "$WORK/regress.log" | grep -oE '[0-9]+')
  count "pg_regress" "$n" 0
elif grep -qE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log"; then
  line=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$WORK/regress.log")
  bad=${line%% of*}; total=$(sed -E 's/[0-9]+ of ([0-9]+).*/\1/' <<<"$line")
  count "pg_regress" $((total - bad)) "$bad"
  head -60 regression.diffs 2>/dev/null
else
  tail -n 20 "$WORK/regress.log"; count "pg_regress" 0 1
fi

note "pgTAP"
if psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE chatwoot_tap" >"$WORK/pgtap-setup.log" 2>&1 &&
   psql -X -q -v ON_ERROR_STOP=1 -d chatwoot_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION chatwoot_sync" \
     >>"$WORK/pgtap-setup.log" 2>&1; then
  limited "$SUITE_TIMEOUT" pg_prove --verbose -h 127.0.0.1 -p "$PGPORT" -U postgres -d chatwoot_tap test/pgtap/*.sql >"$WORK/pgtap.log" 2>&1
  # Per file: its plan, its ok lines and its not ok lines. A test that never ran (the
  # file died) is a failure too: failed = plan - passed.
  awk '
    /^test\/pgtap\/[^ ]+\.sql \.\./ { file = $1; sub(/^test\/pgtap\//, "", file); files[++n] = file; next }
    file != "" && /^1\.\.[0-9]+/ { plan[file] = substr($1, 4) + 0; next }
    file != "" && /^ok / { okc[file]++; next }
    file != "" && /^not ok / { bad[file]++; next }
    END { for (i = 1; i <= n; i++) { f = files[i]; printf "%s\t%d\t%d\t%d\n", f, (f in plan) ? plan[f] : -1, okc[f] + 0, bad[f] + 0 } }
  ' "$WORK/pgtap.log" > "$WORK/pgtap.files"
  passed=0; bad=0
  while IFS=$'\t' read -r f planned oks nots; do
    passed=$((passed + oks))
    if [ "$planned" -lt 0 ]; then
      echo "pgTAP $f: no plan"; bad=$((bad + 1))
    else
      printf 'pgtap\t%s\t%s\n' "$f" "$planned" >> "$RAN"
      missing=$((planned - oks - nots)); [ $missing -lt 0 ] && missing=0
      bad=$((bad + nots + missing))
      [ $missing -gt 0 ] && echo "pgTAP $f: $missing of its $planned planned tests never ran"
    fi
  done < "$WORK/pgtap.files"
  if ! grep -q 'Result: PASS' "$WORK/pgtap.log"; then
    [ "$bad" -eq 0 ] && bad=1
    grep -E '^not ok|^#|^test/pgtap|Failed|Dubious|Parse errors|TIMED OUT' "$WORK/pgtap.log" | grep -vE '^# +(have|want)?$' | head -60
  fi
  count "pgTAP" "$passed" "$bad"
else
  cat "$WORK/pgtap-setup.log"; echo "pgTAP set-up failed"; count "pgTAP" 0 1
fi

note "integration (simulator, crashes, standby)"
# The long failure runs (10,000 jobs through kill -9s, Chatwoot down 60 s) take about
# 3 minutes: behind LONG=1 (`make test-long` runs only them; CI runs both), so that
# `make test` stays under 15 minutes.
export LONG="${LONG:-0}"
cluster_stop "$MAIN_DIR"
for script in test/integration/*.sh; do
  name=$(basename "$script" .sh)
  log="$WORK/it-$name.log"
  started=$SECONDS
  timeout --kill-after=30 "$IT_TIMEOUT" bash "$script" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - started))
  plans=$(grep -cE '^1\.\.[0-9]+' "$log")
  planned=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log" | head -1)
  skip_all=$(grep -E '^1\.\.0 # SKIP' "$log" | head -1)
  oks=$(grep -cE '^ok ' "$log")
  skips=$(grep -cE '^ok .*# SKIP' "$log")
  nots=$(grep -cE '^not ok ' "$log")
  ran=$((oks + nots))
  bad=$nots
  problems=()
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    problems+=("TIMED OUT: still running after ${IT_TIMEOUT} s (IT_TIMEOUT), killed")
  elif [ $rc -ne 0 ]; then
    problems+=("exited with status $rc")
  fi
  if [ "$plans" -eq 0 ]; then
    problems+=("printed no plan (1..N): call plan N before the first check")
    printf 'integration\t%s\tNO-PLAN\n' "$name" >> "$RAN"
  elif [ "$plans" -gt 1 ]; then
    problems+=("printed $plans plans")
  elif [ -n "$skip_all" ]; then
    [ $ran -eq 0 ] || problems+=("skipped as a whole but printed $ran checks")
    skips=1
    SKIPS+=("integration/$name: ${skip_all#1..0 # SKIP }")
    printf 'integration\t%s\tSKIP\n' "$name" >> "$RAN"
  else
    printf 'integration\t%s\t%s\n' "$name" "$planned" >> "$RAN"
    if [ $ran -ne "$planned" ]; then
      problems+=("ran $ran checks ($oks ok, $nots not ok) but planned $planned")
      [ $ran -lt "$planned" ] && bad=$((bad + planned - ran))
    fi
  fi
  if [ ${#problems[@]} -gt 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if [ ${#problems[@]} -gt 0 ]; then
    for problem in "${problems[@]}"; do echo "$name: $problem"; done
    tail -n 15 "$log"
  fi
  grep -E '^not ok ' -A6 "$log" | head -40
  passed=$((oks - $(grep -cE '^ok .*# SKIP' "$log")))
  [ -z "$skip_all" ] && [ "$skips" -gt 0 ] && SKIPS+=("integration/$name: $skips checks skipped")
  count "integration/$name (${took}s)" "$passed" "$bad" "$skips"
done

note "manifest (test/manifest.tsv)"
expected=$(grep -vE '^#|^$' "$MANIFEST" 2>/dev/null | sort)
# A script skipped as a whole (LONG=0) ran as planned for the manifest's purpose.
actual=$(awk -F'\t' 'NR == FNR { if ($0 !~ /^#/) want[$1 "\t" $2] = $3; next }
                     $3 == "SKIP" && (($1 "\t" $2) in want) { $3 = want[$1 "\t" $2] }
                     { print $1 "\t" $2 "\t" $3 }' "$MANIFEST" "$RAN" | sort)
if [ -z "$expected" ]; then
  echo "test/manifest.tsv is missing or empty: run test/run.sh --update-manifest and commit it"
  count "manifest" 0 1
elif [ "$expected" = "$actual" ]; then
  echo "every suite ran what test/manifest.tsv lists ($(wc -l <<<"$expected") rows)"
  count "manifest" 1 0
else
  echo "what ran differs from test/manifest.tsv (- listed but not run as listed, + ran but not listed):"
  diff <(echo "$expected") <(echo "$actual") | grep -E '^[<>]' | sed -e 's/^</-/' -e 's/^>/+/' | head -40
  echo "If the change is intended: test/run.sh --update-manifest, review the diff and commit test/manifest.tsv"
  count "manifest" 0 1
fi

echo
if [ ${#FAILURES[@]} -gt 0 ]; then printf 'failed: %s\n' "${FAILURES[@]}"; fi
if [ ${#SKIPS[@]} -gt 0 ]; then printf 'skipped: %s\n' "${SKIPS[@]}"; fi
echo "$SKIPPED skipped"
echo "$PASSED passed, $FAILED failed"
[ $FAILED -eq 0 ]
