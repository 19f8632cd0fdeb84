#!/usr/bin/env bash
# Stops what `make demo KEEP=1` left running.
DEMO_DIR=/tmp/chatwoot_sync_demo
if [ -f "$DEMO_DIR/simulator.pid" ]; then kill "$(cat "$DEMO_DIR/simulator.pid")" 2>/dev/null || true; fi
if [ -f "$DEMO_DIR/data/postmaster.pid" ]; then
  runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$DEMO_DIR/data" -m fast -w stop
fi
echo "demo stopped"
