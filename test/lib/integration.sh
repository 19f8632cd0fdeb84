# Helpers for integration scenarios (sourced by test/integration/*.sh).
# Each scenario prints TAP-style lines, "ok - ..." or "not ok - ...", which
# test/run.sh counts, and cleans up every process it started.
set -uo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$ROOT"
source test/lib/cluster.sh
source test/lib/simulator.sh

IT_WORK=$(mktemp -d "${WORK:-/tmp}/it.XXXXXX")
chmod 755 "$IT_WORK"
IT_FAILED=0

it_cleanup() {
  sim_stop_all
  cluster_stop_all
}
trap it_cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; IT_FAILED=$((IT_FAILED + 1)); }

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check() {
  local description="$1"; shift
  if "$@"; then ok "$description"; else not_ok "$description"; fi
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

# it_cluster NAME [extra postgresql.conf lines...]: a fresh cluster; sets IT_PORT and IT_DIR.
it_cluster() {
  local name="$1"; shift
  IT_DIR="$IT_WORK/$name"
  IT_PORT=$(free_port)
  cluster_init "$IT_DIR" "$IT_PORT" "$@" && cluster_start "$IT_DIR"
}

# it_zattar NAME [extra postgresql.conf lines...]: a cluster serving `zattar` with the
# app's tables, the extension, the simulator and a connection to it (sets what
# it_cluster and sim_start set). Exits the script when any step fails.
it_zattar() {
  local name="$1"; shift
  it_cluster "$name" "chatwoot_sync.database_name = 'zattar'" "$@" || { not_ok "$name cluster starts"; exit 1; }
  sim_start || { not_ok "simulator starts"; exit 1; }
  q postgres "CREATE DATABASE zattar" >/dev/null
  psql -X -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d zattar -f test/fixtures/zattar_schema.sql >/dev/null
  q zattar "CREATE EXTENSION chatwoot_sync" >/dev/null || { not_ok "CREATE EXTENSION"; exit 1; }
  q zattar "SELECT chatwoot.configurar('$SIM_URL', 'sim-admin-token', 1, 1)" >/dev/null
}

# q DB SQL: one value, unaligned, no headers.
q() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -c "$2"; }
# qe DB SQL: runs SQL, prints stdout+stderr (for error checks).
qe() { psql -X -A -t -q -h 127.0.0.1 -p "$IT_PORT" -U postgres -d "$1" -c "$2" 2>&1; }
