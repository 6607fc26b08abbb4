#!/usr/bin/env bash
# `make run`: the stream job on the local Kafka with a demo feed, and the live boards in
# this terminal. Ctrl-C stops everything this script started (Kafka keeps running; `make
# down` stops it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="$root/.venv/bin"
logs="$root/var/run"
mkdir -p "$logs"

bash deploy/kafka/up.sh

export RANKSTREAM_BOARDS="${RANKSTREAM_BOARDS:-$root/examples/boards.toml}"


pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping worker and demo feed ..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "run: stopped (Kafka is still up; 'make down' stops it). Logs: $logs"
}
trap cleanup INT TERM EXIT

"$bin/rankstream" worker >"$logs/worker.log" 2>&1 &
pids+=($!)
echo "run: worker started (log: $logs/worker.log, boards: $RANKSTREAM_BOARDS)"
"$bin/rankstream" demo --rate "${DEMO_RATE:-50}" --invalid-every 200 --quiet >"$logs/demo.log" 2>&1 &
pids+=($!)
echo "run: demo feed started at ${DEMO_RATE:-50} events/s (log: $logs/demo.log)"
port="${RANKSTREAM_WEB_PORT:-6066}"
echo "run: live page: http://localhost:$port/  (query API: http://localhost:$port/boards)"
echo "run: live boards follow; Ctrl-C stops everything"
sleep 2
"$bin/rankstream" watch --from-beginning || true
