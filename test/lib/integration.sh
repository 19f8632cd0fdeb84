# Helpers for integration scenarios (sourced by test/integration/*.sh).
#
# Each scenario is a TAP producer that test/run.sh checks against its plan:
#
#   plan N                  prints "1..N"; call it exactly once, before the first check.
#                           test/run.sh fails the script when no plan was printed, or when
#                           ok + not ok + skipped differs from N (a script that stops early
#                           or runs a check twice), or when it exits non-zero.
#   ok DESCRIPTION          prints "ok - DESCRIPTION"
#   not_ok DESCRIPTION      prints "not ok - DESCRIPTION" (and counts a failure)
#   check DESCRIPTION CMD...              ok when CMD succeeds (CMD runs once, now); returns
#                           non-zero on failure, so `check ... || print_diagnostics` works
#   eventually SECONDS DESCRIPTION CMD... ok when CMD succeeds within SECONDS. CMD is run
#                           again on every try, but its arguments are expanded once, by
#                           the caller: `eventually 5 "x" test "$(q ...)"` is a one-shot
#                           check. Pass a function, `bash -c '...'`, or use eventually_eq.
#   eventually_eq SECONDS DESCRIPTION EXPECTED CMD...
#                           ok when CMD's output equals EXPECTED within SECONDS; CMD (for
#                           example `q zattar "SELECT ..."`) runs again on every try, and
#                           the last output is shown on failure.
#   skip DESCRIPTION REASON prints "ok - DESCRIPTION # SKIP REASON" (counts toward the plan;
#                           test/run.sh reports it as skipped, not passed)
#   skip_all REASON         prints "1..0 # SKIP REASON" and exits 0 (instead of plan)
#   q DB SQL / qe DB SQL    psql on the current cluster (IT_PORT): one value / stdout+stderr
#
# Every psql the scenarios run gets a statement_timeout (IT_STATEMENT_TIMEOUT, default
# 60s; the slowest legitimate statement of the suite takes about 1 s: testar_conexao
# against a hang with request_timeout 1s, measured with log_min_duration_statement) through
# PGOPTIONS, so a hung statement fails instead of hanging `make test`; test/run.sh also
# runs each script under `timeout`. Every scenario cleans up every process it started.
set -uo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$ROOT"
source test/lib/cluster.sh
source test/lib/simulator.sh

IT_WORK=$(mktemp -d "${WORK:-/tmp}/it.XXXXXX")
chmod 755 "$IT_WORK"
IT_FAILED=0
IT_PLAN=""
IT_COUNT=0   # checks printed by this shell (checks printed inside a subshell are not seen here)
export PGOPTIONS="${PGOPTIONS:-} -c statement_timeout=${IT_STATEMENT_TIMEOUT:-60s}"

it_cleanup() {
  sim_stop_all
  cluster_stop_all
  if [ -n "$IT_PLAN" ] && [ "$IT_COUNT" != "$IT_PLAN" ]; then
    echo "# this script printed $IT_COUNT of the $IT_PLAN checks of its plan"
  fi
}
trap it_cleanup EXIT

# The simulators started here, by pid, for test/run.sh to stop should a script be killed
# before its own clean-up (it never stops processes by name).
eval "$(declare -f sim_start | sed '1s/sim_start/_it_sim_start/')"
sim_start() {
  _it_sim_start || return 1
  [ -n "${WORK:-}" ] && echo "$SIM_PID" >> "$WORK/simulator.pids"
  return 0
}

plan() {
  if [ -n "$IT_PLAN" ]; then not_ok "plan is printed once (again: plan $1 after plan $IT_PLAN)"; return 1; fi
  if [ "$IT_COUNT" -gt 0 ]; then echo "# plan printed after $IT_COUNT checks: call plan before the first check"; fi
  IT_PLAN="$1"
  echo "1..$1"
}
skip_all() { echo "1..0 # SKIP $*"; IT_PLAN=""; exit 0; }
ok() { IT_COUNT=$((IT_COUNT + 1)); echo "ok - $*"; }
not_ok() { IT_COUNT=$((IT_COUNT + 1)); echo "not ok - $*"; IT_FAILED=$((IT_FAILED + 1)); }
skip() { IT_COUNT=$((IT_COUNT + 1)); echo "ok - $1 # SKIP ${2:-}"; }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
  local description="$1"; shift
  if "$@"; then ok "$description"; else not_ok "$description"; return 1; fi
}

# eventually SECONDS DESCRIPTION COMMAND...: ok when the command succeeds within SECONDS.
eventually() {
  local seconds="$1" description="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  while [ $SECONDS -le $deadline ]; do
    if "$@" >/dev/null 2>&1; then ok "$description"; return 0; fi
    sleep 0.1
  done
  not_ok "$description (not within ${seconds}s)"
  return 1
}

# eventually_eq SECONDS DESCRIPTION EXPECTED COMMAND...: ok when the command prints
# EXPECTED within SECONDS (the command is run again on every try).
eventually_eq() {
  local seconds="$1" description="$2" expected="$3"; shift 3
  local deadline=$((SECONDS + seconds)) got=""
  while [ $SECONDS -le $deadline ]; do
    got=$("$@" 2>"$IT_WORK/eventually.stderr")
    if [ "$got" = "$expected" ]; then ok "$description"; return 0; fi
    sleep 0.1
  done
  not_ok "$description (not within ${seconds}s)"
  echo "#   last got: $got"
  echo "#   expected: $expected"
  [ -s "$IT_WORK/eventually.stderr" ] && sed 's/^/#   stderr: /' "$IT_WORK/eventually.stderr" | head -5
  return 1
}

# it_cluster NAME [extra postgresql.conf lines...]: a fresh cluster; sets IT_PORT and IT_DIR.
it_cluster() {
  local name="$1"; shift
  IT_DIR="$IT_WORK/$name"
  IT_PORT=$(free_port)
  cluster_init "$IT_DIR" "$IT_PORT" "$@" && cluster_start "$IT_DIR"
}

# The simulator is as hard as Chatwoot unless a script says otherwise: behind a proxy
# that drops headers with '_', racing concurrent writes (no write lock), and rate
# limited per client IP in clock-aligned windows. The limit is one a Chatwoot admin
# raised for volume (RACK_ATTACK_LIMIT=120000, as the README advises), and it_zattar's
# connection gets a budget just under it; chatwoot_real.sh runs Chatwoot's default
# 3,000 per minute (IT_BUDGET empty: the default budget). Set SIM_ARGS= for none.
: "${SIM_ARGS=--proxy --concurrency real --rate-limit 120000/60}"
: "${IT_BUDGET=116000}"
export SIM_ARGS IT_BUDGET

# it_zattar NAME [extra postgresql.conf lines...]: a cluster serving `zattar` with the
# app's tables, the extension, the simulator and a connection to it (sets what
# it_cluster and sim_start set). Exits the script when any step fails.
it_zattar() {
  local name="$1"; shift
  it_cluster "$name" "chatwoot_sync.database_name = 'zattar'" "$@" || { not_ok "$name cluster starts"; exit 1; }
  sim_start || { not_ok "simulator starts"; exit 1; }
  q postgres "CREATE DATABASE zattar" >/dev/null || { not_ok "CREATE DATABASE zattar"; exit 1; }
  psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql >/dev/null \
    || { not_ok "the app's schema loads"; exit 1; }
  q zattar "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION"; exit 1; }
  q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1${IT_BUDGET:+, limite_requisicoes => $IT_BUDGET, janela_limite_s => 60})" >/dev/null \
    || { not_ok "configurar"; exit 1; }
}

# queued: the work the worker has not done yet in `zattar`: outbox jobs pending or in
# flight plus changes not yet drained into the outbox (chatwoot.mudancas: the worker
# drains it at the start of a cycle, so right after a commit the outbox alone can look
# empty). Errors are dropped: it is also polled while a cluster is in crash recovery.
queued() {  # queued [DB]: in `zattar` unless DB is given
  q "${1:-zattar}" "SELECT (SELECT count(*) FROM chatwoot.fila WHERE estado IN ('pendente', 'processando'))
                 + (SELECT count(*) FROM chatwoot.mudancas)" 2>/dev/null
}
queue_drained() { [ "$(queued "${1:-zattar}")" = 0 ]; }
# reload_settings DB: pg_reload_conf(), then waits (10 s at most) until DB's worker has
# read the settings again (worker_status().recargas_config went up), instead of a sleep.
# Fails, saying so, when it did not.
reload_settings() {
  local db="$1" before i
  local sql="SELECT recargas_config FROM chatwoot.worker_status() WHERE processo = 'worker' AND banco = '$db'"
  before=$(q "$db" "$sql")
  q "$db" "SELECT pg_reload_conf()" >/dev/null
  for i in $(seq 1 100); do
    [ -n "$before" ] && [ "$(q "$db" "$sql")" -gt "$before" ] 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# the worker of $db did not reload its settings within 10 s (recargas_config ${before:-none})"
  return 1
}
# worker_cycled DB: wakes DB's worker and waits (10 s at most) for a cycle that began
# after this call: a change made before it (ativo = false, a pause) has been seen.
worker_cycled() {
  [ "$(q "${1:-zattar}" "SELECT chatwoot.acordar_worker() AND chatwoot.aguardar_worker(10000, clock_timestamp())")" = t ] ||
    { echo "# the worker of ${1:-zattar} did not complete a cycle within 10 s"; return 1; }
}

# q DB SQL: one value, unaligned, no headers.
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -c "$2"; }
# qe DB SQL: runs SQL, prints stdout+stderr (for error checks).
qe() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -c "$2" 2>&1; }

# Simulator control API (SIM_CONTROL is set by sim_start).
sim_contacts() { curl -sf "$SIM_CONTROL/__sim/accounts/1/contacts"; }
requests_json() { curl -sf "$SIM_CONTROL/__sim/requests"; }
clear_requests() { curl -sf -X DELETE "$SIM_CONTROL/__sim/requests" >/dev/null; }
# sim_set_faults JSON: sim_faults, and a failed check when the simulator refused them.
sim_set_faults() { check "the simulator accepts the faults $1" sim_faults "$1"; }

# creates_summary REQUESTS_JSON [IDENTIFIER_REGEX]: the contact creates (POST
# .../contacts) in a request log, by the identifier in their body (zattar_<tipo>_<id>):
# "once=N more=M refused=K" = N identifiers created exactly once (a 2xx), M created
# more than once, K creates refused with 422 (in the simulator a 422 on a create is
# "has already been taken": a duplicate the worker tried to make). With the log
# cleared before a section, "once=<parties> more=0 refused=0" says each party got one
# contact and the worker never tried to create one that existed. (The simulator does
# not log a request whose client died while it was delayed by latency_ms, though the
# write was applied: after a crash `once` may fall short by what was in flight.)
# creates_ok SUMMARY PARTIES [IN_FLIGHT]: more=0, refused=0 and PARTIES - IN_FLIGHT <= once <= PARTIES.
creates_ok() {
  local once more refused
  read -r once more refused <<<"$(sed -E 's/once=([0-9]+) more=([0-9]+) refused=([0-9]+)/\1 \2 \3/' <<<"$1")"
  [ -n "$once" ] && [ "$more" = 0 ] && [ "$refused" = 0 ] && [ "$once" -le "$2" ] && [ "$once" -ge $(( $2 - ${3:-0} )) ]
}
creates_summary() {
  jq -r --arg re "${2:-.}" '
    [ .[] | select(.method == "POST" and (.path | test("/api/v1/accounts/[0-9]+/contacts$")))
          | {id: ((.body | fromjson? | .identifier) // ""), status: .status}
          | select(.id | test($re)) ]
    | (map(select(.status >= 200 and .status < 300)) | group_by(.id) | map(length)) as $created
    | "once=\($created | map(select(. == 1)) | length) more=\($created | map(select(. > 1)) | length) refused=\(map(select(.status == 422)) | length)"' <<<"$1"
}
