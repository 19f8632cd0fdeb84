# Starts and stops the Chatwoot simulator for tests and the demo (sourced).
SIM_BIN="${SIM_BIN:-$PWD/build/cmake/simulator/chatwoot-sim}"
declare -a SIM_PIDS=()

# sim_start: sets SIM_PORT, SIM_CONTROL_PORT, SIM_URL, SIM_CONTROL and SIM_PID.
sim_start() {
  SIM_PORT=$(free_port); SIM_CONTROL_PORT=$(free_port)
  while [ "$SIM_CONTROL_PORT" = "$SIM_PORT" ]; do SIM_CONTROL_PORT=$(free_port); done
  local log; log=$(mktemp)
  "$SIM_BIN" --port "$SIM_PORT" --control-port "$SIM_CONTROL_PORT" >"$log" 2>&1 &
  SIM_PID=$!
  SIM_PIDS+=("$SIM_PID")
  for _ in $(seq 1 100); do
    grep -q "chatwoot-sim ready" "$log" && break
    sleep 0.05
  done
  grep -q "chatwoot-sim ready" "$log" || { cat "$log" >&2; return 1; }
  SIM_URL="http://127.0.0.1:$SIM_PORT"
  SIM_CONTROL="http://127.0.0.1:$SIM_CONTROL_PORT"
  export SIM_PORT SIM_CONTROL_PORT SIM_URL SIM_CONTROL SIM_PID
}

sim_stop_all() {
  for p in "${SIM_PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
  done
  SIM_PIDS=()
}

sim_faults() { curl -sf -X PUT -H 'Content-Type: application/json' -d "$1" "$SIM_CONTROL/__sim/faults" >/dev/null; }
sim_clear_faults() { curl -sf -X POST "$SIM_CONTROL/__sim/faults/clear" >/dev/null; }
