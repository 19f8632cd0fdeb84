#!/usr/bin/env bash
# Throughput of the Chatwoot simulator under wrk (10 s, 2 threads, 64 connections):
# a GET of an existing contact and GET /api/v1/profile.
# Usage: bench/simulator_wrk.sh [duration, default 10s]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD_DIR:-$ROOT/build}"
SIM="$BUILD/simulator/chatwoot-sim"
DURATION="${1:-10s}"
TOKEN="sim-admin-token"

command -v wrk >/dev/null || { echo "wrk not installed" >&2; exit 1; }
if [[ ! -x "$SIM" ]]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target chatwoot-sim -j"$(nproc)"
fi

OUT="$(mktemp)"
SIM_PID=""
cleanup() {
  if [[ -n "$SIM_PID" ]] && kill -0 "$SIM_PID" 2>/dev/null; then
    kill -TERM "$SIM_PID"
    wait "$SIM_PID" 2>/dev/null || true
  fi
  rm -f "$OUT"
}
trap cleanup EXIT INT TERM

# Port 0: the simulator picks free ports and reports them on its ready line.
"$SIM" --port 0 --control-port 0 >"$OUT" 2>&1 &
SIM_PID=$!
for _ in $(seq 100); do grep -q '^chatwoot-sim ready' "$OUT" && break; sleep 0.05; done
PORT="$(sed -n 's/^chatwoot-sim ready port=\([0-9]*\) .*/\1/p' "$OUT")"
[[ -n "$PORT" ]] || { echo "simulator did not start" >&2; cat "$OUT" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT"

CONTACT_ID="$(curl -sf -H "api_access_token: $TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"Cliente Benchmark","email":"bench@zattar.test","phone_number":"+5511999990000","inbox_id":1}' \
  "$BASE/api/v1/accounts/1/contacts" | grep -o '"id":[0-9]*' | head -1 | cut -d: -f2)"
[[ -n "$CONTACT_ID" ]] || { echo "could not create the benchmark contact" >&2; exit 1; }

echo "machine: $(nproc) cores, $(uname -srm); wrk -t2 -c64 -d$DURATION"
run() {
  local label="$1" url="$2"
  local result rps non2xx
  result="$(wrk -t2 -c64 -d"$DURATION" -H "api_access_token: $TOKEN" "$url")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$result")"
  non2xx="$(awk '/Non-2xx/ {print $NF}' <<<"$result")"
  printf '%-28s %12s req/s  (non-2xx: %s)\n' "$label" "$rps" "${non2xx:-0}"
}
run "GET contacts/$CONTACT_ID" "$BASE/api/v1/accounts/1/contacts/$CONTACT_ID"
run "GET /api/v1/profile" "$BASE/api/v1/profile"
