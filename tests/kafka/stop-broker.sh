#!/usr/bin/env bash
# Stop the broker that start-broker.sh recorded in <state>/broker.pid, and only that process.
# Safe to run when nothing is running. env: KAFKA_STATE_DIR (same default as start-broker.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${KAFKA_STATE_DIR:-$(cd "$HERE/../.." && pwd)/target/kafka-broker}
[ -f "$STATE/broker.pid" ] || exit 0
PID=$(cat "$STATE/broker.pid")
kill "$PID" 2>/dev/null || true
# Give it 5 s to release the port, then force it: a restart on the same port needs it gone.
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -9 "$PID" 2>/dev/null || true
rm -f "$STATE/broker.pid"
