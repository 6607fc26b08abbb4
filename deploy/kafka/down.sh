#!/usr/bin/env bash
# Stop the local Kafka started by deploy/kafka/up.sh (SIGTERM, wait, then SIGKILL).
# Idempotent: exits 0 when it is not running. Data in var/kafka/ is kept.
# Env: KAFKA_DOWN_TIMEOUT (s to wait after SIGTERM, default 30).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pid="$(running_pid)"
if [[ -z "$pid" && -f "$CONFIG_FILE" ]]; then
  # Pid file lost or stale: look for a broker started with this repo's exact config file.
  pid="$(pgrep -f -- "kafka\.Kafka $CONFIG_FILE\$" | head -n1 || true)"
fi
if [[ -z "$pid" ]]; then
  rm -f "$PID_FILE"
  log "not running"
  exit 0
fi

log "stopping (pid $pid)"
t0=$SECONDS
kill -TERM "$pid" 2>/dev/null || true
while pid_alive "$pid"; do
  if ((SECONDS - t0 >= KAFKA_DOWN_TIMEOUT)); then
    log "still running after ${KAFKA_DOWN_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
    break
  fi
  sleep 0.5
done
rm -f "$PID_FILE"
log "stopped after $((SECONDS - t0))s"
