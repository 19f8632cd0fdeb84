#!/usr/bin/env bash
# Stops what `make demo KEEP=1` left running.
DEMO_DIR=/tmp/chatwoot_sync_demo
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# By its recorded pid, and only while that pid is still our simulator (a stale file
# must not kill whatever process reused the number).
if [ -f "$DEMO_DIR/simulator.pid" ]; then
  pid=$(cat "$DEMO_DIR/simulator.pid")
  if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$ROOT/build/cmake/simulator/chatwoot-sim" ]; then
    kill "$pid" 2>/dev/null || true
  fi
fi
if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
  runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$DEMO_DIR/data" -m fast -w stop
fi
echo "demo stopped"
