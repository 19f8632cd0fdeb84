# Starts and stops the Chatwoot simulator for tests and the demo (sourced).
SIM_BIN="${SIM_BIN:-$PWD/build/cmake/simulator/chatwoot-sim}"
declare -a SIM_PIDS=()

# sim_start [ARG...]: starts a simulator with these extra arguments (for example
# `sim_start --proxy --rate-limit 60000/60`); with none, the words of $SIM_ARGS.
# Sets SIM_PORT, SIM_CONTROL_PORT, SIM_URL, SIM_CONTROL and SIM_PID.
sim_start() {
  local -a extra=()
  if [ $# -gt 0 ]; then
    extra=("$@")
  elif [ -n "${SIM_ARGS:-}" ]; then
    read -r -a extra <<<"$SIM_ARGS"
  fi
  SIM_PORT=$(free_port); SIM_CONTROL_PORT=$(free_port)
  while [ "$SIM_CONTROL_PORT" = "$SIM_PORT" ]; do SIM_CONTROL_PORT=$(free_port); done
  local log; log=$(mktemp)
  "$SIM_BIN" --port "$SIM_PORT" --control-port "$SIM_CONTROL_PORT" ${extra[@]+"${extra[@]}"} >"$log" 2>&1 &
  SIM_PID=$!
  SIM_PIDS+=("$SIM_PID")
  for _ in $(seq 1 100); do
    grep -q "chatwoot-sim ready" "$log" && break
    kill -0 "$SIM_PID" 2>/dev/null || break
    sleep 0.05
  done
  grep -q "chatwoot-sim ready" "$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
  rm -f "$log"
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

# sim_control METHOD PATH [JSON]: one control-API call. Succeeds only on a 2xx
# answer; otherwise prints the error body to stderr and fails with curl's code
# (22, as `curl -f` gives, when the simulator refused the request).
sim_control() {
  local method=$1 path=$2 body=${3:-} out code rc
  out=$(mktemp)
  if [ -n "$body" ]; then
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
      --data-binary "$body" "$SIM_CONTROL$path")
  else
    code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$SIM_CONTROL$path")
  fi
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "sim_control: $method $path failed (curl exit $rc)" >&2
    rm -f "$out"
    return "$rc"
  fi
  case "$code" in
    2??) rm -f "$out"; return 0 ;;
  esac
  echo "sim_control: $method $path refused with HTTP $code: $(cat "$out")" >&2
  rm -f "$out"
  return 22
}

sim_faults() { sim_control PUT /__sim/faults "$1"; }
sim_clear_faults() { sim_control POST /__sim/faults/clear; }
# sim_mode JSON: partial update of the modes (GET $SIM_CONTROL/__sim/mode shows them).
sim_mode() { sim_control PUT /__sim/mode "$1"; }
